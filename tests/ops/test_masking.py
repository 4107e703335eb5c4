"""Masks end to end: Embedding(mask_zero=True) and Masking make a mask tensor in the graph, the
recurrent ops, GlobalAveragePooling1D and the merges honour it, on every backend, as Keras 3.

The batches mix right padding, left padding, holes, a fully padded row and an unpadded one, so
the ONNX general masked form (compaction + sequence_lens) is checked on all of them.
"""

import numpy as np
import onnx
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")

import kir  # noqa: E402
from kir.errors import ConfigError, LoadError, ShapeError  # noqa: E402
from kir.ir import ops  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

BACKENDS = ("numpy", "tensorflow", "onnx")
STEPS = 7
IDS = np.array([[1, 2, 3, 4, 0, 0, 0],    # right padded
                [0, 0, 0, 5, 6, 7, 8],    # left padded
                [3, 0, 4, 0, 5, 0, 6],    # holes
                [0, 0, 0, 0, 0, 0, 0],    # nothing real
                [9, 8, 7, 6, 5, 4, 3],    # unpadded
                [0, 0, 0, 0, 0, 0, 2],
                [2, 0, 0, 0, 0, 0, 0]])


def _predictions(model, x):
    out = model.predict(x, verbose=0) if isinstance(model, keras.Model) else None
    return [np.asarray(a) for a in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def _check(build, x=IDS):
    """Build the model in Keras and kir, copy Keras' weights, compare batch 7 and batch 1 outputs."""
    theirs, ours = build(keras), build(kir)
    ours.set_weights(theirs.get_weights())
    for batch in (x, [a[1:2] for a in x] if isinstance(x, list) else x[1:2]):
        expected = _predictions(theirs, batch)
        for backend in BACKENDS:
            got = ours.predict(batch, backend=backend)
            got = list(got) if isinstance(got, list) else [got]
            assert len(got) == len(expected)
            for g, e in zip(got, expected):
                assert_close(g, e, rtol=2e-6)
    return ours


RNNS = [("LSTM", {}), ("LSTM", {"return_sequences": True, "go_backwards": True}),
        ("LSTM", {"return_state": True, "go_backwards": True}), ("GRU", {"return_sequences": True}),
        ("GRU", {"go_backwards": True, "return_state": True, "return_sequences": True}),
        ("SimpleRNN", {"return_sequences": True}), ("SimpleRNN", {"go_backwards": True}),
        ("LSTM", {"return_sequences": True, "zero_output_for_mask": True}),
        ("GRU", {"zero_output_for_mask": True, "go_backwards": True})]


@pytest.mark.parametrize("kind,kwargs", RNNS, ids=[f"{k}-{'-'.join(a) or 'last'}" for k, a in RNNS])
def test_masked_recurrent_layers_follow_keras(kind, kwargs):
    def build(lib):
        ids = lib.Input((STEPS,), dtype="int32")
        y = getattr(lib.layers, kind)(4, **kwargs)(lib.layers.Embedding(20, 5, mask_zero=True)(ids))
        return lib.Model(ids, y)

    _check(build)


@pytest.mark.parametrize("sequences,merge_mode", [(True, "concat"), (False, "sum"), (True, None)])
def test_masked_bidirectional_follows_keras(sequences, merge_mode):
    def build(lib):
        ids = lib.Input((STEPS,), dtype="int32")
        e = lib.layers.Embedding(20, 5, mask_zero=True)(ids)
        y = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=sequences), merge_mode=merge_mode)(e)
        return lib.Model(ids, y)

    _check(build)


@pytest.mark.filterwarnings("ignore:Layer 'global_max_pooling1d'.*does not support masking")
def test_stacked_rnns_pooling_and_dense_carry_the_mask_like_keras():
    def build(lib):
        L = lib.layers
        ids = lib.Input((STEPS,), dtype="int32")
        h = L.Dense(6, activation="relu")(L.Embedding(20, 5, mask_zero=True)(ids))  # passes the mask on
        h = L.GRU(4, return_sequences=True)(L.Dropout(0.1)(h))
        avg = L.GlobalAveragePooling1D()(L.LSTM(3, return_sequences=True)(h))
        peak = L.GlobalMaxPooling1D()(h)  # Keras' ignores the mask
        return lib.Model(ids, L.Concatenate()([avg, peak]))

    _check(build, IDS[[0, 1, 2, 4, 5, 6]])  # a fully padded row makes Keras' mean 0/0


def test_masking_and_merges_follow_keras():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, STEPS, 3)).astype("float32")
    x[0, 4:] = 0.5
    x[1, :3] = 0.5
    x[2, ::2] = 0.5
    x[3, 2, 1] = 0.5  # only some features equal mask_value: not masked

    def build(lib):
        L = lib.layers
        inp = lib.Input((STEPS, 3))
        m = L.Masking(mask_value=0.5)(inp)
        a, b = L.Dense(4)(m), L.Dense(4)(m)
        joined = L.Concatenate(axis=1)([L.Add()([a, b]), L.Average()([a, b])])
        return lib.Model(inp, [L.LSTM(3)(joined), L.SimpleRNN(2, return_sequences=True)(m)])

    _check(build, x)


def test_a_call_with_initial_state_applies_no_mask_as_keras():
    def build(lib):
        L = lib.layers
        ids, h, c = lib.Input((None,), dtype="int32"), lib.Input((3,)), lib.Input((3,))
        e = L.Embedding(20, 5, mask_zero=True)(ids)
        seq, *states = L.LSTM(3, return_sequences=True, return_state=True, go_backwards=True)(e, initial_state=[h, c])
        return lib.Model([ids, h, c], [L.GlobalAveragePooling1D()(seq), *states])

    rng = np.random.default_rng(3)  # no fully padded row: Keras' masked mean would be 0/0
    _check(build, [IDS[[0, 1, 2, 4, 5, 6]], *rng.normal(size=(2, 6, 3)).astype("float32")])


def test_masks_stop_where_keras_stops_them():
    ids = kir.Input((STEPS,), dtype="int32")
    e = kir.layers.Embedding(20, 5, mask_zero=True)(ids)
    assert e.mask is not None and e._keras_mask is e.mask and e.mask.spec == TensorSpec((None, STEPS), "bool")
    assert kir.layers.Dense(3)(e).mask is e.mask
    assert kir.layers.Flatten()(e).mask is None
    assert kir.layers.LSTM(2)(e).mask is None
    seq, h, c = kir.layers.LSTM(2, return_sequences=True, return_state=True)(e)
    assert seq.mask is e.mask and h.mask is None and c.mask is None
    assert kir.layers.GlobalAveragePooling1D()(e).mask is None
    assert kir.layers.Embedding(20, 5)(ids).mask is None


def test_the_mask_is_a_graph_tensor_and_onnx_gets_sequence_lens(tmp_path):
    ids = kir.Input((STEPS,), dtype="int32")
    model = kir.Model(ids, kir.layers.LSTM(2)(kir.layers.Embedding(20, 5, mask_zero=True, name="emb")(ids)))
    graph = model.to_graph()
    vid, lstm = next((i, v) for i, v in graph.vertices() if v.op == "LSTM")
    mask = graph.vertex(graph.input_refs(vid)[-1][0])
    assert lstm.attrs["masked"] is True
    assert (mask.op, mask.attrs["fn"], mask.layer) == ("Binary", "not_equal", "emb")
    path = tmp_path / "m.onnx"
    model.export(str(path))
    node = next(n for n in onnx.load(str(path)).graph.node if n.op_type == "LSTM")
    assert len(node.input) > 4 and node.input[4]  # sequence_lens from the mask


def test_a_bad_mask_is_a_shape_error_naming_it():
    attrs = {"units": 2, "masked": True}
    x = TensorSpec((None, 5, 3))
    with pytest.raises(ShapeError, match=r"LSTM mask must be bool of shape \(None, 5\)"):
        ops.infer("LSTM", attrs, [x, TensorSpec((None, 5), "float32")], {})
    with pytest.raises(ShapeError, match="mask must be bool"):
        ops.infer("GRU", attrs, [x, TensorSpec((None, 4), "bool")], {})
    with pytest.raises(ShapeError, match="takes its mask"):
        ops.infer("SimpleRNN", attrs, [x], {})
    assert ops.infer("LSTM", attrs, [x, TensorSpec((None, 5), "bool")], {})[0].shape == (None, 2)


def test_masking_layer_config_and_errors():
    layer = kir.layers.Masking(mask_value=-1, name="pad")
    assert layer.get_config()["mask_value"] == -1 and layer.mask_value == -1.0
    assert kir.layers.Masking.from_config(layer.get_config()).mask_value == -1.0
    with pytest.raises(ConfigError, match="Masking 'bad': mask_value must be a number"):
        kir.layers.Masking(mask_value="x", name="bad")
    with pytest.raises(ShapeError, match="masking.*rank >= 2"):
        kir.layers.Masking()(kir.Input((), dtype="float32"))


def _keras_masked_model():
    L = keras.layers
    ids, feats = keras.Input((STEPS,), dtype="int32"), keras.Input((STEPS, 3))
    e = L.Embedding(20, 4, mask_zero=True)(ids)
    y = L.GlobalAveragePooling1D()(L.Bidirectional(L.LSTM(3, return_sequences=True))(e))
    z = L.GRU(2)(L.Masking(0.5)(feats))
    return keras.Model([ids, feats], L.Dense(1)(L.Concatenate()([y, z])))


def test_keras_files_and_kir_files_keep_the_masks(tmp_path):
    theirs = _keras_masked_model()
    theirs.save(tmp_path / "m.keras")
    ours = kir.models.load_model(tmp_path / "m.keras")  # Keras' NotEqual/Any mask ops are derived, not loaded
    feats = np.random.default_rng(1).normal(size=(7, STEPS, 3)).astype("float32")
    feats[1, :4] = 0.5
    x = [IDS[[0, 1, 2, 4, 5, 6, 0]], feats]
    expected = theirs.predict(x, verbose=0)
    for backend in BACKENDS:
        assert_close(ours.predict(x, backend=backend), expected, rtol=2e-6)
    ours.save(tmp_path / "m.kir")
    assert_close(kir.models.load_model(tmp_path / "m.kir").predict(x), expected, rtol=2e-6)
    ours.save(tmp_path / "back.keras")
    assert_close(keras.models.load_model(tmp_path / "back.keras").predict(x, verbose=0), expected, rtol=2e-6)


def test_an_explicit_mask_loads_and_a_mask_to_a_layer_without_one_is_refused(tmp_path):
    L = keras.layers
    x = keras.Input((STEPS, 3))
    keep = keras.Input((STEPS,), dtype="bool")
    theirs = keras.Model([x, keep], L.LSTM(2, name="rnn")(x, mask=keep))
    theirs.save(tmp_path / "m.keras")
    feeds = [np.random.default_rng(0).normal(size=(2, STEPS, 3)).astype("float32"),
             np.arange(STEPS)[None, :] < np.array([[3], [STEPS]])]
    assert_close(kir.models.load_model(tmp_path / "m.keras").predict(feeds), theirs.predict(feeds, verbose=0))
    config = (tmp_path / "m.keras").read_bytes()  # the same call on a Dense, which has no mask argument
    import io
    import json
    import zipfile

    with zipfile.ZipFile(io.BytesIO(config)) as zin, zipfile.ZipFile(tmp_path / "d.keras", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                data = json.dumps(_as_dense(json.loads(data))).encode()
            zout.writestr(item, data)
    with pytest.raises(LoadError, match="'rnn' is called with mask=.*derives masks itself"):
        kir.models.load_model(tmp_path / "d.keras")


def _as_dense(config: dict) -> dict:
    """A Keras config whose LSTM 'rnn' is a Dense (same call, mask= included)."""
    for layer in config["config"]["layers"]:
        if layer["name"] == "rnn":
            layer["class_name"], layer["config"] = "Dense", {"name": "rnn", "units": 2}
    return config
