"""Every example runs end to end in --smoke mode: TensorFlow training, ONNX export, onnxruntime check.

Each runs as a newcomer would run it (`python examples/x.py --smoke --out DIR`) in its own
process; the report lines it prints are checked, and the ONNX parity it reports must be OK.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("sklearn")

pytestmark = pytest.mark.slow  # ~20 TensorFlow processes: minutes in all on two cores

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# the report lines each example must print beyond training, ONNX file, parity and latency
EXPECTED = {
    "quickstart": [r"^test accuracy\s+: [\d.]+% ", r"^ONNX export\s+: wrote .*quickstart\.onnx",
                   r"nodes\s+\d+ \(.*Conv 2", r"^serve it\s+: onnxruntime\.InferenceSession"],
    "mnist_mlp": [r"^test metrics\s+: accuracy [\d.]+, loss"],
    "mnist_cnn": [r"^test metrics\s+: accuracy [\d.]+, loss"],
    "cifar10_cnn": [r"generated textures -> CNN", r"^test metrics\s+: accuracy"],
    "imdb_lstm": [r"generated reviews -> Embedding \+ LSTM", r"^test metrics\s+: accuracy"],
    "masked_bilstm_text": [r"Embedding\(mask_zero=True\) \+ Bidirectional\(LSTM\)", r"^test metrics\s+: accuracy",
                           r"^padding\s+: left- vs right-padded predictions differ by at most "
                           r"(0\.00e\+00|\d\.\d\de-(0[7-9]|[1-9]\d))",
                           r"^ONNX check\s+: right \(back\)-padded(?:.*\n)+ONNX parity\s+: max abs err \S+ .*\[OK\]"],
    "reuters_mlp": [r"generated newswires -> MLP", r"^test metrics\s+: accuracy"],
    "transformer_classifier": [r"generated marker order -> 1 encoder block", r"^test metrics\s+: accuracy",
                               r"nodes: .*Attention 1, BiasGelu 1"],
    "lstm_text_generation": [r"^corpus\s+: 300 characters", r"^----- sample, diversity 0\.2, seed 'the zen of'"],
    "guide_mlp_binary": [r"^test metrics\s+: accuracy [\d.]+, loss"],
    "guide_mlp_categorical": [r"^test metrics\s+: accuracy [\d.]+, loss"],
    "guide_multi_io": [r"inputs \['main_input', 'aux_input'\], outputs \['main_output', 'aux_output'\]",
                       r"^test metrics\s+: .*main_output accuracy [\d.]+, aux_output accuracy [\d.]+"],
    "guide_shared_lstm": [r"one LSTM called twice", r"^test metrics\s+: accuracy"],
    "guide_inception": [r"block output \(None, 24, 8, 64\)", r"^test metrics\s+: accuracy"],
    "guide_residual": [r"output \(None, 8, 8, 3\)", r"^test metrics\s+: loss [\d.]+", r"^baseline\s+: noise"],
    "guide_shared_vision": [r"shared by both inputs", r"^test metrics\s+: accuracy"],
    "guide_vqa": [r"^test metrics\s+: accuracy"],
    "guide_video_qa": [r"2 frames of 32x32", r"^test metrics\s+: accuracy"],
}


def run_example(name: str, *args: str, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


def check_report(proc: subprocess.CompletedProcess, onnx_file: Path) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = proc.stdout
    assert re.search(r"^training\s+: 1 epoch", out, re.M), out
    parity = re.search(r"^ONNX parity\s+: max abs err (\S+) vs predict\(backend='tensorflow'\) on \d+ samples \[OK\]",
                       out, re.M)
    assert parity, out
    assert float(parity.group(1)) < 1e-4
    assert re.search(r"^ORT latency\s+: batch 1: [\d.]+ ms, batch \d+: [\d.]+ ms", out, re.M), out
    assert onnx_file.is_file() and onnx_file.stat().st_size > 0
    return out


def test_every_example_is_tested() -> None:
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_smoke(name: str, tmp_path: Path) -> None:
    out = check_report(run_example(name, "--smoke", out=tmp_path), tmp_path / f"{name}.onnx")
    for pattern in EXPECTED[name]:
        assert re.search(pattern, out, re.M), f"{name}: no line matching {pattern!r} in\n{out}"


def test_cifar10_reads_keras_layout_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "cifar10.npz"
    np.savez(data, x_train=rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8),
             y_train=rng.integers(0, 10, (40, 1)), x_test=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
             y_test=rng.integers(0, 10, (20, 1)))
    out = check_report(run_example("cifar10_cnn", "--smoke", "--data", str(data), out=tmp_path),
                       tmp_path / "cifar10_cnn.onnx")
    assert f"--data {data} -> CNN" in out
    assert re.search(r"^training\s+: 1 epoch\(s\) on 40 samples", out, re.M)


def test_reuters_reads_word_lists_with_allow_pickle(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "reuters.npz"
    x = np.empty(50, dtype=object)
    x[:] = [list(rng.integers(1, 5000, rng.integers(5, 40))) for _ in range(50)]
    np.savez(data, x=x, y=rng.integers(0, 46, 50))
    refused = run_example("reuters_mlp", "--smoke", "--data", str(data), out=tmp_path)
    assert refused.returncode != 0
    assert "stores Python objects" in refused.stderr and "--allow-pickle" in refused.stderr
    assert "Traceback" not in refused.stderr
    out = check_report(run_example("reuters_mlp", "--smoke", "--data", str(data), "--allow-pickle", out=tmp_path),
                       tmp_path / "reuters_mlp.onnx")
    assert re.search(r"^training\s+: 1 epoch\(s\) on 40 samples", out, re.M)  # Keras' x/y split: 80% train
