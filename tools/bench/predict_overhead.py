"""Per-call cost of `model.predict(x, backend='onnx')` at batch 1 vs a bare
`onnxruntime.InferenceSession.run` on the same file (the guide's small MLP, CPU provider).

Run: PYTHONPATH=. python tools/bench/predict_overhead.py  (a benchmark, not a test:
timings on a shared machine are too noisy for an assertion). Prints medians of interleaved
rounds so background load hits both sides alike."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from kir.backends import get as get_backend
from kir.backends.onnx import export
from kir.zoo.guide import functional_mlp


def per_call_us(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main(rounds: int = 15, calls: int = 2000) -> None:
    model = functional_mlp(names=True)  # its input is named 'input'
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlp.onnx"
        export(model, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        runtime = get_backend("onnx").runtime(model.to_graph())
        cases = {
            "bare InferenceSession.run": lambda: session.run(None, {"input": x}),
            "model.predict(backend='onnx')": lambda: model.predict(x, backend="onnx"),
            "  of which Runtime.run(x)": lambda: runtime.run(x),
            "  of which check_inputs": lambda: model.check_inputs(x),
            "  of which model.weights_version()": model.weights_version,
        }
        for fn in cases.values():
            per_call_us(fn, 200)
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(rounds):
            for name, fn in cases.items():
                samples[name].append(per_call_us(fn, calls))
    med = {k: statistics.median(v) for k, v in samples.items()}
    for name, us in med.items():
        print(f"{name:38s} {us:8.1f} us")
    ratio = med["model.predict(backend='onnx')"] / med["bare InferenceSession.run"]
    print(f"{'predict / bare':38s} {ratio:8.2f}x  (target <= 2.0)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
