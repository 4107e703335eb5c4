"""Shared benchmark plumbing: onnxruntime sessions, interleaved timing, node counts, GEMM roofline, profiles.

Why interleaved: on a small shared machine the clock speed and cache state drift over seconds, so
timing file A for a while and then file B biases the ratio. Alternating single runs (A, B, B, A, ...)
exposes both to the same drift, and the median discards the scheduler's outliers.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int32)": np.int32,
               "tensor(int64)": np.int64, "tensor(float16)": np.float16, "tensor(bool)": np.bool_}


_POOL = {"mode": "per-session"}


def init_thread_pool(threads: int) -> str:
    """One process-wide intra-op pool of `threads` for every timed session; call before any session exists.

    Why: with a pool per session, the spinning workers of the session that just ran keep the cores
    busy while the next session starts, so on a 2-core machine interleaved sessions slow each other
    down by a factor that depends on the order (2.6x between two identical LSTM files). A shared
    pool removes that. If onnxruntime refuses (its environment already exists), fall back to
    per-session pools without spinning."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    try:
        ort.capi._pybind_state.set_global_thread_pool_sizes(threads, 1)
        _POOL.update(mode="global", threads=threads)
    except Exception:  # any refusal means: use the fallback
        _POOL.update(mode="per-session-nospin", threads=threads)
    return _POOL["mode"]


def session_options(threads: int, level: str = "all", profile_prefix: str | None = None):
    """The one SessionOptions recipe every timed session uses (same for kir's and tf2onnx's files)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if _POOL["mode"] == "global":
        so.use_per_session_threads = False
    else:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        if _POOL["mode"] == "per-session-nospin":
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = {
        "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    so.log_severity_level = 3
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return so


def make_session(path: str, threads: int, profile_prefix: str | None = None):
    import onnxruntime as ort

    return ort.InferenceSession(path, sess_options=session_options(threads, profile_prefix=profile_prefix),
                                providers=["CPUExecutionProvider"])


def feeds_for(session, arrays: dict[str, np.ndarray], order: Sequence[str]) -> dict[str, np.ndarray]:
    """Feed dict for `session`: match graph inputs by name, else by position; cast to the graph's dtype."""
    feeds = {}
    for i, inp in enumerate(session.get_inputs()):
        key = inp.name if inp.name in arrays else order[i]
        value = arrays[key]
        want = _ORT_DTYPES.get(inp.type)
        feeds[inp.name] = value.astype(want) if want is not None and value.dtype != want else value
    return feeds


@dataclass
class Timing:
    """Median seconds per run of each contender, and how many runs each got."""

    medians: dict[str, float]
    runs: int


def interleaved(runners: dict[str, Callable[[], object]], repeat: int, budget_s: float, warmup: int = 3,
                min_runs: int = 5, settle: int = 1) -> Timing:
    """Median seconds per call of each runner, the runners taking turns.

    Each turn makes `settle` untimed calls and then one timed call, so every timed call finds its
    own session warm (weights in cache) as a service calling one model repeatedly would, and no
    runner profits from following itself. Turns go round in a fixed cycle (A B C A B C ...); an
    earlier version reversed the order every round, which let the first and last runner follow
    themselves and made two identical files differ by up to 1.5x. Stops after `repeat` rounds or
    `budget_s` seconds (at least `min_runs` rounds). Warm-up: up to `warmup` rounds, fewer when one
    round takes more than a tenth of the budget. Calls over a second skip the settling call and
    need only 3 rounds."""
    names = list(runners)
    clock = time.perf_counter
    start = clock()
    for _ in range(warmup):
        t0 = clock()
        for n in names:
            runners[n]()
        per_call = (clock() - t0) / len(names)
        if clock() - start > budget_s / 10:
            break
    if warmup and per_call > 1.0:  # seconds-long calls (--full sizes): caches are moot, time is not
        settle, min_runs = 0, min(min_runs, 3)
    samples: dict[str, list[float]] = {n: [] for n in names}
    start = clock()
    for r in range(repeat):
        for n in names:
            fn = runners[n]
            for _ in range(settle):
                fn()
            t0 = clock()
            fn()
            samples[n].append(clock() - t0)
        if r + 1 >= min_runs and clock() - start > budget_s:
            break
    return Timing({n: statistics.median(v) for n, v in samples.items()}, len(samples[names[0]]))


def node_counts(path: str) -> tuple[int, Counter]:
    """Total node count of the main graph and a Counter by op type (subgraphs not expanded)."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    ops = Counter(n.op_type for n in model.graph.node)
    return sum(ops.values()), ops


def opset_of(path: str) -> int:
    import onnx

    model = onnx.load(path, load_external_data=False)
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def gemm_runner(threads: int, n: int = 512) -> tuple[Callable[[], object], float]:
    """A float32 n x n x n onnxruntime MatMul with the benchmark's session options, and its FLOPs.

    Timed in turns with the models (like a third contender) it gives the CPU roofline under the same
    conditions as the models' runs: on a busy machine a separately measured GEMM swings by 3x."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    b = onnx.numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "b")
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "gemm", [a], [y], [b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gemm.onnx")
        onnx.save(model, path)
        sess = make_session(path, threads)
    x = rng.standard_normal((n, n)).astype(np.float32)
    return (lambda: sess.run(None, {"a": x})), 2.0 * n ** 3


def numpy_gemm_gflops(n: int = 1024, budget_s: float = 1.0) -> float:
    """The same figure for numpy's BLAS (whatever threads it uses), as a second reference."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    t = interleaved({"np": lambda: a @ b}, repeat=200, budget_s=budget_s, settle=0)
    return 2.0 * n ** 3 / t.medians["np"] / 1e9


def profile(path: str, feeds: dict[str, np.ndarray], threads: int, runs: int = 20, top: int = 8) -> list[tuple]:
    """onnxruntime's own profile: mean microseconds per run (the first, warm-up run included) by
    (op type, node name), largest first."""
    with tempfile.TemporaryDirectory() as tmp:
        sess = make_session(path, threads, profile_prefix=os.path.join(tmp, "prof"))
        sess.run(None, feeds)
        for _ in range(runs):
            sess.run(None, feeds)
        trace = sess.end_profiling()
        with open(trace) as fh:
            events = json.load(fh)
    by_node: dict[tuple[str, str], float] = {}
    for ev in events:
        if ev.get("cat") != "Node" or not ev.get("name", "").endswith("_kernel_time"):
            continue
        key = (ev["args"].get("op_name", "?"), ev["name"][: -len("_kernel_time")])
        by_node[key] = by_node.get(key, 0.0) + ev["dur"]
    rows = sorted(((op, name, us / (runs + 1)) for (op, name), us in by_node.items()), key=lambda r: -r[2])
    return rows[:top]
