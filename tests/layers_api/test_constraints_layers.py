"""Constraints on ConvLSTM1D/2D/3D, MultiHeadAttention (its four projections) and PReLU against
Keras 3: three SGD steps from the same weights give Keras' projected weights; configs, `.kir` and
`.keras` files keep the constraints. Weights start random (so `non_neg` really clips)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import constraints as C  # noqa: E402
from kir.errors import ConfigError  # noqa: E402


def _conv_lstm(lib, rank):
    L, K = lib.layers, lib.constraints
    step = {1: (5, 2), 2: (4, 4, 2), 3: (3, 3, 3, 1)}[rank]
    cls = {1: L.ConvLSTM1D, 2: L.ConvLSTM2D, 3: L.ConvLSTM3D}[rank]
    inp = lib.Input((3, *step))
    x = cls(2, 2, padding="same", kernel_constraint=K.MaxNorm(0.4, axis=list(range(rank + 1))),
            recurrent_constraint="non_neg", bias_constraint=K.MinMaxNorm(0.2, 0.5, rate=0.5), name="clstm")(inp)
    return lib.Model(inp, L.Dense(1, name="head")(L.Flatten()(x)))


def _mha(lib):
    L, K = lib.layers, lib.constraints
    q, v = lib.Input((4, 6)), lib.Input((5, 3))
    mha = L.MultiHeadAttention(2, 3, value_dim=2, kernel_constraint=K.MaxNorm(0.5), bias_constraint="non_neg",
                               kernel_regularizer=lib.regularizers.L2(0.01), name="mha")
    return lib.Model([q, v], L.Dense(1, name="head")(L.Flatten()(mha(q, v))))


def _prelu(lib):
    L, K = lib.layers, lib.constraints
    inp = lib.Input((4, 4, 3))
    x = L.PReLU(alpha_constraint="non_neg", shared_axes=[1, 2], name="pr")(L.Conv2D(3, 2, name="conv")(inp))
    x = L.PReLU(alpha_constraint=K.MinMaxNorm(0.3, 0.6, axis=0), name="pr_flat")(L.Flatten()(x))
    return lib.Model(inp, L.Dense(1, name="head")(x))


MODELS = {"conv_lstm1d": lambda lib: _conv_lstm(lib, 1), "conv_lstm2d": lambda lib: _conv_lstm(lib, 2),
          "conv_lstm3d": lambda lib: _conv_lstm(lib, 3), "mha": _mha, "prelu": _prelu}
CONSTRAINED = {"conv_lstm1d": ["clstm/kernel", "clstm/recurrent_kernel", "clstm/bias"],
               "conv_lstm2d": ["clstm/kernel", "clstm/recurrent_kernel", "clstm/bias"],
               "conv_lstm3d": ["clstm/kernel", "clstm/recurrent_kernel", "clstm/bias"],
               "mha": [f"mha/{p}/{w}" for p in ("query", "key", "value", "attention_output")
                       for w in ("kernel", "bias")],
               "prelu": ["pr/alpha", "pr_flat/alpha"]}


def _data(model, rng, n=12):
    xs = [rng.normal(size=(n, *t.shape[1:])).astype("float32") for t in model.inputs]
    return xs if len(xs) > 1 else xs[0], rng.normal(size=(n, 1)).astype("float32")


@pytest.mark.parametrize("case", list(MODELS))
def test_three_sgd_steps_match_keras(case):
    rng = np.random.default_rng(3)
    ours, theirs = MODELS[case](kir), MODELS[case](keras)
    ours.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in ours.get_weights()])
    theirs.set_weights(ours.get_weights())
    _, extra = ours.training_graph()
    assert [key for key, _ in extra.constraints] == CONSTRAINED[case]
    x, y = _data(ours, rng)
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse", jit_compile=False)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    h1 = ours.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history  # 3 SGD steps
    h2 = theirs.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    if case == "prelu":  # the projections really ran
        assert (ours.get_layer("pr").get_weight("alpha") >= 0).all()
        np.testing.assert_allclose(np.linalg.norm(ours.get_layer("pr_flat").get_weight("alpha")), 0.6, rtol=1e-5)
    elif case == "mha":
        for part in ("query", "key", "value", "attention_output"):
            assert (ours.get_layer("mha").get_weight(f"{part}/bias") >= 0).all()
    else:
        assert (ours.get_layer("clstm").get_weight("recurrent_kernel") >= 0).all()


@pytest.mark.parametrize("case", ["conv_lstm2d", "mha", "prelu"])
def test_constraints_survive_config_kir_and_keras_files(case, tmp_path):
    model = MODELS[case](kir)
    layer = model.layers[2] if case == "mha" else model.get_layer("pr_flat" if case == "prelu" else "clstm")
    keys = [k for k in layer.get_config() if k.endswith("_constraint")]
    assert keys == {"mha": ["kernel_constraint", "bias_constraint"], "prelu": ["alpha_constraint"]}.get(
        case, ["kernel_constraint", "recurrent_constraint", "bias_constraint"])
    clone = type(layer).from_config(layer.get_config())
    assert [repr(getattr(clone, k)) for k in keys] == [repr(getattr(layer, k)) for k in keys]
    for name in ("c.kir", "c.keras"):
        model.save(tmp_path / name)
        loaded = kir.models.load_model(tmp_path / name)
        for a, b in zip(loaded.layers, model.layers):
            for key in keys:
                assert repr(getattr(a, key, None)) == repr(getattr(b, key, None)), (name, a.name, key)
        _, extra = loaded.training_graph()
        assert [key for key, _ in extra.constraints] == CONSTRAINED[case]
    theirs = keras.models.load_model(tmp_path / "c.keras")  # Keras reads them from kir's file
    klayer = theirs.get_layer(layer.name)
    if case == "mha":
        assert isinstance(klayer._kernel_constraint, keras.constraints.MaxNorm)
        assert isinstance(klayer._query_dense.kernel.constraint, keras.constraints.MaxNorm)
        assert isinstance(klayer._output_dense.bias.constraint, keras.constraints.NonNeg)
    elif case == "prelu":
        assert klayer.alpha_constraint.get_config() == {"min_value": 0.3, "max_value": 0.6, "rate": 1.0, "axis": 0}
    else:
        assert klayer.cell.kernel_constraint.axis == [0, 1, 2]
        assert isinstance(klayer.cell.recurrent_constraint, keras.constraints.NonNeg)
    MODELS[case](keras).save(tmp_path / "k.keras")  # and kir reads Keras' own file
    _, extra = kir.models.load_model(tmp_path / "k.keras").training_graph()
    assert [key for key, _ in extra.constraints] == CONSTRAINED[case]


def test_bad_constraints_name_the_layer_and_argument():
    with pytest.raises(ConfigError, match="ConvLSTM2D 'cl'.*recurrent_constraint.*unknown constraint 'nonneg'"):
        kir.layers.ConvLSTM2D(2, 3, recurrent_constraint="nonneg", name="cl")
    with pytest.raises(ConfigError, match="MultiHeadAttention 'att'.*bias_constraint.*could not interpret"):
        kir.layers.MultiHeadAttention(2, 3, bias_constraint=1.5, name="att")
    with pytest.raises(ConfigError, match="PReLU 'p'.*alpha_constraint.*unknown constraint 'l2'"):
        kir.layers.PReLU(alpha_constraint="l2", name="p")
    assert isinstance(kir.layers.PReLU("zeros", None, "non_neg").alpha_constraint, C.NonNeg)  # Keras' order
