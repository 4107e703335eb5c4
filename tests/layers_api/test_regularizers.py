"""kir.regularizers and the *_regularizer layer arguments against Keras: penalty values, and short SGD
fits from the same weights whose losses (penalties included) and trained weights match Keras'."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import regularizers as R  # noqa: E402
from kir.errors import ConfigError  # noqa: E402

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("ours,theirs", [
    (R.L1(), keras.regularizers.L1()), (R.l2(0.3), keras.regularizers.l2(0.3)),
    (R.L1L2(l1=0.01, l2=0.02), keras.regularizers.L1L2(l1=0.01, l2=0.02)), (R.l1_l2(), keras.regularizers.l1_l2()),
    (R.get("l1"), keras.regularizers.get("l1")), (R.get("L2"), keras.regularizers.get("L2")),
    (R.get("l1l2"), keras.regularizers.get("l1l2")), (R.get("l1_l2"), keras.regularizers.L1L2()),
    (R.get({"class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.25}}), keras.regularizers.L1L2(0.5, 0.25)),
])
def test_penalties_and_configs_match_keras(ours, theirs):
    x = RNG.normal(size=(5, 7)).astype("float32")
    assert float(ours(x)) == pytest.approx(float(theirs(x)), rel=1e-6)
    theirs_config = theirs.get_config()  # Keras' L1 keeps l1 as a float32 tensor: 0.009999999776
    assert ours.get_config() == pytest.approx(theirs_config, rel=1e-7)
    assert type(ours).__name__ == type(theirs).__name__


def test_lookup_and_errors():
    assert R.get(None) is None and isinstance(R.get(R.L2), R.L2)
    assert R.serialize(R.l2(0.5)) == {"class_name": "L2", "config": {"l2": 0.5}}
    assert R.deserialize(keras.regularizers.serialize(keras.regularizers.L1(0.2))).l1 == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="unknown regularizer 'l3'"):
        R.get("l3")
    with pytest.raises(ConfigError, match="non-negative float"):
        R.L2(-1.0)
    with pytest.raises(ConfigError, match="Dense 'dense_r'.*kernel_regularizer.*unknown regularizer"):
        kir.layers.Dense(2, kernel_regularizer="l4", name="dense_r")


def _model(lib, rnn=False):
    L, reg = lib.layers, lib.regularizers
    if rnn:
        inp = lib.Input((5, 3))
        x = L.SimpleRNN(4, kernel_regularizer=reg.l2(0.01), recurrent_regularizer=reg.l1(0.02),
                        bias_regularizer=reg.l2(0.5), return_sequences=True)(inp)
        x = L.GRU(3, kernel_regularizer=reg.l1_l2(0.01, 0.01), recurrent_regularizer="l2",
                  bias_regularizer="l1", activity_regularizer=reg.l2(0.05), return_sequences=True)(x)
        x = L.LSTM(2, recurrent_regularizer=reg.L1L2(l2=0.1), bias_regularizer=reg.l2(0.2),
                   activity_regularizer="l1")(x)
        out = L.Dense(1, kernel_regularizer="l2")(x)
        return lib.Model(inp, out)
    inp = lib.Input((6,), dtype="int32")
    x = L.Embedding(20, 4, embeddings_regularizer=reg.l2(0.05), activity_regularizer=reg.l1(0.001))(inp)
    x = L.Conv1D(3, 2, activation="relu", kernel_regularizer=reg.l1(0.01), bias_regularizer=reg.l2(0.1),
                 activity_regularizer=reg.l2(0.01))(x)
    x = L.Flatten()(x)
    x = L.Dense(4, activation="tanh", kernel_regularizer=reg.l1_l2(l1=0.01, l2=0.02),
                bias_regularizer="l2", activity_regularizer=reg.L1(0.05))(x)
    out = L.Dense(1, kernel_regularizer="l1")(x)
    return lib.Model(inp, out)


def _fit_both(rnn):
    ours, theirs = _model(kir, rnn), _model(keras, rnn)
    theirs.set_weights(ours.get_weights())
    n = 24
    x = RNG.normal(size=(n, 5, 3)).astype("float32") if rnn else RNG.integers(0, 20, (n, 6))
    y = RNG.normal(size=(n, 1)).astype("float32")
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.05), loss="mse", jit_compile=False)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    h1 = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    return ours, theirs, x, y


def test_dense_conv_embedding_regularizers_train_like_keras():
    ours, theirs, x, y = _fit_both(rnn=False)
    plain = kir.models.Model(ours.inputs, ours.outputs)  # the same layers, without the penalties in the loss...
    assert ours.evaluate(x, y, verbose=0) > float(np.mean((plain.predict(x) - y) ** 2))
    # ...and a frozen layer's weights are not penalized (Keras counts trainable weights only)
    for model in (ours, theirs):
        model.layers[-2].trainable = False
    ours.compile(optimizer="sgd", loss="mse", jit_compile=False)
    theirs.compile(optimizer="sgd", loss="mse")
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)


@pytest.mark.slow
def test_rnn_regularizers_train_like_keras():
    _fit_both(rnn=True)


def test_regularizers_in_config_and_saved_model(tmp_path):
    model = _model(kir)
    dense = model.layers[-2]
    assert dense.get_config()["kernel_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.02}}
    assert dense.get_config()["bias_regularizer"] == "l2"
    path = tmp_path / "reg.kir"
    model.save(path)
    loaded = kir.models.load_model(path)
    for a, b in zip(loaded.layers, model.layers):
        assert a.get_config() == b.get_config()
    assert isinstance(loaded.layers[-2].activity_regularizer, R.L1)
    _, extra = loaded.training_graph()
    assert len(extra.weights) == 6 and len(extra.activity) == 3


def test_weight_and_activity_regularizers_reach_nested_models():
    inner = kir.Sequential([kir.Input((3,)), kir.layers.Dense(2, kernel_regularizer="l2")], name="inner")
    inp = kir.Input((3,))
    model = kir.Model(inp, kir.layers.Dense(1)(inner(inp)))
    _, extra = model.training_graph()
    assert [key for key, _ in extra.weights] == [f"{inner.layers[0].name}/kernel"]
    inner.layers[0].trainable = False  # frozen: no penalty, as Keras
    assert model.training_graph()[1].weights == ()
    nested = kir.Sequential([kir.Input((3,)), kir.layers.Dense(2, activity_regularizer="l1", name="act")])
    inp = kir.Input((3,))
    outer = kir.Model(inp, nested(inp))
    graph, extra = outer.training_graph()  # collected as Keras does (tests/tracing/test_add_loss_nested.py)
    assert [graph.spec(graph.outputs[i]).shape for i, _ in extra.activity] == [(None, 2)]


def _scaled(lib, frozen=False):
    class Scale(lib.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones", regularizer="l2")
            self.f = self.add_weight(name="f", shape=(input_shape[-1],), initializer="ones",
                                     regularizer=lib.regularizers.l1(0.5), trainable=False)

        def call(self, x):
            return x * self.w * self.f

    inp = lib.Input((3,))
    return lib.Model(inp, lib.layers.Dense(1)(Scale()(inp)))


def test_add_weight_regularizer_trains_like_keras():
    ours, theirs = _scaled(kir), _scaled(keras)
    rng = np.random.default_rng(5)
    ours.set_weights([rng.normal(size=w.shape).astype("float32") for w in ours.get_weights()])
    theirs.set_weights(ours.get_weights())
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    w = ours.layers[1].get_weight("w")
    plain = float(np.mean((ours.predict(x, verbose=0) - y) ** 2))
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse", jit_compile=False)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    # only the trainable weight is penalized (l2 default 0.01), as Keras
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(plain + 0.01 * float(np.sum(w ** 2)), rel=1e-5)
    h1 = ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert isinstance(ours.layers[1]._weight_regularizers["w"], R.L2)
    with pytest.raises(ConfigError, match="add_weight regularizer: unknown regularizer 'l3'"):
        kir.layers.Layer(name="bad").add_weight("v", (2,), regularizer="l3")
