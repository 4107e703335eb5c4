"""kir.constraints and the *_constraint layer arguments against Keras 3: projected values, short SGD
fits from the same weights whose trained (projected) weights match Keras', configs and files."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import constraints as C  # noqa: E402
from kir.errors import ConfigError  # noqa: E402

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("ours,theirs", [
    (C.MaxNorm(), keras.constraints.MaxNorm()), (C.max_norm(0.5, axis=[0, 1]), keras.constraints.max_norm(0.5, [0, 1])),
    (C.NonNeg(), keras.constraints.NonNeg()), (C.get("unit_norm"), keras.constraints.get("unit_norm")),
    (C.UnitNorm(axis=1), keras.constraints.UnitNorm(axis=1)),
    (C.MinMaxNorm(0.5, 0.8, rate=0.7, axis=1), keras.constraints.MinMaxNorm(0.5, 0.8, rate=0.7, axis=1)),
    (C.get({"class_name": "MinMaxNorm", "config": {"min_value": 1.0, "max_value": 2.0}}),
     keras.constraints.MinMaxNorm(1.0, 2.0)),
])
def test_projections_and_configs_match_keras(ours, theirs):
    w = RNG.normal(size=(3, 4, 5)).astype("float32")
    np.testing.assert_allclose(ours(w), np.asarray(theirs(w)), rtol=1e-6, atol=1e-7)
    assert ours.get_config() == theirs.get_config() and type(ours).__name__ == type(theirs).__name__


def test_lookup_and_errors():
    assert C.get(None) is None and isinstance(C.get(C.NonNeg), C.NonNeg)
    assert C.serialize(C.MaxNorm(3)) == {"class_name": "MaxNorm", "config": {"max_value": 3, "axis": 0}}
    assert C.deserialize(keras.constraints.serialize(keras.constraints.UnitNorm(axis=2))).axis == 2
    with pytest.raises(ConfigError, match="unknown constraint 'max_nrom'"):
        C.get("max_nrom")
    with pytest.raises(ConfigError, match="Dense 'dense_c'.*kernel_constraint.*unknown constraint 'non_negative'"):
        kir.layers.Dense(2, kernel_constraint="non_negative", name="dense_c")
    with pytest.raises(ConfigError, match="Conv2D 'conv_c'.*bias_constraint.*could not interpret constraint"):
        kir.layers.Conv2D(2, 3, bias_constraint=3, name="conv_c")
    with pytest.raises(ConfigError, match="axis must be an int"):
        C.MaxNorm(axis="rows")
    with pytest.raises(ConfigError, match="layer 'bad': add_weight constraint: unknown constraint 'l2'"):
        kir.layers.Layer(name="bad").add_weight("v", (2,), constraint="l2")


def _model(lib):
    L, K = lib.layers, lib.constraints
    inp = lib.Input((6, 6, 2))
    x = L.Conv2D(3, 3, kernel_constraint=K.MaxNorm(0.3, axis=[0, 1, 2]), bias_constraint="non_neg")(inp)
    x = L.BatchNormalization(gamma_constraint=K.MinMaxNorm(0.5, 0.9, rate=0.5), beta_constraint="non_neg")(x)
    x = L.Flatten()(x)
    x = L.Dense(4, activation="tanh", kernel_constraint="unit_norm", bias_constraint=K.MaxNorm(0.1))(x)
    out = L.Dense(1, kernel_constraint=K.min_max_norm(0.2, 0.6, axis=0))(x)
    return lib.Model(inp, out)


def test_dense_conv_constraints_train_like_keras():
    ours, theirs = _model(kir), _model(keras)
    theirs.set_weights(ours.get_weights())
    x = RNG.normal(size=(24, 6, 6, 2)).astype("float32")
    y = RNG.normal(size=(24, 1)).astype("float32")
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse", jit_compile=False)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    h1 = ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history  # 3 SGD steps
    h2 = theirs.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    kernel = ours.layers[-2].get_weight("kernel")  # the projection really ran: unit columns
    np.testing.assert_allclose(np.linalg.norm(kernel, axis=0), 1.0, atol=1e-5)
    assert (ours.layers[1].get_weight("bias") >= 0).all()


def test_add_weight_constraint_applies_to_trainable_weights_only():
    class Scale(kir.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones", constraint="non_neg")
            self.f = self.add_weight(name="f", shape=(input_shape[-1],), initializer="ones",
                                     constraint="non_neg", trainable=False)

        def call(self, x):
            return x * self.w * self.f

    inp = kir.Input((3,))
    model = kir.Model(inp, kir.layers.Dense(1)(Scale(name="scale")(inp)))
    _, extra = model.training_graph()
    assert [key for key, _ in extra.constraints] == ["scale/w"] and not extra
    assert isinstance(model.layers[1]._weight_constraints["w"], C.NonNeg)


def test_constraints_in_config_kir_and_keras_files(tmp_path):
    model = _model(kir)
    conv, dense = model.layers[1], model.layers[-2]
    assert conv.get_config()["kernel_constraint"] == {"class_name": "MaxNorm",
                                                      "config": {"max_value": 0.3, "axis": [0, 1, 2]}}
    assert dense.get_config()["kernel_constraint"] == "unit_norm"
    for name in ("c.kir", "c.keras"):
        model.save(tmp_path / name)
        loaded = kir.models.load_model(tmp_path / name)
        for a, b in zip(loaded.layers, model.layers):
            for key in ("kernel_constraint", "bias_constraint", "gamma_constraint", "beta_constraint"):
                assert repr(getattr(a, key, None)) == repr(getattr(b, key, None)), (name, a.name, key)
        _, extra = loaded.training_graph()
        assert len(extra.constraints) == 7
    theirs = keras.models.load_model(tmp_path / "c.keras")  # Keras reads kir's file with the constraints
    assert isinstance(theirs.layers[1].kernel_constraint, keras.constraints.MaxNorm)
    assert theirs.layers[1].kernel_constraint.axis == [0, 1, 2]
    assert isinstance(theirs.layers[-2].kernel_constraint, keras.constraints.UnitNorm)


def test_rnn_embedding_and_layer_norm_constraints_reach_training():
    inp = kir.Input((4,), dtype="int32")
    x = kir.layers.Embedding(10, 3, embeddings_constraint="unit_norm", name="emb")(inp)
    x = kir.layers.LayerNormalization(gamma_constraint="non_neg", name="ln")(x)
    x = kir.layers.SimpleRNN(2, recurrent_constraint="max_norm", return_sequences=True, name="rnn")(x)
    x = kir.layers.GRU(2, kernel_constraint="non_neg", return_sequences=True, name="gru")(x)
    x = kir.layers.LSTM(2, bias_constraint="non_neg", recurrent_constraint="unit_norm", name="lstm")(x)
    _, extra = kir.Model(inp, x).training_graph()
    assert [key for key, _ in extra.constraints] == ["emb/embeddings", "ln/gamma", "rnn/recurrent_kernel",
                                                     "gru/kernel", "lstm/recurrent_kernel", "lstm/bias"]
    assert kir.layers.LSTM.from_config(kir.Model(inp, x).layers[-1].get_config()).recurrent_constraint.axis == 0


def test_depthwise_and_separable_constraints_reach_training():
    inp = kir.Input((5, 5, 2))
    x = kir.layers.DepthwiseConv2D(3, depthwise_constraint="non_neg", bias_constraint="max_norm", name="dw")(inp)
    x = kir.layers.SeparableConv2D(2, 2, depthwise_constraint="non_neg", pointwise_constraint="unit_norm",
                                   bias_constraint="non_neg", name="sep")(x)
    _, extra = kir.Model(inp, x).training_graph()
    assert [key for key, _ in extra.constraints] == ["dw/kernel", "dw/bias", "sep/depthwise_kernel",
                                                     "sep/pointwise_kernel", "sep/bias"]
