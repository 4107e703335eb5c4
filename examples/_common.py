"""What every example shares: its command line, timing, and the train -> ONNX -> onnxruntime report.

Each example trains with TensorFlow (`model.fit`), then calls `deploy(...)`, which exports the
trained model to ONNX, runs the file in a plain `onnxruntime.InferenceSession` (no kir involved,
as a deployment would), checks it against `model.predict(backend='tensorflow')` and times it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

import kir

# Keep TensorFlow's start-up chatter off the report (read when kir first imports TensorFlow, in fit).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PARITY_TOLERANCE = 1e-4  # max abs error allowed between onnxruntime and TensorFlow, relative to max |y|
DEFAULT_OUT = Path(__file__).resolve().parent / "_out"


def parse_args(doc: str | None, *, epochs: int, full: bool = False, data: bool = False,
               extra: Callable[[argparse.ArgumentParser], Any] | None = None,
               argv: list[str] | None = None) -> argparse.Namespace:
    """The examples' common options; `full` adds `--full` (the guide's sizes), `data` adds `--data`,
    `extra(parser)` adds an example's own. Seeds kir's initial weights with --seed, and gives the run's
    data its own generator seeded alike: `args.rng`."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and one epoch: runs in seconds")
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs (default {epochs})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the ONNX file")
    parser.add_argument("--seed", type=int, default=0, help="random seed for data and initial weights")
    if full:
        parser.add_argument("--full", action="store_true", help="the guide's full sizes (slow on a CPU)")
    if data:
        parser.add_argument("--data", type=Path, default=None,
                            help="an .npz with x_train, y_train, x_test, y_test (Keras' dataset layout) "
                                 "instead of generated data")
        parser.add_argument("--allow-pickle", action="store_true",
                            help="allow --data files that store Python objects (Keras' imdb.npz does); "
                                 "only for files you trust")
    if extra:
        extra(parser)
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.smoke else epochs
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    kir.utils.set_random_seed(args.seed)
    args.rng = np.random.default_rng(args.seed)
    return args


def sizes(args: argparse.Namespace, *, default: dict[str, Any], smoke: dict[str, Any],
          full: dict[str, Any] | None = None) -> SimpleNamespace:
    """This run's sizes: the defaults, overridden by `full` under --full and by `smoke` under --smoke."""
    chosen = dict(default)
    if full and getattr(args, "full", False):
        chosen.update(full)
    if args.smoke:
        chosen.update(smoke)
    return SimpleNamespace(**chosen)


def accuracy(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Fraction right: thresholded at 0.5 for one sigmoid unit, argmax for a softmax."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    if y_prob.shape[-1] == 1:
        return float(np.mean((y_prob.reshape(-1) > 0.5) == (y_true.reshape(-1) > 0.5)))
    true = y_true.argmax(-1) if y_true.shape == y_prob.shape else y_true.reshape(y_prob.shape[:-1])
    return float(np.mean(y_prob.argmax(-1) == true))


@dataclass
class Stopwatch:
    """Wall-clock seconds of a `with timed() as t:` block, readable as `t.seconds` afterwards."""

    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    start = time.perf_counter()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - start


def line(label: str, value: Any) -> None:
    """One aligned report line: `label      : value` (the tests look for these labels)."""
    print(f"{label:<16}: {value}", flush=True)


def header(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)), flush=True)


def report_training(history: Any, seconds: float, samples: int) -> None:
    """Epochs, wall time and throughput of `model.fit`, plus the last epoch's logged values."""
    logs = getattr(history, "history", {}) or {}
    epochs = len(next(iter(logs.values()))) if logs else 0
    line("training", f"{epochs} epoch(s) on {samples} samples in {seconds:.1f} s (TensorFlow)")
    if logs:
        last = ", ".join(f"{k} {v[-1]:.4f}" for k, v in logs.items())
        line("last epoch", last)


def describe(title: str, model: Any, detail: str = "") -> None:
    """The example's header, then one line: the model's name, `detail` and its parameter count."""
    header(title)
    line("model", f"{model.name}: {detail + ', ' if detail else ''}{model.count_params():,} parameters")


def samples(x: Any) -> int:
    """How many samples an array, a list of arrays or a dict of arrays holds."""
    if isinstance(x, dict):
        x = next(iter(x.values()))
    return len(x[0] if isinstance(x, (list, tuple)) else x)


def train(model: Any, x: Any, y: Any, args: argparse.Namespace, **fit_kwargs: Any) -> Any:
    """`model.fit(x, y, epochs=args.epochs, verbose=2, **fit_kwargs)` (TensorFlow), timed and reported."""
    fit_kwargs.setdefault("verbose", 2)
    with timed() as t:
        history = model.fit(x, y, epochs=args.epochs, **fit_kwargs)
    report_training(history, t.seconds, samples(x))
    return history


def majority_class(labels: Any) -> str:
    """The baseline of a 0/1 label: the accuracy of always answering its more common value."""
    share = float(np.mean(labels))
    return f"majority class {max(share, 1 - share):.4f}"


def report_metrics(model: Any, x: Any, y: Any, label: str = "test") -> dict[str, float]:
    """`model.evaluate` on held-out data, printed as one line and returned as a dict."""
    values = model.evaluate(x, y, verbose=0, return_dict=True)
    line(f"{label} metrics", ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
    return values


def _ort_type(name: str) -> np.dtype:
    return {"tensor(float)": np.dtype(np.float32), "tensor(int32)": np.dtype(np.int32),
            "tensor(int64)": np.dtype(np.int64), "tensor(float16)": np.dtype(np.float16),
            "tensor(double)": np.dtype(np.float64)}.get(name, np.dtype(np.float32))


def onnx_feeds(session: Any, model: Any, x: Any) -> dict[str, np.ndarray]:
    """Feeds for a plain onnxruntime session from what `model.predict` accepts (array, list, dict)."""
    if isinstance(x, dict):
        arrays = [x[name] for name in model.input_names]
    else:
        arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    return {i.name: np.ascontiguousarray(a, dtype=_ort_type(i.type)) for i, a in zip(session.get_inputs(), arrays)}


def take(x: Any, n: int) -> Any:
    """The first `n` samples of an array, a list of arrays or a dict of arrays."""
    if isinstance(x, dict):
        return {k: v[:n] for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [v[:n] for v in x]
    return x[:n]


def _median_ms(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


@dataclass
class Deployment:
    """What `deploy` measured; `session` is the onnxruntime session, ready for more requests."""

    path: Path
    session: Any
    max_abs_err: float
    latency_ms_batch1: float


def export_onnx(model: Any, args: argparse.Namespace, name: str) -> Path:
    """`model.export` to `args.out/name.onnx` (dynamic batch, -O2), with one report line."""
    result = model.export(str(Path(args.out) / f"{name}.onnx"))
    ops = sorted(result.node_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ", ".join(f"{op} {n}" for op, n in ops[:6]) + (", ..." if len(ops) > 6 else "")
    size = result.file_bytes / 1024
    line("ONNX file", f"{result.path} ({size:,.1f} KiB, {sum(result.node_counts.values())} nodes: {top}; "
                      f"exported in {result.seconds:.2f} s)")
    return Path(result.path)


def check_in_onnxruntime(model: Any, x: Any, path: Path, args: argparse.Namespace) -> Deployment:
    """Run the ONNX file in a plain onnxruntime session: parity with TensorFlow on `x`, then latency.

    Exits with status 1 when onnxruntime and TensorFlow disagree beyond PARITY_TOLERANCE.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]
    ort_out = session.run(output_names, onnx_feeds(session, model, x))
    tf_out = model.predict(x, backend="tensorflow")
    tf_out = tf_out if isinstance(tf_out, list) else [tf_out]
    err = max(float(np.max(np.abs(a - b))) for a, b in zip(ort_out, tf_out))
    scale = max(1.0, max(float(np.max(np.abs(b))) for b in tf_out))
    ok = err <= PARITY_TOLERANCE * scale
    n = len(ort_out[0])
    line("ONNX parity", f"max abs err {err:.2e} vs predict(backend='tensorflow') on {n} samples "
                        f"[{'OK' if ok else 'FAIL'}]")

    repeats = 10 if args.smoke else 100
    one = onnx_feeds(session, model, take(x, 1))
    batch1 = _median_ms(lambda: session.run(output_names, one), repeats)
    batch = min(n, 32)
    some = onnx_feeds(session, model, take(x, batch))
    batch_n = _median_ms(lambda: session.run(output_names, some), max(3, repeats // 5))
    line("ORT latency", f"batch 1: {batch1:.3f} ms, batch {batch}: {batch_n:.3f} ms "
                        f"(median, onnxruntime {ort.__version__}, CPU)")
    if not ok:
        print(f"error: onnxruntime and TensorFlow disagree by {err:.2e} (tolerance "
              f"{PARITY_TOLERANCE * scale:.1e})", file=sys.stderr)
        sys.exit(1)
    return Deployment(path, session, err, batch1)


def deploy(model: Any, x: Any, args: argparse.Namespace, name: str) -> Deployment:
    """Export to `args.out/name.onnx`, then check and time the file in onnxruntime on `x`."""
    return check_in_onnxruntime(model, x, export_onnx(model, args, name), args)


def evaluate_and_deploy(model: Any, x_test: Any, y_test: Any, args: argparse.Namespace, name: str, *,
                        baseline: str = "", deploy_samples: int | None = None) -> Deployment:
    """`model.evaluate` on the test data (and a `baseline` line to read it against), then `deploy` on
    x_test, or on its first `deploy_samples` samples."""
    report_metrics(model, x_test, y_test)
    if baseline:
        line("baseline", baseline)
    return deploy(model, x_test if deploy_samples is None else take(x_test, deploy_samples), args, name)
