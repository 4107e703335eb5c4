"""Writers killed at random moments (SIGKILL, SIGTERM, SIGINT) during save, export (with and
without external data) and ModelCheckpoint: the previous file is intact and readable, and no
temporary file survives the next write into that folder.

Bounded in CI (one kill per case; the ModelCheckpoint cases, which start TensorFlow, are marked
slow); KIR_KILL_ITERATIONS=N kills N times per case for a deep run."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from kir.backends.onnx import Runtime
from kir.layers import Dense, Input
from kir.models import Sequential, load_model

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("kill_writer.py")
ITERATIONS = int(os.environ.get("KIR_KILL_ITERATIONS", "1"))
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}
FAST = {("save", "SIGKILL"), ("export_ext", "SIGTERM"), ("export", "SIGINT")}


def _cases() -> list:
    cases = []
    for mode in ("save", "export", "export_ext", "checkpoint"):
        for name in SIGNALS:
            marks = [] if (mode, name) in FAST else [pytest.mark.slow]
            cases.append(pytest.param(mode, name, marks=marks, id=f"{mode}-{name}"))
    return cases


def _temps(folder: Path) -> list[str]:
    """Whatever is in `folder` besides the files the writers publish (temporary names of any kind)."""
    published = re.compile(r"(m\.kir|ckpt\.kir|m\.onnx|m\.onnx\.[0-9a-f]{16}\.data|next\.kir)")
    return sorted(p.name for p in folder.iterdir() if not published.fullmatch(p.name))


def _constant(arrays: list[np.ndarray], where: str) -> float:
    """The one value every weight holds (a mix of versions would show two)."""
    values = {float(v) for a in arrays for v in np.unique(a)}
    assert len(values) == 1, f"{where} mixes weight versions {sorted(values)[:5]}"
    return values.pop()


def _check_intact(mode: str, target: Path) -> None:
    if mode in ("save", "checkpoint"):
        model = load_model(str(target))
        if mode == "save":
            _constant(model.get_weights(), str(target))
        model.predict(np.ones((2, 16), "float32"))
        return
    proto = onnx.load(str(target))  # reads the external data file the graph names
    _constant([numpy_helper.to_array(t) for t in proto.graph.initializer if t.dims], str(target))
    assert Runtime(str(target)).run([np.ones((2, 16), "float32")])[0].shape == (2, 8)


def _kill_once(mode: str, signame: str, folder: Path, rng: random.Random) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(WRITER), mode, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(SIGNALS[signame])
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    target = folder / ("ckpt.kir" if mode == "checkpoint" else "m.kir" if mode == "save" else "m.onnx")
    _check_intact(mode, target)
    if signame != "SIGKILL":  # the dying writer removed its own temporary files
        assert _temps(folder) == [], f"{signame} left {_temps(folder)}"
    Sequential([Input(shape=(2,)), Dense(1)]).save(str(folder / "next.kir"))  # the next write into the folder
    assert _temps(folder) == []
    _check_intact(mode, target)


@pytest.mark.parametrize("mode, signame", _cases())
def test_killed_writer_leaves_the_previous_file_and_no_temp(tmp_path, mode, signame):
    rng = random.Random(os.environ.get("KIR_KILL_SEED", f"{mode}-{signame}"))
    for i in range(ITERATIONS):
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        _kill_once(mode, signame, folder, rng)
