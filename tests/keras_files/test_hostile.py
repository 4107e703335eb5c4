"""Hostile and broken Keras files: every one is a LoadError naming the file (never another exception),
nothing is executed, nothing half-loaded. Needs neither TensorFlow nor Keras."""

from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

import kir
from kir.errors import LoadError
from kir.models import load_model
from kir.zoo import guide

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WEIGHTS = "model.weights.h5"


@pytest.fixture
def good(tmp_path) -> dict[str, bytes]:
    """The members of a valid .keras archive written by kir."""
    path = tmp_path / "good.keras"
    guide.functional_mlp(4, 3, 2, names=True).save(str(path))
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _refused(path: Path, match: str | None = None) -> LoadError:
    with pytest.raises(LoadError, match=match) as info:
        load_model(path)
    assert f"'{path}'" in str(info.value) and "\n" not in str(info.value)
    return info.value


def _edit_weights(members: dict[str, bytes], edit: Callable) -> dict[str, bytes]:
    buffer = io.BytesIO(members[WEIGHTS])
    with h5py.File(buffer, "r+") as h5:
        edit(h5)
    return {**members, WEIGHTS: buffer.getvalue()}


def _edit_config(members: dict[str, bytes], edit: Callable) -> dict[str, bytes]:
    config = json.loads(members["config.json"])
    edit(config)
    return {**members, "config.json": json.dumps(config).encode()}


# ------------------------------------------------------------------ the archive
@pytest.mark.parametrize("cut", [0, 10, 100, 0.5, -30])
def test_truncated_archive(good, tmp_path, cut):
    data = _write(tmp_path / "full.keras", good).read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(data) + cut)
    path = tmp_path / "cut.keras"
    path.write_bytes(data[:n])
    _refused(path)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "C:/evil", "assets/../../evil"])
def test_escaping_member_names(good, tmp_path, name):
    _refused(_write(tmp_path / "m.keras", {**good, name: b"x"}), "escaping path")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_duplicate_member_names(good, tmp_path):
    path = _write(tmp_path / "m.keras", good)
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "a") as zf:
        zf.writestr("config.json", b"{}")
    _refused(path, "appears twice")


def test_huge_declared_size(good, tmp_path):
    data = bytearray(_write(tmp_path / "m.keras", good).read_bytes())
    header = data.index(b"PK\x01\x02" + bytes(data[data.index(b"PK\x01\x02") + 4:][:0]))
    while data[header + 46:header + 46 + len("config.json")] != b"config.json":
        header = data.index(b"PK\x01\x02", header + 4)
    struct.pack_into("<I", data, header + 24, 0xFFFFFFF0)
    path = tmp_path / "big.keras"
    path.write_bytes(bytes(data))
    _refused(path, "over the limit")


def test_zip_bomb(good, tmp_path):
    config = json.loads(good["config.json"])
    config["padding"] = " " * (8 * 1024 * 1024)
    _refused(_write(tmp_path / "m.keras", {**good, "config.json": json.dumps(config).encode()},
                    zipfile.ZIP_DEFLATED), "zip bomb")


@pytest.mark.parametrize("member,data,match", [
    ("config.json", b"[" * 100_000 + b"]" * 100_000, "deeper than"),
    ("config.json", b"\xff\xfe{}", "not UTF-8"),
    ("config.json", b"{not json", "not valid JSON"),
    ("config.json", b"[]", "class_name"),
    ("config.json", b'{"class_name": "Functional", "config": {"name": "m"}}', "'layers' must be a list"),
    ("config.json", b'{"class_name": "Dense", "config": {"name": "d", "units": 2}}', "not a Functional"),
    ("metadata.json", b"[" * 1000 + b"]" * 1000, "deeper than"),
])
def test_bad_json(good, tmp_path, member, data, match):
    _refused(_write(tmp_path / "m.keras", {**good, member: data}), match)


def test_missing_members(good, tmp_path):
    _refused(_write(tmp_path / "a.keras", {k: v for k, v in good.items() if k != WEIGHTS}), "no 'model.weights.h5'")
    _refused(_write(tmp_path / "b.keras", {k: v for k, v in good.items() if k != "config.json"}), "no 'config.json'")


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04" + bytes(40)])
def test_not_a_model_file(tmp_path, content):
    for name in ("m.keras", "m.h5", "m.bin"):
        path = tmp_path / name
        path.write_bytes(content)
        _refused(path)


# ------------------------------------------------------------------ the weights file
def _replace(name: str, make: Callable) -> Callable:
    def edit(h5):
        del h5[name]
        make(h5, name)

    return edit


@pytest.mark.parametrize("edit,match", [
    (_replace("layers/dense/vars/0", lambda h5, n: h5.create_dataset(n, data=np.zeros((3, 3), "float32"))),
     r"shape \(3, 3\)"),
    (_replace("layers/dense/vars/0", lambda h5, n: h5.create_dataset(n, data=np.zeros((4, 3), "int32"))),
     "dtype int32"),
    (_replace("layers/dense/vars/0", lambda h5, n: h5.create_dataset(n, data=np.array([b"x"] * 12, dtype=object)
                                                                   .reshape(4, 3), dtype=h5py.string_dtype())),
     "dtype object"),
    (_replace("layers/dense/vars/0", lambda h5, n: h5.create_dataset(
        n, data=np.zeros((4, 3), dtype=[("a", "f4"), ("b", "f4")]))), "dtype"),
    (_replace("layers/dense/vars/0", lambda h5, n: h5.__setitem__(n, h5py.SoftLink("/layers/dense_1/vars/0"))),
     "SoftLink"),
    (_replace("layers/dense/vars/0", lambda h5, n: h5.__setitem__(n, h5py.ExternalLink("/etc/passwd", "/x"))),
     "ExternalLink"),
    (lambda h5: h5.__delitem__("layers/dense/vars/1"), "holds 1 weight"),
    (lambda h5: h5.create_dataset("layers/dense/vars/2", data=np.zeros(3, "float32")), "holds 3 weight"),
    (lambda h5: h5.__delitem__("layers/dense_1"), "no group 'dense_1'"),
    (lambda h5: h5["layers/dense/vars"].attrs.__setitem__("name", "someone_else"), "weights of 'someone_else'"),
], ids=["shape", "int", "object", "compound", "softlink", "externallink", "missing", "extra", "no_group", "name"])
def test_bad_weights(good, tmp_path, edit, match):
    _refused(_write(tmp_path / "m.keras", _edit_weights(good, edit)), match)


def test_external_dataset(good, tmp_path):
    def edit(h5):
        del h5["layers/dense/vars/0"]
        (tmp_path / "raw.bin").write_bytes(bytes(48))
        h5.create_dataset("layers/dense/vars/0", shape=(4, 3), dtype="float32",
                          external=[(str(tmp_path / "raw.bin"), 0, 48)])

    _refused(_write(tmp_path / "m.keras", _edit_weights(good, edit)), "external")


def test_weights_file_not_hdf5(good, tmp_path):
    _refused(_write(tmp_path / "m.keras", {**good, WEIGHTS: b"\x89HDF\r\n\x1a\n" + bytes(100)}))


# ------------------------------------------------------------------ the config
def _layer(config: dict, name: str) -> dict:
    return next(entry for entry in config["config"]["layers"] if entry["name"] == name)


@pytest.mark.parametrize("edit,match", [
    (lambda c: _layer(c, "dense_1")["inbound_nodes"][0]["args"][0]["config"].__setitem__("keras_history",
                                                                                     ["ghost", 0, 0]),
     "'ghost', which it does not list"),
    (lambda c: _layer(c, "dense_1")["inbound_nodes"][0]["args"][0]["config"].__setitem__("keras_history",
                                                                                     ["dense_2", 0, 0]),
     "never happen"),
    (lambda c: _layer(c, "dense_1")["inbound_nodes"][0]["args"][0]["config"].__setitem__("keras_history",
                                                                                     ["input", 0, 7]),
     "has no output 7"),
    (lambda c: _layer(c, "dense_1")["inbound_nodes"][0].__setitem__("args", "x"), "positional"),
    (lambda c: c["config"].__setitem__("output_layers", ["predictions", 3, 0]), "no call 3"),
    (lambda c: _layer(c, "dense_1")["config"].__setitem__("units", 10 ** 12), "implausibly large"),
    (lambda c: _layer(c, "dense_1")["config"].__setitem__("units", -3), "units"),
    (lambda c: _layer(c, "dense_1")["config"].__setitem__("activation", {"class_name": "function",
                                                                       "module": "os", "config": "system"}),
     "user code"),
    (lambda c: c["config"]["layers"].append(dict(_layer(c, "dense_1"))), "two layers named 'dense_1'"),
    (lambda c: _layer(c, "dense_1").__setitem__("class_name", "Lambda"), "bytecode"),
], ids=["unknown_layer", "cycle", "bad_output", "bad_args", "bad_io", "huge", "negative", "activation_code",
        "duplicate", "lambda"])
def test_bad_config(good, tmp_path, edit, match):
    _refused(_write(tmp_path / "m.keras", _edit_config(good, edit)), match)


# ------------------------------------------------------------------ legacy HDF5
def _legacy(tmp_path: Path, edit: Callable) -> Path:
    path = tmp_path / "m.h5"
    shutil.copy(FIXTURES / "sequential_mlp.h5", path)
    with h5py.File(path, "r+") as h5:
        edit(h5)
    return path


@pytest.mark.parametrize("edit,match", [
    (lambda h5: h5.attrs.__setitem__("model_config", 42), "not text"),
    (lambda h5: h5.attrs.__setitem__("model_config", "{" * 5000), "deeper than|not valid JSON"),
    (lambda h5: h5.attrs.__delitem__("model_config"), "no model_config"),
    (lambda h5: h5.__delitem__("model_weights"), "no group 'model_weights'"),
    (lambda h5: h5["model_weights/dense_a"].attrs.__setitem__("weight_names", [b"dense_a/bias:0", b"dense_a/kernel:0"]),
     "lists 'dense_a/bias:0'"),
    (lambda h5: h5["model_weights/dense_a"].attrs.__setitem__("weight_names", [b"dense_a/kernel:0"]),
     "1 weight"),
    (lambda h5: h5["model_weights/dense_a"].attrs.__setitem__("weight_names", np.array([1.5, 2.5])), "not text"),
    (lambda h5: h5["model_weights/dense_a"].attrs.__setitem__(
        "weight_names", [b"dense_a/../../kernel:0", b"dense_a/bias:0"]), "lists|bad HDF5 object name"),
], ids=["config_int", "config_deep", "no_config", "no_weights", "order", "count", "names_float", "traversal"])
def test_bad_legacy_files(tmp_path, edit, match):
    _refused(_legacy(tmp_path, edit), match)


def test_weights_only_file_given_to_load_model(tmp_path):
    model = guide.functional_mlp(4, 3, 2, names=True)
    model.save_weights(str(tmp_path / "w.weights.h5"))
    _refused(tmp_path / "w.weights.h5", "holds only weights")
    shutil.copy(FIXTURES / "recurrent.legacy_weights.h5", tmp_path / "legacy.h5")
    _refused(tmp_path / "legacy.h5", "holds only weights")


def test_load_weights_refuses_hostile_files_too(good, tmp_path):
    model = guide.functional_mlp(4, 3, 2, names=True)
    path = _write(tmp_path / "m.keras", _edit_weights(good, _replace(
        "layers/dense/vars/0", lambda h5, n: h5.create_dataset(n, data=np.zeros((4, 3), "int64")))))
    before = model.get_weights()
    with pytest.raises(LoadError, match="dtype int64"):
        model.load_weights(str(path))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(LoadError, match="no such file"):
        model.load_weights(str(tmp_path / "missing.weights.h5"))
    assert isinstance(kir.models.load_model(_write(tmp_path / "ok.keras", good)), kir.Model)
