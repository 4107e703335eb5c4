"""Atomic publishing (kir.fileio): old or new, never a mix; no temp file outlives its writer."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import kir
from kir import fileio
from kir.backends.onnx import Runtime, export
from kir.errors import ExportError, GraphError, ShapeError
from kir.layers import Dense, Input, Reshape
from kir.models import Model, Sequential, load_model


def _mlp(seed: int) -> Model:
    rng = np.random.default_rng(seed)
    x = Input(shape=(8,), name="x")
    model = Model(x, Dense(64, name="out")(Dense(64, activation="relu", name="hidden")(x)), name="mlp")
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def _temps(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(fileio.TEMP_PREFIX))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------- external data: old or new, never a mix
def test_external_data_export_killed_before_the_graph_keeps_the_old_model_whole(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    x = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    old, new = _mlp(1), _mlp(2)
    export(old, path, external_data_threshold=1000)
    expected = old.predict(x)
    real = fileio.publish

    def die_before_graph(staged: str, target: str) -> None:
        if target == str(path):
            raise KeyboardInterrupt  # the writer dies between the data file and the graph
        real(staged, target)

    monkeypatch.setattr(fileio, "publish", die_before_graph)
    with pytest.raises(KeyboardInterrupt):
        export(new, path, external_data_threshold=1000)
    monkeypatch.undo()
    np.testing.assert_allclose(Runtime(str(path)).run([x])[0], expected, rtol=1e-5, atol=1e-5)
    assert _temps(tmp_path) == []
    result = export(new, path, external_data_threshold=1000)  # the next export publishes and cleans up
    assert sorted(os.listdir(tmp_path)) == sorted(["m.onnx", os.path.basename(result.external_data)])
    np.testing.assert_allclose(Runtime(str(path)).run([x])[0], new.predict(x), rtol=1e-5, atol=1e-5)


def test_small_export_removes_the_data_files_of_earlier_large_ones(tmp_path):
    path = tmp_path / "m.onnx"
    export(_mlp(1), path, external_data_threshold=1000)
    export(_mlp(1), path)
    assert os.listdir(tmp_path) == ["m.onnx"]


# ---------------------------------------------------------------- temp names
@pytest.mark.parametrize("length", [242, 250, 255])
def test_longest_valid_names_save_and_export(tmp_path, length):
    model = _mlp(0)
    kir_path = tmp_path / ("k" * (length - 4) + ".kir")
    model.save(str(kir_path))
    assert load_model(str(kir_path)).count_params() == model.count_params()
    keras_path = tmp_path / ("k" * (length - 6) + ".keras")
    model.save(str(keras_path))
    onnx_path = tmp_path / ("o" * (length - 5) + ".onnx")
    result = export(model, onnx_path, external_data_threshold=1000)
    assert len(os.path.basename(result.external_data)) <= 255
    assert Runtime(str(onnx_path)).run([np.zeros((1, 8), "float32")])[0].shape == (1, 64)
    assert _temps(tmp_path) == []


def test_unwritable_folder_is_an_export_error_naming_the_path():
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    target = "/proc/self/m.kir"  # even root cannot create files there
    with pytest.raises(ExportError, match=r"'/proc/self/m\.kir'.*cannot create a temporary file"):
        _mlp(0).save(target)
    with pytest.raises(ExportError, match=r"'/proc/self/m\.onnx'"):
        export(_mlp(0), "/proc/self/m.onnx")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_an_export_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="ro/m.kir"):
            _mlp(0).save(str(folder / "m.kir"))
    finally:
        folder.chmod(0o700)


def test_stale_temps_of_dead_writers_are_removed_by_the_next_write(tmp_path):
    dead = tmp_path / f"{fileio.TEMP_PREFIX}{_dead_pid()}-0123abcd"
    dead.write_bytes(b"x" * 1000)
    dead_dir = tmp_path / f"{fileio.TEMP_PREFIX}{_dead_pid()}-4567abcd"
    dead_dir.mkdir()
    (dead_dir / "model.onnx").write_bytes(b"partial")
    alive = tmp_path / f"{fileio.TEMP_PREFIX}{os.getppid()}-89abcdef"  # a running writer's: kept
    alive.write_bytes(b"y")
    _mlp(0).save(str(tmp_path / "m.kir"))
    assert _temps(tmp_path) == [alive.name]
    dead.write_bytes(b"x")
    export(_mlp(0), tmp_path / "m.onnx")
    assert _temps(tmp_path) == [alive.name]


def test_temp_names_are_short_and_recognisable():
    name = fileio.temp_name()
    assert fileio.TEMP_PATTERN.match(name) and len(name) <= 32


# ---------------------------------------------------------------- Sequential.add that raised
def test_failed_add_keeps_no_layer_and_the_model_still_saves(tmp_path):
    model = Sequential([Input(shape=(4,)), Dense(3, name="d")], name="s")
    with pytest.raises(ShapeError, match="reshape"):
        model.add(Reshape((5,), name="reshape"))
    assert [layer.name for layer in model.layers] == ["d"] and model.output_shape == (None, 3)
    model.save(str(tmp_path / "s.kir"))
    assert [layer.name for layer in load_model(str(tmp_path / "s.kir")).layers] == ["d"]
    model.add(Dense(2, name="e"))
    assert model.output_shape == (None, 2)


def test_failed_add_of_the_first_layer_leaves_an_empty_stack():
    model = Sequential([Input(shape=(4,))])
    with pytest.raises(ShapeError):
        model.add(Reshape((5,)))
    assert model.layers == [] and model.outputs == []
    with pytest.raises(GraphError):
        model.add(Dense(2, name="x")) or model.add(kir.layers.Dense(2, name="x"))
    assert [layer.name for layer in model.layers] == ["x"]
