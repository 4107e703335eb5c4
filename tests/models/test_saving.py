"""The native .kir format: exact round trips of the guide's models, sharing, safety, atomic writes."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import struct
import zipfile

import numpy as np
import pytest

import kir
from kir import layers as L
from kir.errors import ConfigError, ExportError, LoadError
from kir.models import Model, Sequential, clone_model, load_model, saving
from kir.zoo import guide as g

RNG = np.random.default_rng(0)


def _f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype("float32")


def _ids(vocab: int, *shape: int) -> np.ndarray:
    return RNG.integers(0, vocab, size=shape).astype("int32")


def _video():
    return g.video_qa_parts(frames=2, image=32, seq_len=5, vocab=30, embed=6, lstm_units=5, answers=7,
                            filters=(2, 3, 4))


CASES = {
    "sequential_list": (lambda: g.sequential_mlp(12, 6, 4), lambda: _f(3, 12)),
    "sequential_add": (lambda: g.sequential_add(12, 6), lambda: _f(3, 12)),
    "mlp_binary": (lambda: g.mlp_binary(10, 6), lambda: _f(3, 10)),
    "mlp_categorical": (lambda: g.mlp_categorical(10, 6, 4), lambda: _f(3, 10)),
    "functional_mlp": (lambda: g.functional_mlp(12, 8, 4), lambda: _f(3, 12)),
    "time_distributed_mlp": (lambda: g.time_distributed_mlp(4, 12, 8, 4), lambda: _f(3, 4, 12)),
    "multi_io": (lambda: g.multi_io(6, 30, 8, 5, 5, 7), lambda: [_ids(30, 3, 6), _f(3, 5)]),
    "shared_lstm": (lambda: g.shared_lstm(5, 7, 4), lambda: [_f(3, 5, 7), _f(3, 5, 7)]),
    "inception": (lambda: g.inception(8, 3), lambda: _f(2, 8, 8, 3)),
    "residual": (lambda: g.residual(8), lambda: _f(2, 8, 8, 3)),
    "shared_vision": (lambda: g.shared_vision(8, 3), lambda: [_f(2, 8, 8, 1), _f(2, 8, 8, 1)]),
    "vqa": (lambda: _video().vqa.vqa_model, lambda: [_f(2, 32, 32, 3), _ids(30, 2, 5)]),
    "video_qa": (lambda: _video().video_qa_model, lambda: [_f(2, 2, 32, 32, 3), _ids(30, 2, 5)]),
}


def _as_list(x):
    return x if isinstance(x, list) else [x]


def _assert_same_model(original: Model, loaded: Model, x) -> None:
    assert type(loaded) is type(original)
    assert loaded is not original
    assert loaded.name == original.name
    assert [lay.name for lay in loaded.layers] == [lay.name for lay in original.layers]
    assert [type(lay) for lay in loaded.layers] == [type(lay) for lay in original.layers]
    assert loaded.input_names == original.input_names
    assert loaded.output_names == original.output_names
    assert loaded.input_shape == original.input_shape
    assert loaded.output_shape == original.output_shape
    w0, w1 = original.get_weights(), loaded.get_weights()
    assert len(w0) == len(w1)
    for a, b in zip(w0, w1):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    y0, y1 = original.predict(x), loaded.predict(x)
    assert type(y0) is type(y1)
    for a, b in zip(_as_list(y0), _as_list(y1)):
        # the weights are bit-exact (above); two runs of numpy's SIMD reductions may still differ in
        # the last bit with the alignment of the buffers they get, so allow a few units in the last place
        assert a.dtype == b.dtype
        np.testing.assert_array_max_ulp(a, b, maxulp=4)


@pytest.mark.parametrize("case", sorted(CASES))
def test_guide_model_round_trip_is_bit_exact(case, tmp_path):
    build, data = CASES[case]
    model, x = build(), data()
    path = tmp_path / f"{case}.kir"
    model.save(str(path))
    _assert_same_model(model, load_model(str(path)), x)


def test_every_layer_kind_round_trips(tmp_path):
    seq = L.Input(shape=(6, 4), name="seq")
    img = L.Input(shape=(6, 6, 2), name="img")
    a = L.Conv1D(5, 3, padding="causal", dilation_rate=2, activation="tanh")(seq)
    a = L.MaxPooling1D(2, padding="same")(a)
    a = L.AveragePooling1D(1)(a)
    a = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum")(a)
    a = L.Bidirectional(L.LSTM(3, go_backwards=True))(a)
    b = L.SimpleRNN(6, return_sequences=True, activation="relu")(seq)
    b = L.LayerNormalization()(b)
    b = L.GlobalMaxPooling1D()(b)
    c = L.Conv2D(3, (3, 3), strides=(2, 2), padding="same", use_bias=False)(img)
    bn = L.BatchNormalization()
    c = bn(c)
    c = L.AveragePooling2D((1, 1))(c)
    c = L.GlobalAveragePooling2D()(c)
    d = L.TimeDistributed(L.Dense(2, activation="elu"))(seq)
    d = L.Permute((2, 1))(d)
    d = L.Reshape((-1,))(d)
    d = L.Dropout(0.5)(d)
    ids = L.Input(shape=(4,), dtype="int32", name="ids")
    e = L.Embedding(10, 3)(ids)
    e = L.Flatten()(e)
    e = L.RepeatVector(2)(L.Dense(6)(e))
    e = L.GlobalAveragePooling1D()(e)
    merged = L.concatenate([a, b, c, d, e])
    f = L.Dense(6)(merged)
    g_ = L.Dense(6, activation="gelu")(merged)
    out = L.dot([L.subtract([f, g_]), L.multiply([f, g_])], axes=1, normalize=True)
    out2 = L.add([L.average([f, g_]), L.maximum([f, g_]), L.minimum([f, g_])])
    model = Model(inputs=[seq, img, ids], outputs=[out, out2])
    # Non-default, non-trivial values for BatchNormalization's moving statistics.
    bn.set_weights([_f(3), _f(3), _f(3), np.abs(_f(3)) + 0.5])
    bn.trainable = False
    path = tmp_path / "all.kir"
    model.save(str(path))
    loaded = load_model(str(path))
    x = [_f(2, 6, 4), _f(2, 6, 6, 2), _ids(10, 2, 4)]
    _assert_same_model(model, loaded, x)
    assert loaded.get_layer(bn.name).trainable is False
    assert len(loaded.non_trainable_weights) == len(model.non_trainable_weights)


def test_model_with_ids_input_first(tmp_path):
    ids = L.Input(shape=(4,), dtype="int32", name="ids")
    model = Model(ids, L.Dense(2)(L.Flatten()(L.Embedding(10, 3)(ids))))
    model.save(str(tmp_path / "e.kir"))
    _assert_same_model(model, load_model(str(tmp_path / "e.kir")), _ids(10, 2, 4))


def test_shared_layer_keeps_its_node_indices(tmp_path):
    model = g.shared_lstm(5, 7, 4)
    lstm = next(lay for lay in model.layers if isinstance(lay, L.LSTM))
    model.save(str(tmp_path / "m.kir"))
    loaded = load_model(str(tmp_path / "m.kir"))
    shared = loaded.get_layer(lstm.name)
    assert len(shared._inbound_nodes) == len(lstm._inbound_nodes) == 2
    assert shared.get_input_at(0) is loaded.inputs[0]
    assert shared.get_input_at(1) is loaded.inputs[1]
    concat = next(lay for lay in loaded.layers if isinstance(lay, L.Concatenate))
    assert concat.get_input_at(0) == [shared.get_output_at(0), shared.get_output_at(1)]


def test_node_indices_follow_call_order_not_graph_order(tmp_path):
    """The layer is called on `b` first although `a` comes first in the model's input list."""
    a, b = L.Input(shape=(3,), name="a"), L.Input(shape=(3,), name="b")
    dense = L.Dense(2, name="shared")
    yb = dense(b)
    ya = dense(a)
    model = Model([a, b], L.concatenate([ya, yb]))
    model.save(str(tmp_path / "m.kir"))
    loaded = load_model(str(tmp_path / "m.kir"))
    shared = loaded.get_layer("shared")
    assert shared.get_input_at(0) is loaded.inputs[1]
    assert shared.get_input_at(1) is loaded.inputs[0]
    _assert_same_model(model, loaded, [_f(2, 3), _f(2, 3)])


def test_nested_model_shares_weights_between_its_calls(tmp_path):
    pair = g.shared_vision_parts(8, 3)
    pair.classification_model.save(str(tmp_path / "m.kir"))
    loaded = load_model(str(tmp_path / "m.kir"))
    vision = loaded.get_layer(pair.vision_model.name)
    assert isinstance(vision, Model) and not isinstance(vision, Sequential)
    assert len(vision._inbound_nodes) == len(pair.vision_model._inbound_nodes) == 3  # own graph + 2 calls
    assert loaded.count_params() == pair.classification_model.count_params()
    # One weight change inside the nested model reaches both of its uses.
    conv = vision.layers[1]
    conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    flat_a = Model(loaded.inputs, vision.get_output_at(1)).predict([_f(1, 8, 8, 1), _f(1, 8, 8, 1)])
    flat_b = Model(loaded.inputs, vision.get_output_at(2)).predict([_f(1, 8, 8, 1), _f(1, 8, 8, 1)])
    assert not flat_a.any() and not flat_b.any()


def test_nested_model_used_directly_and_inside_time_distributed_stays_one_object(tmp_path):
    inner = g.functional_mlp(6, 5, 3)
    x = L.Input(shape=(6,), name="x")
    frames = L.Input(shape=(4, 6), name="frames")
    td = L.TimeDistributed(inner, name="per_frame")
    model = Model([x, frames], [inner(x), td(frames)])
    model.save(str(tmp_path / "m.kir"))
    loaded = load_model(str(tmp_path / "m.kir"))
    assert loaded.get_layer("per_frame").layer is loaded.get_layer(inner.name)
    assert loaded.count_params() == model.count_params()
    _assert_same_model(model, loaded, [_f(2, 6), _f(2, 4, 6)])


def test_video_qa_keeps_vision_and_question_encoder_structure(tmp_path):
    video = _video()
    video.video_qa_model.save(str(tmp_path / "v.kir"))
    loaded = load_model(str(tmp_path / "v.kir"))
    td = next(lay for lay in loaded.layers if isinstance(lay, L.TimeDistributed))
    assert isinstance(td.layer, Sequential)
    assert [lay.name for lay in td.layer.layers] == [lay.name for lay in video.vqa.vision_model.layers]
    encoder = loaded.get_layer(video.question_encoder.name)
    assert isinstance(encoder, Model)
    assert [lay.name for lay in encoder.layers] == [lay.name for lay in video.question_encoder.layers]


def test_sequential_keeps_type_input_name_and_later_add(tmp_path):
    model = g.mlp_binary(10, 6)
    model.save(str(tmp_path / "s.kir"))
    loaded = load_model(str(tmp_path / "s.kir"))
    assert isinstance(loaded, Sequential)
    assert loaded.input_names == model.input_names
    loaded.add(L.Dense(3, name="extra"))
    assert loaded.output_shape == (None, 3)


def test_unbuilt_sequential_round_trips_and_builds_later(tmp_path):
    model = Sequential([L.Dense(4, name="d1"), L.Dense(2, name="d2")], name="lazy")
    model.save(str(tmp_path / "lazy.kir"))
    loaded = load_model(str(tmp_path / "lazy.kir"))
    assert [lay.name for lay in loaded.layers] == ["d1", "d2"] and not loaded.inputs
    assert loaded.predict(_f(3, 5)).shape == (3, 2)


def test_trainable_flags_survive(tmp_path):
    model = g.functional_mlp(6, 5, 3)
    model.layers[1].trainable = False
    model.save(str(tmp_path / "m.kir"))
    loaded = load_model(str(tmp_path / "m.kir"))
    assert [lay.trainable for lay in loaded.layers] == [lay.trainable for lay in model.layers]
    assert len(loaded.trainable_weights) == len(model.trainable_weights) == 4


def test_clone_model_copies_architecture_and_weights():
    model = g.multi_io(6, 30, 8, 5, 5, 7)
    clone = clone_model(model)
    x = [_ids(30, 3, 6), _f(3, 5)]
    _assert_same_model(model, clone, x)
    clone.layers[-1].set_weights([np.zeros_like(w) for w in clone.layers[-1].get_weights()])
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), clone.get_weights()))
    assert model.layers[-1].get_weights()[0].any()


def test_pathlike_and_any_extension(tmp_path):
    model = g.mlp_binary(4, 3)
    path = tmp_path / "my_model.bin"
    model.save(path)
    assert zipfile.is_zipfile(path)
    _assert_same_model(model, load_model(path), _f(2, 4))


@pytest.mark.parametrize("name", ["my_model.h5", "my_model.HDF5"])
def test_legacy_hdf5_names_get_keras_legacy_hdf5_with_keras_warning(tmp_path, name):
    model = g.mlp_binary(4, 3)  # the format itself: tests/keras_files/test_legacy_h5_out.py
    with pytest.warns(UserWarning, match=r"This file format is considered legacy"):
        model.save(tmp_path / name)
    assert not zipfile.is_zipfile(tmp_path / name)
    _assert_same_model(model, load_model(tmp_path / name), _f(2, 4))


# ------------------------------------------------------------------ atomic writes
def test_overwrite_false_refuses_and_keeps_the_file(tmp_path):
    path = tmp_path / "m.kir"
    path.write_bytes(b"precious")
    with pytest.raises(ExportError, match="already exists and overwrite=False"):
        g.mlp_binary(4, 3).save(str(path), overwrite=False)
    assert path.read_bytes() == b"precious"


def test_overwrite_true_replaces(tmp_path):
    path = tmp_path / "m.kir"
    path.write_bytes(b"old")
    model = g.mlp_binary(4, 3)
    model.save(str(path))
    _assert_same_model(model, load_model(str(path)), _f(2, 4))


def test_failed_write_leaves_no_file_behind(tmp_path, monkeypatch):
    path = tmp_path / "m.kir"
    path.write_bytes(b"old")

    def fail_midway(handle, doc, arrays):
        handle.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(saving, "_write_zip", fail_midway)
    with pytest.raises(ExportError, match="disk full"):
        g.mlp_binary(4, 3).save(str(path))
    assert sorted(os.listdir(tmp_path)) == ["m.kir"]
    assert path.read_bytes() == b"old"


def test_custom_layer_class_is_refused_before_writing(tmp_path):
    class MyDense(L.Dense):
        op_type = "Dense"

    x = L.Input(shape=(3,))
    model = Model(x, MyDense(2)(x))
    with pytest.raises(ConfigError, match="not one of kir's own classes"):
        model.save(str(tmp_path / "m.kir"))
    assert os.listdir(tmp_path) == []


def test_saving_to_missing_folder_or_directory_fails_clearly(tmp_path):
    model = g.mlp_binary(4, 3)
    with pytest.raises(ExportError, match="does not exist"):
        model.save(str(tmp_path / "nope" / "m.kir"))
    with pytest.raises(ExportError, match="is a directory"):
        model.save(str(tmp_path))


# ------------------------------------------------------------------ safety
def _entries(path: pathlib.Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write_entries(path: pathlib.Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


@pytest.fixture
def saved(tmp_path) -> tuple[pathlib.Path, dict[str, bytes]]:
    path = tmp_path / "good.kir"
    g.functional_mlp(4, 3, 2).save(str(path))
    return path, _entries(path)


class _TouchMarker:
    """Unpickling this creates a marker file: the proof that a load ran code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _pickle_npy(marker: pathlib.Path) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([_TouchMarker(marker)], dtype=object), allow_pickle=True)
    return buf.getvalue()


def test_payload_is_live_when_unpickled(tmp_path):
    """Guard for the next tests: the payload really does run code when something unpickles it."""
    import io

    marker = tmp_path / "ran"
    np.load(io.BytesIO(_pickle_npy(marker)), allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("kind", ["object_npy", "raw_pickle"])
def test_pickle_payload_is_never_executed(saved, tmp_path, kind):
    path, entries = saved
    marker = tmp_path / "pwned"
    first = next(name for name in entries if name.startswith("weights/"))
    if kind == "object_npy":
        entries[first] = _pickle_npy(marker)
    else:
        entries[first] = pickle.dumps(_TouchMarker(marker))
    bad = tmp_path / "bad.kir"
    _write_entries(bad, entries)
    with pytest.raises(LoadError, match=rf"bad\.kir.*{first}.*pickled or object data"):
        load_model(str(bad))
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../escape.npy", "/abs/path.npy", "weights/../../x.npy", "C:/win.npy",
                                  "..\\win.npy"])
def test_escaping_entry_names_are_refused(saved, tmp_path, name):
    path, entries = saved
    entries[name] = b"x"
    bad = tmp_path / "slip.kir"
    _write_entries(bad, entries)
    with pytest.raises(LoadError, match="absolute or escaping path"):
        load_model(str(bad))
    assert not (tmp_path.parent / "escape.npy").exists()


def _with_doc(saved, tmp_path, edit) -> pathlib.Path:
    path, entries = saved
    doc = json.loads(entries["model.json"])
    edit(doc)
    entries["model.json"] = json.dumps(doc).encode()
    bad = tmp_path / "edited.kir"
    _write_entries(bad, entries)
    return bad


@pytest.mark.parametrize("class_name", ["Lambda", "os.system", "builtins.eval", "TFOpLambda"])
def test_unknown_class_names_are_refused(saved, tmp_path, class_name):
    def edit(doc):
        doc["model"]["config"]["layers"][0]["class_name"] = class_name

    with pytest.raises(LoadError, match=rf"edited\.kir.*unknown class name '{class_name}'"):
        load_model(str(_with_doc(saved, tmp_path, edit)))


def test_object_with_forged_function_config_is_refused(saved, tmp_path):
    def edit(doc):
        doc["model"]["config"]["layers"][1]["config"]["activation"] = "os.system"

    with pytest.raises(LoadError, match="unknown activation 'os.system'"):
        load_model(str(_with_doc(saved, tmp_path, edit)))


def test_newer_format_version_is_refused(saved, tmp_path):
    def edit(doc):
        doc["format_version"] = 99

    with pytest.raises(LoadError, match="format version 99 is not supported"):
        load_model(str(_with_doc(saved, tmp_path, edit)))


def test_weight_shape_mismatch_is_refused(saved, tmp_path):
    path, entries = saved
    import io

    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 2), "float32"))
    entries["weights/2/0.npy"] = buf.getvalue()
    bad = tmp_path / "shape.kir"
    _write_entries(bad, entries)
    with pytest.raises(LoadError, match=r"weight dense.*/kernel in 'weights/2/0.npy' is float32\[2, 2\]"):
        load_model(str(bad))


def test_missing_weight_entry_is_refused(saved, tmp_path):
    path, entries = saved
    del entries["weights/2/0.npy"]
    bad = tmp_path / "missing.kir"
    _write_entries(bad, entries)
    with pytest.raises(LoadError, match="'weights/2/0.npy' is not in the zip"):
        load_model(str(bad))


def test_truncated_file(saved, tmp_path):
    path, _ = saved
    bad = tmp_path / "truncated.kir"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(LoadError, match=r"truncated\.kir.*not a valid zip file"):
        load_model(str(bad))


def test_flipped_bytes_fail_the_crc(saved, tmp_path):
    path, _ = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("weights/2/0.npy")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len + 130  # inside the array data
    data[start] ^= 0xFF
    bad = tmp_path / "flipped.kir"
    bad.write_bytes(bytes(data))
    with pytest.raises(LoadError, match=r"flipped\.kir"):
        load_model(str(bad))


@pytest.mark.parametrize("content, message", [
    (b"not json at all", "is not valid JSON"),
    (b'{"format": "something-else"}', "is not a kir model description"),
    (b"[1, 2, 3]", "is not a kir model description"),
    (b"\xff\xfe", "is not valid JSON"),
])
def test_bad_json(saved, tmp_path, content, message):
    path, entries = saved
    entries["model.json"] = content
    bad = tmp_path / "json.kir"
    _write_entries(bad, entries)
    with pytest.raises(LoadError, match=message):
        load_model(str(bad))


def test_structurally_broken_description(saved, tmp_path):
    def edit(doc):
        doc["model"]["config"]["nodes"] = [{"layer": "ghost", "inbound": []}]

    with pytest.raises(LoadError, match="calls a layer it does not list"):
        load_model(str(_with_doc(saved, tmp_path, edit)))


def test_not_a_zip_and_missing_file(tmp_path):
    junk = tmp_path / "junk.kir"
    junk.write_bytes(os.urandom(256))
    with pytest.raises(LoadError, match=r"junk\.kir.*not a valid zip file"):
        load_model(str(junk))
    with pytest.raises(LoadError, match=r"nothere\.kir': no such file"):
        load_model(str(tmp_path / "nothere.kir"))
    empty = tmp_path / "empty.kir"
    _write_entries(empty, {"other.txt": b"hi"})
    with pytest.raises(LoadError, match="no 'model.json' entry"):
        load_model(str(empty))


def test_load_error_is_a_kir_error():
    assert issubclass(LoadError, kir.KirError)


FULL_SIZE = {
    "multi_io": (g.multi_io, lambda: [_ids(10000, 2, 100), _f(2, 5)]),
    "shared_lstm": (g.shared_lstm, lambda: [_f(1, 280, 256), _f(1, 280, 256)]),
    "inception": (g.inception, lambda: _f(1, 256, 256, 3)),
    "residual": (g.residual, lambda: _f(1, 256, 256, 3)),
    "shared_vision": (g.shared_vision, lambda: [_f(2, 27, 27, 1), _f(2, 27, 27, 1)]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(FULL_SIZE))
def test_full_size_guide_model_round_trip(case, tmp_path):
    build, data = FULL_SIZE[case]
    model = build()
    model.save(str(tmp_path / "full.kir"))
    _assert_same_model(model, load_model(str(tmp_path / "full.kir")), data())
