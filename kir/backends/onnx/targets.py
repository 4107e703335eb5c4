"""onnxruntime-optimized files per runtime target (cpu, cuda, tensorrt).

Why: onnxruntime rewrites a graph for its execution provider every time a session starts
(fusions, constant folding, layout); `SessionOptions.optimized_model_filepath` saves that result,
so a server can load it with optimizations off and start faster. The rewrite depends on the
provider, so it is done once per target, and only where the provider is installed: asking for
'cuda' on a machine without onnxruntime-gpu says so instead of writing a CPU file under that name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kir.errors import ConfigError

TARGETS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


@dataclass
class TargetResult:
    """What `optimize_for` did: the file written (None when the provider is missing) and why."""

    target: str
    path: str | None
    message: str


def target_path(path: str, target: str) -> str:
    """'model.onnx' -> 'model.<target>.onnx' (TensorRT: the engine cache folder 'model.trt_cache')."""
    stem = path[: -len(".onnx")] if path.endswith(".onnx") else path
    return f"{stem}.trt_cache" if target == "tensorrt" else f"{stem}.{target}.onnx"


def optimize_for(path: str, target: str) -> TargetResult:
    """Write the onnxruntime-optimized model of the file at `path` for `target`.

    cpu/cuda: `model.<target>.onnx`, optimized at the extended level (fusions that stay valid on
    any machine with that provider; the 'all' level adds layouts tied to this CPU's instruction
    set). tensorrt: TensorRT compiles subgraphs into engines, which onnxruntime cannot save as a
    model, so the engines go to the cache folder 'model.trt_cache' that later sessions reuse."""
    import onnxruntime as ort

    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    wanted = TARGETS[target][0]
    available = ort.get_available_providers()
    if wanted not in available:
        return TargetResult(target, None, f"target {target}: {wanted} is not available in this onnxruntime "
                                          f"(available: {', '.join(available)}); no optimized file written. "
                                          f"Install onnxruntime-gpu (pip install kir[gpu]) on a machine with "
                                          f"{'TensorRT and ' if target == 'tensorrt' else ''}CUDA")
    out = target_path(path, target)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    providers: list = list(TARGETS[target])
    if target == "tensorrt":
        os.makedirs(out, exist_ok=True)
        providers[0] = (wanted, {"trt_engine_cache_enable": True, "trt_engine_cache_path": out})
    else:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = out
    ort.InferenceSession(path, sess_options=so, providers=providers)
    what = "TensorRT engine cache" if target == "tensorrt" else "onnxruntime-optimized model"
    return TargetResult(target, out, f"target {target}: wrote the {what} for {wanted} to {out}")
