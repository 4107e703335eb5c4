"""Keras' model subclassing: a `kir.models.Model` subclass with `call()` is built from its first
data (or `build(shape)`, or a call on a tensor) by tracing call() into a functional graph, and then
gives Keras 3's outputs on every backend, trains like Keras, saves without its class and refuses
what it cannot run, naming the model."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
import kir.backend as K  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.errors import ConfigError, KirError  # noqa: E402
from kir.layers import TraceError  # noqa: E402
from tests.tracing.test_vs_keras import assert_like_keras  # noqa: E402

ops = keras.ops
RNG = np.random.default_rng(12)


def f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype("float32")


class Net(kir.models.Model):
    """The head is assigned before the body, so Keras' weights order (tracking order) differs
    from the order of the calls."""

    def __init__(self, rate: float = 0.5):
        super().__init__()
        self.head = L.Dense(3)
        self.body = L.Dense(8, activation="tanh")
        self.norm = L.BatchNormalization()
        self.drop = L.Dropout(rate)

    def call(self, inputs, training=False):
        x = self.norm(self.body(inputs), training=training)
        x = self.drop(x, training=training)
        return self.head(K.relu(x) + 1.0) * 0.5


class KerasNet(keras.Model):
    def __init__(self, rate: float = 0.5):
        super().__init__()
        self.head = keras.layers.Dense(3)
        self.body = keras.layers.Dense(8, activation="tanh")
        self.norm = keras.layers.BatchNormalization()
        self.drop = keras.layers.Dropout(rate)

    def call(self, inputs, training=False):
        x = self.norm(self.body(inputs), training=training)
        x = self.drop(x, training=training)
        return self.head(ops.relu(x) + 1.0) * 0.5


def test_subclassed_model_matches_keras_on_every_backend(tmp_path):
    x = f(6, 5)
    ours, theirs = Net(), KerasNet()
    assert ours.name.split("_")[0] == "net"  # Keras names it after the class
    ours.predict(x)  # builds from the data, batch None
    theirs(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert [w.shape for w in ours.get_weights()][:2] == [(8, 3), (3,)]  # head first: Keras' tracking order
    ours.norm.set_weights([f(8), f(8), f(8), np.abs(f(8)) + 0.5])
    theirs.set_weights(ours.get_weights())
    assert ours.inputs[0].shape == (None, 5)
    assert_like_keras(ours, theirs, x, tmp_path)


def test_dropout_acts_in_training_only():
    from tests.tracing.util import run_tensorflow

    model = Net(rate=0.5)
    model.build((None, 5))
    x = f(64, 5)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    graph = model.to_graph()
    inference = run_tensorflow(graph, [x])[0]
    np.testing.assert_allclose(inference, model.predict(x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(run_tensorflow(graph, [x], training=True)[0], inference)


class Small(kir.models.Model):
    def __init__(self):
        super().__init__()
        self.d1 = L.Dense(4, activation="relu")
        self.d2 = L.Dense(2)

    def call(self, x):
        h = self.d1(x)
        self.add_loss(0.01 * K.sum(K.square(h)))  # the activity-regularization pattern of keras.io
        return self.d2(h)


class KerasSmall(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = keras.layers.Dense(4, activation="relu")
        self.d2 = keras.layers.Dense(2)

    def call(self, x):
        h = self.d1(x)
        self.add_loss(0.01 * ops.sum(ops.square(h)))
        return self.d2(h)


def test_sgd_steps_with_add_loss_in_call_match_keras():
    x, y = f(16, 3), f(16, 2)
    ours, theirs = Small(), KerasSmall()
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.05), loss="mse")  # before the build, as Keras
    ours.build((None, 3))
    theirs(x[:1])
    theirs.set_weights(ours.get_weights())
    assert len(ours.losses) == 1
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    h1 = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_fit_builds_an_unbuilt_model_and_list_and_dict_inputs_work():
    class Two(kir.models.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = L.Dense(2), L.Dense(2)

        def call(self, inputs):
            left, right = inputs
            return [self.a(left) - self.b(right), K.concatenate([left, right])]

    class Keyed(kir.models.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(1)

        def call(self, inputs):
            return self.d(inputs["img"]) * inputs["w"]

    x1, x2 = f(8, 3), f(8, 2)
    two = Two()
    two.compile(optimizer="sgd", loss=["mse", "mse"])
    two.fit([x1, x2], [f(8, 2), f(8, 5)], epochs=1, verbose=0)
    a, b = two.predict([x1, x2])
    np.testing.assert_allclose(a, x1 @ two.a.get_weights()[0] + two.a.get_weights()[1]
                               - x2 @ two.b.get_weights()[0] - two.b.get_weights()[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(b, np.concatenate([x1, x2], axis=1))
    keyed = Keyed()
    xs = {"img": f(5, 4), "w": f(5, 1)}
    out = keyed.predict(xs)
    assert keyed.input_names == ["img", "w"]
    w, bias = keyed.d.get_weights()
    np.testing.assert_allclose(out, (xs["img"] @ w + bias) * xs["w"], rtol=1e-5, atol=1e-6)


def test_saved_model_loads_as_its_traced_graph_without_the_class(tmp_path):
    x = f(4, 5)
    model = Net()
    model(kir.Input((5,)))  # a call on a tensor builds it too
    want = model.predict(x)
    path = tmp_path / "net.kir"
    model.save(str(path))
    with zipfile.ZipFile(path) as zf:
        text = zf.read("model.json").decode()
    assert "Net" not in json.loads(text)["model"]["class_name"]
    loaded = kir.models.load_model(str(path))
    assert type(loaded) is kir.models.Model
    np.testing.assert_allclose(loaded.predict(x), want, rtol=1e-6)
    assert sorted(w.shape for w in loaded.get_weights()) == sorted(w.shape for w in model.get_weights())


def test_custom_train_step_is_refused_naming_the_model():
    class Custom(Small):
        def train_step(self, data):
            return {}

    model = Custom()
    with pytest.raises(ConfigError, match=r"model 'custom(_\d+)?' \(Custom\) overrides train_step\(\).*not support"):
        model.compile(optimizer="sgd", loss="mse")


def test_untraceable_call_is_a_trace_error_naming_the_model_and_the_op():
    class Branchy(kir.models.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x) if K.sum(x) > 0 else x

    class Numpy(kir.models.Model):
        def call(self, x):
            return np.exp(x)

    branchy = Branchy()
    with pytest.raises(TraceError, match=r"model 'branchy(_\d+)?' \(Branchy\), building from its call.*Python bool"):
        branchy.predict(f(2, 3))
    assert branchy.d._inbound_nodes == []  # the failed build left the sub-layer as it was
    with pytest.raises(TraceError, match=r"model 'numpy(_\d+)?' \(Numpy\).*numpy's exp"):
        Numpy().build((None, 3))
    with pytest.raises(KirError):
        Numpy().predict(f(2, 3))


def test_unbuilt_model_says_how_to_build_it_and_summary_lists_the_sublayers(capsys):
    from kir.errors import GraphError

    model = Net()
    with pytest.raises(GraphError, match=r"model 'net(_\d+)?' \(Net\) is not built yet; call model.build"):
        model.to_graph()
    model.build((None, 5))
    model.summary()
    printed = capsys.readouterr().out
    for layer in (model.head, model.body, model.norm, model.drop):
        assert layer.name in printed
    assert model.count_params() == 5 * 8 + 8 + 4 * 8 + 8 * 3 + 3
