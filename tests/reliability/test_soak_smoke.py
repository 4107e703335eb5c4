"""tools/bench/soak.py still runs (tiny counts, numpy and ONNX only: no TensorFlow start-up in CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "bench" / "soak.py"


def test_soak_prints_rss_samples_and_a_growth_table(capsys):
    spec = importlib.util.spec_from_file_location("kir_soak", SCRIPT)
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    assert soak.main(["--predicts", "20", "--epochs", "0", "--every", "10", "--backends", "numpy,onnx"]) == 0
    out = capsys.readouterr().out
    assert "predict[numpy]: 0: " in out and "predict[onnx]: " in out
    assert "| predict x20 (numpy) |" in out and "| predict x20 (onnx) |" in out
    assert soak.growth([(0, 10.0), (10, 12.0), (100, 12.5)]) == (12.0, 0.5)
