"""One prepared run of every GPU path of kir's ONNX deployment (issue 13), for a lent GPU machine.

The device tool lends a GPU for 15 minutes a session at most, so the checks that need one are
collected here, ready to run in one call (docs/deploy.md, "Checking the GPU paths"). Each check is
independent and records its result or its error; nothing stops the run. On a machine without a
CUDA provider the GPU rows say "not available" and the CPU rows still run, which is how the tests
keep this script working (tests/tools/test_gpu_check.py).

Checks, per model (MNIST MLP, MNIST CNN, IMDB LSTM, a 2-block transformer):
- CPU vs CUDA: output parity and median latency at batch 1 and 32, calls taken in turns, with an
  A/A (a second CPU session) as the noise floor;
- provider options: a ('CUDAExecutionProvider', {...}) tuple is honoured;
- IO binding: `Runtime.to_device` + `run_on_device` keeps outputs on the GPU (their device is
  'cuda') and equals `run`; latency of 50 chained device calls vs 50 host calls;
- float16 with kir's block list on CUDA: max error vs the float32 file;
- TensorRT (fp32 and fp16, engine cache) where its provider loads, else the error it gave;
- `targets.optimize_for(path, 'cuda' | 'tensorrt')`;
- the transformer's fused com.microsoft kernels vs `portable=True` on CUDA.

    PYTHONPATH=. python tools/gpu/check_onnx_gpu.py [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"
CPU = "CPUExecutionProvider"


def _models(quick: bool) -> dict[str, tuple[Any, Callable[[int], list[np.ndarray]]]]:
    """name -> (kir model with random weights, batch size -> feeds)."""
    import kir
    from kir.zoo import keras_examples, transformer

    rng = np.random.default_rng(0)
    if quick:  # small versions for the CPU test of this script
        return {
            "mlp": (keras_examples.mnist_mlp(hidden=32, lib=kir),
                    lambda b: [rng.random((b, 784), dtype=np.float32)]),
            "lstm": (keras_examples.imdb_lstm(length=8, vocab=50, units=8, lib=kir),
                     lambda b: [rng.integers(1, 50, (b, 8)).astype("int32")]),
            "transformer": (transformer.transformer_classifier(maxlen=8, vocab=50, d_model=16, heads=2, ff_dim=16,
                                                               blocks=1, lib=kir),
                            lambda b: [rng.integers(0, 50, (b, 8)).astype("int32")]),
        }
    return {
        "mlp": (keras_examples.mnist_mlp(lib=kir), lambda b: [rng.random((b, 784), dtype=np.float32)]),
        "cnn": (keras_examples.mnist_cnn(lib=kir), lambda b: [rng.random((b, 28, 28, 1), dtype=np.float32)]),
        "lstm": (keras_examples.imdb_lstm(lib=kir), lambda b: [rng.integers(1, 20000, (b, 80)).astype("int32")]),
        "transformer": (transformer.transformer_classifier(lib=kir),
                        lambda b: [rng.integers(0, 2000, (b, 128)).astype("int32")]),
    }


def _timed_in_turns(calls: dict[str, Callable[[], Any]], budget_s: float, max_rounds: int = 200) -> dict[str, float]:
    """Median microseconds per call of each callable, taken in turns (one warm-up each first)."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {k: [] for k in calls}
    end = time.perf_counter() + budget_s
    for _ in range(max_rounds):
        for key, call in calls.items():
            t = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - t)
        if time.perf_counter() > end:
            break
    return {k: statistics.median(v) * 1e6 for k, v in times.items()}


def _check(results: dict[str, Any], key: str, fn: Callable[[], Any]) -> None:
    """Run one check; record what it returned, or the error it raised (the run goes on)."""
    try:
        results[key] = fn()
    except Exception as exc:  # noqa: BLE001 - a check's failure is a result to record
        results[key] = {"error": f"{type(exc).__name__}: {exc}"[:2000],
                        "where": traceback.format_exc(limit=3)[-1500:]}
    print(f"  {key}: {json.dumps(results[key], default=str)[:400]}", flush=True)


def _max_err(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(max(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))) for x, y in zip(a, b)))


def check_model(name: str, model: Any, feeds: Callable[[int], list[np.ndarray]], folder: str,
                available: list[str], budget_s: float, stand_in: bool = False) -> dict[str, Any]:
    """Every check for one model. `stand_in`: without a CUDA provider, run the GPU rows on the CPU
    provider anyway, so the script's own code is exercised (the numbers then mean nothing)."""
    from kir.backends.onnx import export
    from kir.backends.onnx.runtime import Runtime
    from kir.backends.onnx.targets import optimize_for

    out: dict[str, Any] = {}
    path = os.path.join(folder, f"{name}.onnx")
    export(model, path)
    x1, x32 = feeds(1), feeds(32)
    cpu, cpu2 = Runtime(path, providers=CPU), Runtime(path, providers=CPU)
    reference = cpu.run(x32)
    has_cuda = CUDA in available or stand_in
    gpu = [CUDA, CPU] if CUDA in available else [CPU]

    def latency() -> dict[str, Any]:
        row: dict[str, Any] = {}
        for batch, x in (("b1", x1), ("b32", x32)):
            calls = {"cpu": lambda x=x: cpu.run(x), "cpu_aa": lambda x=x: cpu2.run(x)}
            if has_cuda:
                cuda = Runtime(path, providers=gpu)
                calls["cuda"] = lambda x=x, r=cuda: r.run(x)
            t = _timed_in_turns(calls, budget_s)
            row[batch] = {k: round(v, 1) for k, v in t.items()} | {"aa": round(t["cpu_aa"] / t["cpu"], 3)}
            if has_cuda:
                row[batch]["cuda_speedup_vs_cpu"] = round(t["cpu"] / t["cuda"], 2)
        return row

    _check(out, "latency_us", latency)
    if not has_cuda:
        out["cuda"] = "not available: onnxruntime has no CUDAExecutionProvider here"
        return out

    def parity() -> dict[str, Any]:
        options = {"device_id": 0, "arena_extend_strategy": "kSameAsRequested", "cudnn_conv_algo_search": "HEURISTIC"}
        cuda = Runtime(path, providers=[(CUDA, options), CPU] if CUDA in available else [(CPU, {})])
        return {"provider": cuda.provider, "device": cuda.device,
                "session_providers": cuda.session.get_providers(),
                "provider_options_cuda": {k: cuda.session.get_provider_options().get(CUDA, {}).get(k)
                                          for k in ("arena_extend_strategy", "cudnn_conv_algo_search")},
                "max_abs_vs_cpu": _max_err(cuda.run(x32), reference)}

    _check(out, "cuda_parity", parity)

    def io_binding() -> dict[str, Any]:
        cuda = Runtime(path, providers=gpu)
        on_device = cuda.to_device(x32)
        outs = cuda.run_on_device(on_device)
        row = {"input_devices": [v.device_name() for v in on_device],
               "output_devices": [v.device_name() for v in outs],
               "max_abs_vs_run": _max_err([v.numpy() for v in outs], cuda.run(x32))}

        def chained() -> None:
            for _ in range(50):
                cuda.run_on_device(on_device)

        def host() -> None:
            for _ in range(50):
                cuda.run(x32)

        t = _timed_in_turns({"device_50": chained, "host_50": host}, budget_s, max_rounds=20)
        speedup = round(t["host_50"] / t["device_50"], 2)
        return row | {k: round(v, 1) for k, v in t.items()} | {"host_over_device": speedup}

    _check(out, "io_binding", io_binding)

    def float16() -> dict[str, Any]:
        half = os.path.join(folder, f"{name}.fp16.onnx")
        export(model, half, dtype="float16")
        cuda16, cuda32 = Runtime(half, providers=gpu), Runtime(path, providers=gpu)
        t = _timed_in_turns({"fp32": lambda: cuda32.run(x32), "fp16": lambda: cuda16.run(x32)}, budget_s)
        return {"max_abs_vs_fp32": _max_err(cuda16.run(x32), reference),
                "b32_fp32_us": round(t["fp32"], 1), "b32_fp16_us": round(t["fp16"], 1),
                "fp16_speedup": round(t["fp32"] / t["fp16"], 2)}

    _check(out, "cuda_float16", float16)

    def targets() -> dict[str, Any]:
        return {t: optimize_for(path, t).message for t in ("cuda", "tensorrt")}

    _check(out, "targets", targets)

    def tensorrt() -> dict[str, Any]:
        if TRT not in available:
            return {"skipped": "onnxruntime lists no TensorrtExecutionProvider"}
        row: dict[str, Any] = {}
        for label, fp16 in (("trt_fp32", False), ("trt_fp16", True)):
            cache = os.path.join(folder, f"{name}.{label}.cache")
            runtime = Runtime(path, providers=[(TRT, {"trt_fp16_enable": fp16, "trt_engine_cache_enable": True,
                                                      "trt_engine_cache_path": cache}), CUDA, CPU])
            t0 = time.perf_counter()
            got = runtime.run(x32)
            first = time.perf_counter() - t0
            t = _timed_in_turns({"run": lambda r=runtime: r.run(x32)}, budget_s)
            row[label] = {"session_providers": runtime.session.get_providers(), "first_run_s": round(first, 2),
                          "b32_us": round(t["run"], 1), "max_abs_vs_cpu": _max_err(got, reference),
                          "engine_files": sorted(os.listdir(cache)) if os.path.isdir(cache) else []}
        return row

    _check(out, "tensorrt", tensorrt)
    if name == "transformer":
        def fused_vs_portable() -> dict[str, Any]:
            portable = os.path.join(folder, f"{name}.portable.onnx")
            export(model, portable, portable=True)
            fused, plain = Runtime(path, providers=gpu), Runtime(portable, providers=gpu)
            t = _timed_in_turns({"fused": lambda: fused.run(x32), "portable": lambda: plain.run(x32)}, budget_s)
            import onnx

            ops = sorted({n.op_type for n in onnx.load(path).graph.node if n.domain == "com.microsoft"})
            return {"fused_ops": ops, "max_abs_fused_vs_portable": _max_err(fused.run(x32), plain.run(x32)),
                    "b32_fused_us": round(t["fused"], 1), "b32_portable_us": round(t["portable"], 1),
                    "fused_speedup": round(t["portable"] / t["fused"], 2)}

        _check(out, "fused_vs_portable", fused_vs_portable)
    return out


def environment() -> dict[str, Any]:
    import onnxruntime as ort

    info: dict[str, Any] = {"python": sys.version.split()[0], "machine": platform.machine(),
                            "onnxruntime": ort.__version__, "providers": ort.get_available_providers(),
                            "device": ort.get_device()}
    try:
        import torch  # the GPU image's, only to name the card

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - naming the card is optional
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or ".", help="folder for gpu_check.json")
    parser.add_argument("--quick", action="store_true", help="small models, short timings (CPU self-test)")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per comparison")
    parser.add_argument("--stand-in", action="store_true",
                        help="without CUDA, run the GPU rows on the CPU provider (tests the script itself)")
    args = parser.parse_args(argv)
    budget = args.budget if args.budget is not None else (0.2 if args.quick else 2.0)
    results: dict[str, Any] = {"environment": environment(), "stand_in": args.stand_in}
    print(json.dumps(results["environment"]), flush=True)
    available = results["environment"]["providers"]
    with tempfile.TemporaryDirectory() as folder:
        for name, (model, feeds) in _models(args.quick).items():
            print(f"{name}:", flush=True)
            results[name] = {}
            _check(results[name], "checks", lambda n=name, m=model, f=feeds: check_model(
                n, m, f, folder, available, budget, args.stand_in))
    os.makedirs(args.out, exist_ok=True)
    target = os.path.join(args.out, "gpu_check.json")
    with open(target, "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
