"""A Python `if training:` in a traced call() follows the mode, as in Keras: the inference branch
in predict/evaluate/ONNX, the training branch in fit (one trace per mode, joined by ByMode)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")

import kir  # noqa: E402
import kir.backend as K  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.backends.onnx.export import optimized_graph, to_onnx  # noqa: E402
from kir.errors import ShapeError  # noqa: E402
from kir.layers.symbolic import TraceError  # noqa: E402
from tests.tracing.util import op_graph, run_numpy, run_onnx, run_tensorflow  # noqa: E402


class HalfInTraining(L.Layer):
    """x * 0.5 only while training (keras.io's 'only in training' pattern)."""

    def call(self, x, training=False):
        if training:
            x = x * 0.5
        return x


class KerasHalf(keras.layers.Layer):
    def call(self, x, training=False):
        if training:
            x = x * 0.5
        return x


class Plain(L.Layer):
    """Takes `training` but does not branch on it: one trace, as before."""

    def call(self, x, training=False):
        return x * 2.0


def _pair(kir_layer: L.Layer, keras_layer: keras.layers.Layer) -> tuple[kir.Model, keras.Model]:
    x = L.Input((4,))
    ours = kir.Model(x, L.Dense(2, name="head")(kir_layer(L.Dense(3, name="body")(x))))
    kx = keras.Input((4,))
    theirs = keras.Model(kx, keras.layers.Dense(2, name="head")(keras_layer(keras.layers.Dense(3, name="body")(kx))))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")


def test_training_branch_predicts_inference_and_fits_training_like_keras():
    ours, theirs = _pair(HalfInTraining(), KerasHalf())
    x, y = _data()
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    h1 = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-4)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


def test_the_graph_holds_both_branches_and_onnx_only_the_inference_one():
    ours, _ = _pair(HalfInTraining(), KerasHalf())
    counts = ours.to_graph().op_counts(recursive=True)
    assert counts["ByMode"] == 1 and counts["Binary"] == 1  # the training branch's x * 0.5
    x, _ = _data()
    graph, _ = optimized_graph(ours.to_graph(), "O2")
    assert "ByMode" not in graph.op_counts(recursive=True) and "Binary" not in graph.op_counts(recursive=True)
    for level in ("O0", "O2"):
        proto = to_onnx(ours, optimize=level)
        ops = [n.op_type for n in proto.graph.node]
        assert ops == ["Gemm", "Gemm"], ops  # no node of the training branch's x * 0.5
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        np.testing.assert_allclose(got, ours.predict(x, verbose=0), atol=1e-5)


def test_a_call_that_takes_training_without_branching_traces_once():
    x = L.Input((4,))
    counts = kir.Model(x, Plain()(x)).to_graph().op_counts(recursive=True)
    assert "ByMode" not in counts and counts["Binary"] == 1 and counts["Constant"] == 1


def test_the_mode_reaches_a_traced_layer_called_inside_another():
    class Outer(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = HalfInTraining()

        def call(self, x):  # no `training` here: Keras still propagates the mode to inner
            return self.inner(x) + 1.0

    x = L.Input((4,))
    counts = kir.Model(x, Outer()(x)).to_graph().op_counts(recursive=True)
    assert counts["ByMode"] == 1


def test_an_explicit_training_at_call_time_stays_fixed():
    x = L.Input((4,))
    counts = kir.Model(x, HalfInTraining()(x, training=True)).to_graph().op_counts(recursive=True)
    assert "ByMode" not in counts and counts["Binary"] == 1
    data = np.ones((2, 4), "float32")
    np.testing.assert_allclose(kir.Model(x, HalfInTraining()(x, training=True)).predict(data, verbose=0), 0.5 * data)


def test_kir_file_keeps_both_branches(tmp_path):
    ours, _ = _pair(HalfInTraining(), KerasHalf())
    x, y = _data()
    path = str(tmp_path / "m.kir")
    ours.save(path)
    loaded = kir.load_model(path)
    assert loaded.to_graph().op_counts(recursive=True)["ByMode"] == 1
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-6)
    for model in (ours, loaded):
        model.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse")
    h1 = ours.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)


def test_branches_returning_different_structures_are_refused():
    class Two(L.Layer):
        def call(self, x, training=False):
            return [x, x * 2.0] if training else x

    with pytest.raises(TraceError, match=r"layer 'two'.*1 value\(s\) with training=False but 2"):
        Two(name="two")(L.Input((4,)))


class HalfModel(kir.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.body, self.head = L.Dense(3, name="body"), L.Dense(2, name="head")

    def call(self, x, training=False):
        x = self.body(x)
        if training:
            x = x * 0.5
        return self.head(x)


class KerasHalfModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.body, self.head = keras.layers.Dense(3, name="body"), keras.layers.Dense(2, name="head")

    def call(self, x, training=False):
        x = self.body(x)
        if training:
            x = x * 0.5
        return self.head(x)


def test_a_subclassed_models_training_branch_follows_keras():
    x, y = _data()
    ours, theirs = HalfModel(), KerasHalfModel()
    ours.build((None, 4))
    theirs(x[:1])
    theirs.set_weights(ours.get_weights())
    assert ours.to_graph().op_counts(recursive=True)["ByMode"] == 1
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    h1 = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-4)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-4)
    assert [w.shape for w in ours.get_weights()] == [(4, 3), (3,), (3, 2), (2,)]


def test_a_subclassed_models_branches_survive_a_kir_file(tmp_path):
    x, _ = _data()
    ours = HalfModel()
    ours.build((None, 4))
    ours.save(str(tmp_path / "m.kir"))
    loaded = kir.load_model(str(tmp_path / "m.kir"))
    assert loaded.to_graph().op_counts(recursive=True)["ByMode"] == 1
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-6)


def test_a_subclassed_model_without_a_training_branch_builds_one_graph():
    class Plain2(kir.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.body, self.drop = L.Dense(3), L.Dropout(0.5)

        def call(self, x, training=False):
            return self.drop(self.body(x) + 1.0, training=training)

    model = Plain2()
    model.build((None, 4))
    counts = model.to_graph().op_counts(recursive=True)
    assert "ByMode" not in counts and counts["Dense"] == 1 and counts["Dropout"] == 1
    assert len(model.body._inbound_nodes) == 1


def test_a_subclassed_model_adding_losses_in_a_training_branch_is_refused():
    class Lossy(HalfModel):
        def call(self, x, training=False):
            y = super().call(x, training=training)
            self.add_loss(K.mean(y))
            return y

    with pytest.raises(TraceError, match=r"model 'lossy'.*add_loss"):
        Lossy(name="lossy").build((None, 4))


def test_by_mode_picks_per_backend_and_mode():
    a, b = np.ones((2, 3), "float32"), np.full((2, 3), 2.0, "float32")
    graph = op_graph("ByMode", {}, [a, b])
    for got in (run_numpy(graph, [a, b])[0], run_onnx(graph, [a, b])[0], run_tensorflow(graph, [a, b])[0]):
        np.testing.assert_array_equal(got, a)
    np.testing.assert_array_equal(run_tensorflow(graph, [a, b], training=True)[0], b)


def test_branches_of_different_shapes_are_refused_naming_the_layer():
    class Grow(L.Layer):
        def call(self, x, training=False):
            return K.concatenate([x, x]) if training else x

    with pytest.raises(ShapeError, match=r"layer 'grow'.*ByMode .*\(None, 4\).*\(None, 8\)"):
        Grow(name="grow")(L.Input((4,)))
