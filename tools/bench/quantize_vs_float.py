#!/usr/bin/env python
"""int8 (kir export(quantize=...), i.e. onnxruntime.quantization) vs float32 in onnxruntime on the CPU.

Models: Keras' mnist_mlp and mnist_cnn trained briefly on scikit-learn's handwritten digits (8x8,
upsampled to MNIST's 28x28 so the models have their usual size), and imdb_lstm (80 tokens, 20000
words, 128 units; untrained: only its output error is reported). For each model the float file and
one int8 file per mode are timed in onnxruntime CPU sessions built from one SessionOptions recipe,
interleaved run by run, at batch 1 and 32; 'A/A' is a second session of the float file timed
against the first (the noise floor of the ratio). Accuracy is top-1 on the held-out digits.

    python tools/bench/quantize_vs_float.py                         # all models, text table
    python tools/bench/quantize_vs_float.py --models mlp --modes dynamic,auto --budget 2 --markdown
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import _common as C  # noqa: E402

MODELS = ("mlp", "cnn", "lstm")
MODES = ("dynamic", "static", "auto")


@dataclass
class Row:
    """One int8 file against its float file."""

    model: str
    mode: str
    float_us: dict[int, float] = field(default_factory=dict)
    int8_us: dict[int, float] = field(default_factory=dict)
    aa: dict[int, float] = field(default_factory=dict)
    acc_float: float | None = None
    acc_int8: float | None = None
    max_err: float = 0.0
    note: str = ""

    def speedup(self, b: int) -> float:
        return self.float_us[b] / self.int8_us[b]


def digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as 28x28x1 images in [0, 1] (each pixel repeated, then padded 2 per side: 8*3+4),
    split 75/25 stratified by class."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8)
    x = np.pad(np.kron(x, np.ones((3, 3), np.float32)), ((0, 0), (2, 2), (2, 2)))[..., None]
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for d in range(10):
        idx = np.flatnonzero(y == d)
        test[rng.choice(idx, len(idx) // 4, replace=False)] = True
    return x[~test], y[~test], x[test], y[test]


def build(name: str, data: tuple, epochs: int):
    """The kir model (trained on digits for mlp/cnn), its eval inputs/labels and calibration inputs."""
    from kir.zoo.keras_examples import imdb_lstm, mnist_cnn, mnist_mlp

    if name == "lstm":
        model = imdb_lstm(names=True)
        rng = np.random.default_rng(0)
        x = rng.integers(0, 20000, (256, 80)).astype("int32")
        return model, x, None, x[:128]
    x_train, y_train, x_test, y_test = data
    if name == "mlp":
        model = mnist_mlp(784, names=True)
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    else:
        model = mnist_cnn(28, names=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    return model, x_test, y_test, x_train[:256]


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred.argmax(-1) == y))


@dataclass
class Files:
    """One model's float file, its int8 files by mode, and the data to run them on."""

    name: str
    float_path: str
    int8: dict[str, tuple[str, object]]
    x_eval: np.ndarray
    y_eval: np.ndarray | None


def export_model(name: str, args: argparse.Namespace, data: tuple, workdir: str) -> Files:
    """Train (mlp, cnn), export float and quantize once per mode. Runs before any timed session
    exists: onnxruntime's quantizers make sessions of their own."""
    model, x_eval, y_eval, calib = build(name, data, args.epochs)
    float_path = os.path.join(workdir, f"{name}.onnx")
    model.export(float_path)
    files = Files(name, float_path, {}, x_eval, y_eval)
    for mode in args.modes:
        if mode == "static" and name == "lstm":
            continue  # onnxruntime quantizes LSTM dynamically only: static would leave it float
        path = os.path.join(workdir, f"{name}.{mode}.onnx")
        t0 = time.perf_counter()
        report = model.export(path, quantize=mode, calibration=calib, quantize_sample=calib).quantization
        files.int8[mode] = (path, report)
        print(f"{name} {mode}: quantized in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        if args.verbose:
            print(report, file=sys.stderr)
    return files


def time_model(files: Files, args: argparse.Namespace) -> list[Row]:
    float_sess = C.make_session(files.float_path, args.threads)
    aa_sess = C.make_session(files.float_path, args.threads)
    input_name = float_sess.get_inputs()[0].name
    x_eval, y_eval = files.x_eval, files.y_eval
    float_out = float_sess.run(None, {input_name: x_eval})[0]
    rows = []
    for mode, (path, report) in files.int8.items():
        row = Row(files.name, mode, note="" if report.quantized else "auto kept float32")
        sess = C.make_session(path, args.threads)
        out = sess.run(None, {input_name: x_eval})[0]
        row.max_err = float(np.max(np.abs(out - float_out)))
        if y_eval is not None:
            row.acc_float, row.acc_int8 = accuracy(float_out, y_eval), accuracy(out, y_eval)
        for b in args.batches:
            xb = np.ascontiguousarray(np.resize(x_eval, (b, *x_eval.shape[1:])))
            feeds = {input_name: xb}
            timing = C.interleaved({"float": lambda f=feeds: float_sess.run(None, f),
                                    "int8": lambda f=feeds, s=sess: s.run(None, f),
                                    "float A/A": lambda f=feeds, s=aa_sess: s.run(None, f)},
                                   repeat=args.repeat, budget_s=args.budget)
            row.float_us[b] = timing.medians["float"] * 1e6
            row.int8_us[b] = timing.medians["int8"] * 1e6
            row.aa[b] = timing.medians["float A/A"] / timing.medians["float"]
        rows.append(row)
    return rows


def table(rows: list[Row], batches: list[int], markdown: bool) -> str:
    head = ["model", "mode"]
    for b in batches:
        head += [f"b{b} float us", f"b{b} int8 us", f"b{b} speedup", f"b{b} A/A"]
    head += ["acc float", "acc int8", "delta pts", "max |int8-float|", "note"]
    body = []
    for r in rows:
        cells = [r.model, r.mode]
        for b in batches:
            cells += [f"{r.float_us[b]:.0f}", f"{r.int8_us[b]:.0f}", f"{r.speedup(b):.2f}x", f"{r.aa[b]:.2f}"]
        if r.acc_float is None:
            cells += ["-", "-", "-"]
        else:
            cells += [f"{r.acc_float:.2%}", f"{r.acc_int8:.2%}", f"{(r.acc_int8 - r.acc_float) * 100:+.2f}"]
        cells += [f"{r.max_err:.2e}", r.note]
        body.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in body])
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*c) for c in body])


def goals(rows: list[Row]) -> list[str]:
    """The issue's targets at batch 32 (auto rows): >= 2x MLP/LSTM, >= 1.3x CNN, accuracy within 0.5."""
    want = {"mlp": 2.0, "lstm": 2.0, "cnn": 1.3}
    out = []
    for r in rows:
        if r.mode != "auto" or 32 not in r.float_us:
            continue
        ok = r.speedup(32) >= want[r.model]
        acc = "" if r.acc_float is None else f", accuracy {(r.acc_int8 - r.acc_float) * 100:+.2f} points " \
            f"({'met' if abs(r.acc_int8 - r.acc_float) <= 0.005 else 'MISSED'})"
        out.append(f"{r.model}: auto {r.speedup(32):.2f}x at batch 32 (goal {want[r.model]}x: "
                   f"{'met' if ok else 'MISSED'}; A/A {r.aa[32]:.2f}){acc}")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma list of: {', '.join(MODELS)}")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma list of: {', '.join(MODES)}")
    p.add_argument("--batches", default="1,32", help="comma list of batch sizes")
    p.add_argument("--repeat", type=int, default=300, help="max interleaved rounds per file and batch")
    p.add_argument("--budget", type=float, default=4.0, help="seconds per file and batch (at least 5 rounds)")
    p.add_argument("--epochs", type=int, default=8, help="training epochs on the digits (mlp, cnn)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="onnxruntime intra-op threads")
    p.add_argument("--markdown", action="store_true", help="emit a markdown table")
    p.add_argument("-v", "--verbose", action="store_true", help="print each quantization report")
    args = p.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.modes = [m for m in args.modes.split(",") if m]
    args.batches = [int(b) for b in args.batches.split(",") if b]
    for m in args.models:
        if m not in MODELS:
            p.error(f"unknown model '{m}' (choose from {', '.join(MODELS)})")
    for m in args.modes:
        if m not in MODES:
            p.error(f"unknown mode '{m}' (choose from {', '.join(MODES)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = digits() if set(args.models) & {"mlp", "cnn"} else None
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as workdir:
        exported = [export_model(name, args, data, workdir) for name in args.models]
        # the quantizers' sessions made onnxruntime's environment: this falls back to per-session pools
        # without spinning (see _common.init_thread_pool), the same for every timed file
        pool = C.init_thread_pool(args.threads)
        for files in exported:
            rows += time_model(files, args)
    import onnxruntime

    print(f"onnxruntime {onnxruntime.__version__}, {args.threads} threads ({pool} pool), "
          f"{os.cpu_count()} CPUs; medians of interleaved runs")
    print(table(rows, args.batches, args.markdown))
    for line in goals(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
