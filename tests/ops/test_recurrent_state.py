"""Recurrent `initial_state=` and `return_state=True` on the numpy, TensorFlow and ONNX backends,
with Keras 3 as the oracle (weights copied layer by layer, by name): SimpleRNN, GRU (reset_after
True and False) and LSTM, go_backwards and return_sequences, Bidirectional, and the seq2seq
encoder/decoder pattern (predict, a short fit on TensorFlow, the .kir round trip)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("onnxruntime")
pytest.importorskip("tensorflow")

from kir import layers as L  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402
from kir.ir.ops import infer  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from kir.models import Model, load_model  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

BATCH, STEPS, FEATURES, UNITS = 3, 4, 5, 6
BACKENDS = ["numpy", "tensorflow", "onnx"]
CELLS = [
    ("SimpleRNN", {}),
    ("GRU", {"reset_after": True}),
    ("GRU", {"reset_after": False}),
    ("LSTM", {}),
]
CELL_IDS = ["SimpleRNN", "GRU-reset_after", "GRU-reset_before", "LSTM"]
MODES = [
    {},
    {"return_sequences": True},
    {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True},
]
MODE_IDS = ["last", "sequences", "backwards", "backwards-sequences"]


def n_states(op: str) -> int:
    return 2 if op == "LSTM" else 1


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)


def randomize(model: Model, seed: int = 1) -> None:
    """Non-zero weights everywhere (biases included, so every bias path counts)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])


def copy_to_keras(model: Model, keras_model) -> None:
    """Each kir layer's weights into the Keras layer of the same name."""
    for layer in model.layers:
        if layer.get_weights():
            keras_model.get_layer(layer.name).set_weights(layer.get_weights())


def as_list(x) -> list:
    return [np.asarray(o) for o in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]


def assert_all_backends(model: Model, keras_model, feeds: list[np.ndarray]) -> None:
    """predict on every backend equals Keras within 1e-5."""
    copy_to_keras(model, keras_model)
    expected = as_list(keras_model.predict(feeds, verbose=0))
    for backend in BACKENDS:
        got = as_list(model.predict(feeds, backend=backend))
        assert len(got) == len(expected), backend
        for g, e in zip(got, expected):
            assert_close(g, e)


def build_pair(op: str, config: dict, initial: bool, return_state: bool = True):
    """The same one-layer model in kir and in Keras; states from Inputs when `initial`."""
    models = []
    for lib in (L, keras.layers):
        x = lib.Input((STEPS, FEATURES), name="x")
        states = [lib.Input((UNITS,), name=f"s{i}") for i in range(n_states(op))] if initial else []
        layer = getattr(lib, op)(UNITS, return_state=return_state, name="rnn", **config)
        out = layer(x, initial_state=states) if initial else layer(x)
        model_cls = Model if lib is L else keras.Model
        models.append(model_cls([x, *states], out))
    randomize(models[0])
    feeds = [rand(BATCH, STEPS, FEATURES)] + [rand(BATCH, UNITS, seed=2 + i) for i in range(len(models[0].inputs) - 1)]
    return models[0], models[1], feeds


# ---------------------------------------------------------------- one layer, every backend


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("op,config", CELLS, ids=CELL_IDS)
def test_initial_and_return_state_match_keras(op: str, config: dict, mode: dict) -> None:
    model, keras_model, feeds = build_pair(op, {**config, **mode}, initial=True)
    assert len(model.outputs) == 1 + n_states(op)
    assert_all_backends(model, keras_model, feeds)


@pytest.mark.parametrize("op,config", CELLS, ids=CELL_IDS)
def test_return_state_without_initial_state(op: str, config: dict) -> None:
    model, keras_model, feeds = build_pair(op, {**config, "go_backwards": True}, initial=False)
    assert_all_backends(model, keras_model, feeds)


@pytest.mark.parametrize("op,config", CELLS, ids=CELL_IDS)
def test_initial_state_without_return_state(op: str, config: dict) -> None:
    model, keras_model, feeds = build_pair(op, {**config, "use_bias": False}, initial=True, return_state=False)
    assert len(model.outputs) == 1
    assert_all_backends(model, keras_model, feeds)


def test_single_tensor_initial_state_and_none() -> None:
    x, h = L.Input((STEPS, FEATURES)), L.Input((UNITS,))
    gru = L.GRU(UNITS)
    model = Model([x, h], [gru(x, initial_state=h), gru(x, initial_state=None)])
    out_h, out_zero = model.predict([rand(BATCH, STEPS, FEATURES), rand(BATCH, UNITS, seed=3)])
    assert not np.allclose(out_h, out_zero)
    assert_close(out_zero, Model(x, gru(x)).predict(rand(BATCH, STEPS, FEATURES)))


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_initial_state_matches_keras(merge_mode: str | None, tmp_path) -> None:
    models = []
    for lib in (L, keras.layers):
        x = lib.Input((STEPS, FEATURES), name="x")
        states = [lib.Input((UNITS,), name=f"s{i}") for i in range(4)]
        layer = lib.Bidirectional(lib.LSTM(UNITS, return_sequences=True, return_state=True), name="bi",
                                  merge_mode=merge_mode)
        models.append((Model if lib is L else keras.Model)([x, *states], layer(x, initial_state=states)))
    randomize(models[0])
    feeds = [rand(BATCH, STEPS, FEATURES)] + [rand(BATCH, UNITS, seed=5 + i) for i in range(4)]
    assert_all_backends(*models, feeds)
    models[0].save(str(tmp_path / "bi.kir"))  # the call is stored as bi([x, *states])
    for got, want in zip(load_model(str(tmp_path / "bi.kir")).predict(feeds), models[0].predict(feeds)):
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- seq2seq encoder/decoder


def seq2seq(lib, op: str, units: int = 8, features: int = 5, vocab: int = 7):
    """Keras' encoder/decoder: the encoder's final states start the decoder."""
    enc_in = lib.Input((None, features), name="encoder_inputs")
    dec_in = lib.Input((None, vocab), name="decoder_inputs")
    _, *states = getattr(lib, op)(units, return_state=True, name="encoder")(enc_in)
    dec = getattr(lib, op)(units, return_sequences=True, name="decoder")(dec_in, initial_state=states)
    out = lib.Dense(vocab, activation="softmax", name="dense")(dec)
    return (Model if lib is L else keras.Model)([enc_in, dec_in], out)


def seq2seq_feeds() -> list[np.ndarray]:
    return [rand(4, 6, 5, seed=10), rand(4, 3, 7, seed=11)]


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_seq2seq_matches_keras(op: str) -> None:
    model, keras_model = seq2seq(L, op), seq2seq(keras.layers, op)
    randomize(model)
    assert_all_backends(model, keras_model, seq2seq_feeds())


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_seq2seq_save_load_round_trip(op: str, tmp_path) -> None:
    model = seq2seq(L, op)
    randomize(model)
    model.save(str(tmp_path / "s2s.kir"))
    loaded = load_model(str(tmp_path / "s2s.kir"))
    feeds = seq2seq_feeds()
    assert [t.shape for t in loaded.inputs] == [t.shape for t in model.inputs]
    np.testing.assert_array_equal(loaded.predict(feeds), model.predict(feeds))


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_seq2seq_fit_on_tensorflow(op: str) -> None:
    model = seq2seq(L, op)
    before = model.get_weights()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    feeds = seq2seq_feeds()
    targets = np.eye(7, dtype=np.float32)[np.random.default_rng(0).integers(0, 7, (4, 3))]
    history = model.fit(feeds, targets, epochs=2, batch_size=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    after = model.get_weights()
    names = [(layer.name, w) for layer in model.layers for w in layer.weight_names()]
    changed = {name for name, b, a in zip(names, before, after) if not np.array_equal(b, a)}
    # the encoder is reached only through the decoder's initial states, so it trains too
    assert {("encoder", "kernel"), ("decoder", "kernel"), ("dense", "kernel")} <= changed


# ---------------------------------------------------------------- shape rule and call errors


def test_shape_rule_checks_initial_states() -> None:
    attrs = {"units": UNITS, "return_state": True}
    x = TensorSpec((None, STEPS, FEATURES))
    specs = infer("LSTM", attrs, [x, TensorSpec((None, UNITS)), TensorSpec((None, UNITS))], {})
    assert [s.shape for s in specs] == [(None, UNITS)] * 3
    with pytest.raises(ShapeError, match=r"initial state\(s\) \(h, c\), got 2 input tensors"):
        infer("LSTM", attrs, [x, TensorSpec((None, UNITS))], {})
    with pytest.raises(ShapeError, match=r"initial state h must have shape \(None, 6\)"):
        infer("GRU", attrs, [x, TensorSpec((None, UNITS + 1))], {})
    with pytest.raises(ShapeError, match=r"initial state h must have shape \(2, 6\)"):
        infer("SimpleRNN", attrs, [TensorSpec((2, STEPS, FEATURES)), TensorSpec((3, UNITS))], {})


def test_call_errors() -> None:
    x, h = L.Input((STEPS, FEATURES)), L.Input((UNITS,))
    with pytest.raises(ConfigError, match=r"initial_state must be 2 symbolic tensor\(s\).*\[h, c\], got KTensor"):
        L.LSTM(UNITS)(x, initial_state=h)
    with pytest.raises(ConfigError, match="got ndarray"):
        L.GRU(UNITS)(x, initial_state=np.zeros((BATCH, UNITS), np.float32))
    with pytest.raises(ShapeError, match="initial state h must have shape"):
        L.SimpleRNN(UNITS + 1)(x, initial_state=h)
    with pytest.raises(ConfigError, match="mask must be a symbolic tensor"):  # mask=None is fine, as in Keras
        L.LSTM(UNITS)(x, initial_state=[h, h], mask=np.ones((BATCH, 3), bool))
    with pytest.raises(ConfigError, match="call argument 'initial_state' is not supported by kir"):
        L.Dense(UNITS)(x, initial_state=h)
    with pytest.raises(ConfigError, match=r"\[forward h, backward h\]"):
        L.Bidirectional(L.GRU(UNITS))(x, initial_state=[h])
