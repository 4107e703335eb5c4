"""The classic Keras 2 example scripts, ported to kir (examples/keras_classics/), run in --smoke mode.

Each port is Keras' 2.3.1 `examples/<name>.py` with `keras` imports swapped for `kir` and its dataset
download replaced by small arrays of the same shapes (examples/keras_classics/_classic.py). Each runs
as a user would (`python examples/keras_classics/x.py --smoke --out DIR`, in its own process and in a
scratch working directory, since the originals write files there), must exit 0 and print an OK ONNX
parity line: onnxruntime agrees with `model.predict(x, backend='tensorflow')` to 1e-4.

A port that needs something kir lacks is an expected failure (strict: it starts failing, i.e.
passing, the moment the feature lands; then remove its marker).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("sklearn")
pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]
CLASSICS = ROOT / "examples" / "keras_classics"

slow = pytest.mark.slow

# script -> (extra arguments, ONNX files it must write, marks)
PORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple]] = {
    "mnist_mlp": ((), ("mnist_mlp",), ()),
    "mnist_cnn": ((), ("mnist_cnn",), ()),
    "cifar10_cnn": ((), ("cifar10_cnn",), ()),
    "imdb_lstm": ((), ("imdb_lstm",), (slow,)),
    "imdb_cnn": ((), ("imdb_cnn",), ()),
    "reuters_mlp": ((), ("reuters_mlp",), ()),
    "babi_rnn": ((), ("babi_rnn",), (slow,)),
    "addition_rnn": ((), ("addition_rnn",), (slow,)),
    "lstm_seq2seq": ((), ("lstm_seq2seq",), (slow,)),
    "mnist_siamese": ((), ("mnist_siamese",), ()),
    "variational_autoencoder": ((), ("vae_mlp_encoder", "vae_mlp_decoder"), ()),
    "mnist_denoising_autoencoder": ((), ("mnist_denoising_autoencoder",), ()),
    "mnist_irnn": ((), ("mnist_irnn",), (slow,)),
    "antirectifier": ((), ("antirectifier",), ()),
    "mnist_transfer_cnn": ((), ("mnist_transfer_cnn",), ()),
    "conv_lstm": ((), ("conv_lstm",), (slow,)),
}
# the VAE's --mse variant (its own command-line option): the other add_loss form
VARIANTS = {"variational_autoencoder --mse": ("variational_autoencoder", ("--mse",),
                                              ("vae_mlp_encoder", "vae_mlp_decoder"))}

PARITY = re.compile(r"^ONNX parity\s+: max abs err (\S+) vs predict\(backend='tensorflow'\) on \d+ samples \[OK\]",
                    re.M)


def run_port(name: str, args: tuple[str, ...], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    out = tmp_path / "out"
    return subprocess.run([sys.executable, str(CLASSICS / f"{name}.py"), "--smoke", *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)


def check(proc: subprocess.CompletedProcess, onnx_files: tuple[str, ...], tmp_path: Path) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    parities = PARITY.findall(proc.stdout)
    assert len(parities) == len(onnx_files), proc.stdout[-3000:]
    assert all(float(err) < 1e-4 for err in parities), parities
    for name in onnx_files:
        path = tmp_path / "out" / f"{name}.onnx"
        assert path.is_file() and path.stat().st_size > 0, path


def test_every_port_is_tested() -> None:
    scripts = {p.stem for p in CLASSICS.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(PORTS)


def test_every_port_names_its_original_and_its_changes() -> None:
    for name in PORTS:
        doc = (CLASSICS / f"{name}.py").read_text(encoding="utf-8")
        assert f"keras-team/keras, examples/{name}.py at tag 2.3.1" in doc, name
        assert "Changes besides `keras` -> `kir` imports" in doc, name


@pytest.mark.parametrize("name", [pytest.param(n, marks=m) for n, (_, _, m) in PORTS.items()])
def test_smoke(name: str, tmp_path: Path) -> None:
    args, onnx_files, _ = PORTS[name]
    check(run_port(name, args, tmp_path), onnx_files, tmp_path)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_smoke_variant(variant: str, tmp_path: Path) -> None:
    name, args, onnx_files = VARIANTS[variant]
    check(run_port(name, args, tmp_path), onnx_files, tmp_path)
