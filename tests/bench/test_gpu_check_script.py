"""tools/gpu/check_onnx_gpu.py, the prepared GPU run, still works: on this CPU-only machine its
GPU rows run on the CPU provider (--stand-in), so every check's own code runs and is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "gpu" / "check_onnx_gpu.py"


def test_stand_in_run_exercises_every_check(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--stand-in", "--budget", "0.05",
                           "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tensorflow" not in done.stderr.lower()  # the GPU image has no TensorFlow: the script must not need it
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    assert results["stand_in"] is True
    assert "CPUExecutionProvider" in results["environment"]["providers"]
    for name in ("mlp", "lstm", "transformer"):
        checks = results[name]["checks"]
        assert "error" not in checks, checks
        failed = {k: v for k, v in checks.items() if isinstance(v, dict) and "error" in v}
        assert not failed, failed
        assert checks["cuda_parity"]["max_abs_vs_cpu"] == 0.0
        assert checks["io_binding"]["max_abs_vs_run"] == 0.0
        assert checks["io_binding"]["output_devices"] == ["cpu"]
        assert 0 < checks["cuda_float16"]["max_abs_vs_fp32"] < 1e-2
        assert set(checks["latency_us"]["b32"]) >= {"cpu", "cpu_aa", "cuda", "aa"}
        assert "not available" in checks["targets"]["cuda"]
        assert checks["tensorrt"] == {"skipped": "onnxruntime lists no TensorrtExecutionProvider"}
    fused = results["transformer"]["checks"]["fused_vs_portable"]
    assert "Attention" in fused["fused_ops"] and fused["max_abs_fused_vs_portable"] < 1e-5


def test_without_stand_in_the_gpu_rows_say_not_available(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--budget", "0.05", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    checks = results["mlp"]["checks"]
    assert checks["cuda"] == "not available: onnxruntime has no CUDAExecutionProvider here"
    assert "io_binding" not in checks and "cuda" not in checks["latency_us"]["b1"]
