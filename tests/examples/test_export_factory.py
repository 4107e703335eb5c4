"""The README's `kir-export examples/mnist_cnn.py:build_model ...` works on the example file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kir_export_builds_the_example_cnn_from_its_file(tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "kir.cli.export", "examples/mnist_cnn.py:build_model", str(out),
                           "-O2", "--batch-size", "1", "--check"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "input   input_layer: float32 (1, 8, 8, 1)" in proc.stdout
    assert "params  151,306" in proc.stdout
    assert ": OK" in proc.stdout
    assert out.stat().st_size > 500_000
