"""The kir-vs-tf2onnx benchmark still runs end to end (tiny repeat counts, one model; no timing asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "bench" / "onnx_vs_tf2onnx.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


@pytest.mark.slow
def test_mlp_markdown_run_reports_both_files_and_agreement():
    done = _run("--models", "mlp", "--repeat", "3", "--budget", "0.1", "--no-predict", "--markdown",
                "--opt-level", "both")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| mlp |")]
    assert len(rows) == 2, done.stdout  # one row per kir level, O0 and O2
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] in {"O0", "O2"}
        assert cells[3] == "9 (0)"  # tf2onnx's MLP: 3 MatMul + 3 Add + 2 Relu + Softmax
        assert float(cells[-1]) <= 1e-5  # kir's file reproduces Keras with the copied weights
        assert float(cells[-2]) <= 1e-5  # and agrees with tf2onnx's file
    assert "targets missed:" in done.stdout


def test_unknown_model_is_a_usage_error():
    done = _run("--models", "mlp,resnet50")
    assert done.returncode == 2
    assert "unknown model(s) resnet50" in done.stderr


@pytest.mark.slow
def test_transformer_bench_reports_fused_and_portable_files():
    script = ROOT / "tools" / "bench" / "transformer_vs_tf2onnx.py"
    done = subprocess.run([sys.executable, str(script), "--seq", "16", "--d-model", "16", "--heads", "2",
                           "--blocks", "1", "--vocab", "50", "--repeat", "3", "--budget", "0.1", "--markdown"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                          for line in done.stdout.splitlines() if line.startswith("| "))}
    assert {"tf2onnx", "tf2onnx A/A", "kir fused", "kir portable"} <= set(rows)
    assert int(rows["kir fused"][1]) < int(rows["kir portable"][1]) < int(rows["tf2onnx"][1])
    for key in ("kir fused", "kir portable"):
        assert float(rows[key][-1]) <= 1e-5 and float(rows[key][-2]) <= 1e-5  # = Keras, = tf2onnx's file
