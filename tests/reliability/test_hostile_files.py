"""Hostile `.kir` and Keras files: refused with a LoadError before they cost more than they declare.

Each case here made kir hang, allocate gigabytes, take minutes, or raise a raw exception before
(issue 11); the memory test measures the peak with tracemalloc (numpy's buffers included)."""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kir.errors import LoadError
from kir.layers import Activation, Dense, Input
from kir.models import Sequential, load_model
from kir.models.keras_files import load_weights

MB = 1 << 20


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, bytes]:
    path = tmp_path_factory.mktemp("good") / "m.kir"
    Sequential([Input(shape=(4,)), Dense(2, name="dense")], name="s").save(str(path))
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write(path: Path, members: dict[str, bytes], deflate: set[str] = frozenset(), level: int = 1) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            method = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            zf.writestr(name, data, compress_type=method, compresslevel=level)
    return path


def _doc(members: dict[str, bytes]) -> dict:
    return json.loads(members["model.json"])


def _with_doc(members: dict[str, bytes], doc: dict) -> dict[str, bytes]:
    return {**members, "model.json": json.dumps(doc).encode()}


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _refused(path: Path, match: str) -> LoadError:
    with pytest.raises(LoadError, match=match) as info:
        load_model(str(path))
    assert f"'{path}'" in str(info.value) and "\n" not in str(info.value)
    return info.value


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except LoadError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# ---------------------------------------------------------------- bombs: memory bounded by what the file declares
def _units_bomb(saved, tmp_path) -> Path:
    doc = _doc(saved)
    doc["model"]["config"]["layers"][0]["config"]["units"] = 10**8
    return _write(tmp_path / "units.kir", _with_doc(saved, doc))


def _deflate_bomb(saved, tmp_path) -> Path:
    doc = _doc(saved)
    doc["model"]["config"]["layers"][0]["config"]["units"] = 2_500_000  # kernel (4, 2.5M): 40 MB of zeros
    members = _with_doc(saved, doc)
    members["weights/2/0.npy"] = _npy(np.zeros((4, 2_500_000), "float32"))
    members["weights/2/1.npy"] = _npy(np.zeros((2_500_000,), "float32"))
    return _write(tmp_path / "deflate.kir", members, deflate={"weights/2/0.npy", "weights/2/1.npy"})


def _json_bomb(saved, tmp_path) -> Path:
    padded = saved["model.json"][:-1] + b" " * (70 * MB) + b"}"
    return _write(tmp_path / "json.kir", {**saved, "model.json": padded}, deflate={"model.json"})


@pytest.mark.parametrize("case, match", [
    (_units_bomb, r"layer 'dense': weight 'kernel' of shape \(4, 100000000\) needs 1,600,000,000 bytes"),
    (_deflate_bomb, r"would expand .* times; refusing a possible zip bomb"),
    (_json_bomb, r"'model.json' declares \d+ bytes, over the limit of 67108864 \(raise it with KIR_MAX_JSON_BYTES"),
])
def test_bombs_fail_fast_within_twice_the_declared_model_plus_a_margin(saved, tmp_path, case, match):
    path = case(saved, tmp_path)
    declared = sum(info.file_size for info in zipfile.ZipFile(path).infolist() if info.filename.startswith("weights/"))
    _refused(path, match)
    start = time.perf_counter()
    peak = _peak(lambda: load_model(str(path)))
    assert time.perf_counter() - start < 10
    assert peak < 2 * min(declared, 64 * MB) + 16 * MB, f"peak {peak / MB:.0f} MB"


def test_json_limits_can_be_raised_or_lowered_by_environment(saved, tmp_path, monkeypatch):
    path = _write(tmp_path / "m.kir", saved)
    monkeypatch.setenv("KIR_MAX_JSON_BYTES", "100")
    _refused(path, "over the limit of 100")
    monkeypatch.setenv("KIR_MAX_JSON_BYTES", "lots")
    _refused(path, "KIR_MAX_JSON_BYTES='lots' is not a whole number")
    monkeypatch.delenv("KIR_MAX_JSON_BYTES")
    monkeypatch.setenv("KIR_MAX_JSON_DEPTH", "3")
    _refused(path, "nests deeper than 3 levels.*KIR_MAX_JSON_DEPTH")
    monkeypatch.delenv("KIR_MAX_JSON_DEPTH")
    assert load_model(str(path)).count_params() == 10


# ---------------------------------------------------------------- wrong exception types
def test_deep_json_is_a_load_error(saved, tmp_path):
    _refused(_write(tmp_path / "deep.kir", {**saved, "model.json": b"[" * 200_000 + b"]" * 200_000}),
             "nests deeper than 2048 levels")


@pytest.mark.parametrize("depth", [600, 5000])
def test_deeply_nested_time_distributed_is_a_load_error(saved, tmp_path, depth):
    """5000 nested TimeDistributed raised RecursionError; 600 passes the JSON cap, then recurses."""
    _refused(_write(tmp_path / "td.kir", {**saved, "model.json": _deep_dumps(_doc(saved), depth)}),
             "nests deeper than 2048 levels|nests too deeply to rebuild|layer 'td")


def _deep_dumps(doc: dict, depth: int) -> bytes:
    """json.dumps recurses; the deep document is built from string templates instead."""
    inner = f'{{"id": {depth + 2}, "class_name": "Dense", "trainable": true, "config": {{"units": 2, "name": "d"}}}}'
    head = "".join(f'{{"id": {i + 1}, "class_name": "TimeDistributed", "trainable": true, "config": {{"name": '
                   f'"td{i}", "layer": {{"__layer__": ' for i in range(1, depth + 1))
    doc["model"]["config"]["layers"] = ["@@"]
    doc["weights"] = []
    return json.dumps(doc).replace('"@@"', head + inner + "}}}" * depth).encode()


def test_truncated_weight_data_is_reported_as_truncated(saved, tmp_path):
    members = {**saved, "weights/2/0.npy": saved["weights/2/0.npy"][:-8]}
    _refused(_write(tmp_path / "short.kir", members), r"'weights/2/0.npy' is truncated: it holds 24 of the 32")


def test_fortran_ordered_and_mismatched_weights(saved, tmp_path):
    kernel = np.asfortranarray(np.arange(8, dtype="float32").reshape(4, 2))
    model = load_model(str(_write(tmp_path / "f.kir", {**saved, "weights/2/0.npy": _npy(kernel)})))
    np.testing.assert_array_equal(model.get_weights()[0], kernel)
    wrong = {**saved, "weights/2/0.npy": _npy(np.zeros((4, 2), ">f4"))}
    _refused(_write(tmp_path / "be.kir", wrong), r"weight dense/kernel in 'weights/2/0.npy' is >f4\[4, 2\]")
    trailing = {**saved, "weights/2/0.npy": saved["weights/2/0.npy"] + b"junk"}
    _refused(_write(tmp_path / "tail.kir", trailing), "holds 4 bytes after the array")


def test_corrupt_deflate_stream_is_a_load_error(saved, tmp_path):
    path = _write(tmp_path / "z.kir", saved, deflate={"weights/2/0.npy"}, level=9)
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("weights/2/0.npy")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start: start + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    _refused(path, "not a valid zip file|corrupt")


def test_unsupported_compression_method_is_a_load_error(saved, tmp_path):
    path = _write(tmp_path / "method.kir", saved)
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("model.json")
    data[info.header_offset + 8: info.header_offset + 10] = struct.pack("<H", 97)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_len = struct.unpack("<H", data[central + 28: central + 30])[0]
        if data[central + 46: central + 46 + name_len] == b"model.json":
            data[central + 10: central + 12] = struct.pack("<H", 97)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    _refused(path, "zip feature kir does not read|compression")


@pytest.mark.parametrize("name", ["m.kir", "m.keras", "m.h5", "m"])
def test_named_pipe_is_refused_at_once(tmp_path, name):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    fifo = tmp_path / name
    os.mkfifo(fifo)
    outcome: list = []

    def load() -> None:
        try:
            load_model(str(fifo))
        except LoadError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # unblock the reader so the test process can exit
        with open(fifo, "wb"):
            pass
        pytest.fail("load_model blocked on a named pipe")
    assert outcome and "not a regular file" in str(outcome[0])


def test_named_pipe_for_keras_weights_is_refused(tmp_path):
    fifo = tmp_path / "w.weights.h5"
    os.mkfifo(fifo)
    model = Sequential([Input(shape=(4,)), Dense(2)])
    with pytest.raises(LoadError, match="not a regular file"):
        load_weights(model, str(fifo))


def test_units_bomb_in_a_keras_archive_fails_before_allocating(tmp_path):
    path = tmp_path / "m.keras"
    Sequential([Input(shape=(4,)), Dense(2, name="dense")]).save(str(path))
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][-1]["config"]["units"] = 10**8
    members["config.json"] = json.dumps(config).encode()
    bad = _write(tmp_path / "units.keras", members)
    peak = _peak(lambda: load_model(str(bad)))
    _refused(bad, r"layer 'dense': weight 'kernel' of shape \(4, 100000000\)")
    assert peak < 64 * MB


# ---------------------------------------------------------------- linear time
def test_400k_weight_references_are_refused_in_linear_time(saved, tmp_path):
    doc = _doc(saved)
    doc["weights"] = [doc["weights"][0]] * 400_000
    path = _write(tmp_path / "refs.kir", _with_doc(saved, doc), deflate={"model.json"})
    start = time.perf_counter()
    _refused(path, "'weights/2/0.npy' is listed twice")
    assert time.perf_counter() - start < 15


def _stack(n: int) -> Sequential:
    return Sequential([Input(shape=(2,))] + [Activation("relu", name=f"a{i}") for i in range(n)], name=f"s{n}")


def test_loading_grows_linearly_with_the_layer_count(tmp_path):
    """1000 -> 4000 layers: about 4x the time (it was quadratic: 4000 layers took minutes)."""
    seconds = {}
    for n in (1000, 4000):
        path = tmp_path / f"s{n}.kir"
        _stack(n).save(str(path))
        start = time.perf_counter()
        model = load_model(str(path))
        seconds[n] = time.perf_counter() - start
        assert len(model.layers) == n
    assert seconds[4000] < 8 * seconds[1000] + 0.5, seconds
