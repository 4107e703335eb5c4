"""A Triton Inference Server model repository for an exported ONNX file.

Layout (what tritonserver --model-repository=REPO loads):

    REPO/NAME/config.pbtxt        platform onnxruntime_onnx, inputs/outputs, batching, warmup
    REPO/NAME/1/model.onnx        (+ its external-data file when the weights are large)
    REPO/NAME/labels.txt          when class labels were given (label_filename of the first output)

Why kir writes config.pbtxt itself: it knows the names, dtypes and dims (the batch dim is Triton's
`max_batch_size`, -1 marks other dynamic dims), which id inputs need a guard, and whether the
file is float16, so the config cannot drift from the file. The text is Triton's ModelConfig
protobuf in text format (tests parse it with tritonclient's model_config_pb2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto

from kir.errors import ConfigError, ExportError, check_positive_int

TRITON_TYPES = {
    TensorProto.FLOAT: "TYPE_FP32", TensorProto.FLOAT16: "TYPE_FP16", TensorProto.DOUBLE: "TYPE_FP64",
    TensorProto.INT32: "TYPE_INT32", TensorProto.INT64: "TYPE_INT64", TensorProto.INT8: "TYPE_INT8",
    TensorProto.UINT8: "TYPE_UINT8", TensorProto.BOOL: "TYPE_BOOL", TensorProto.INT16: "TYPE_INT16",
    TensorProto.BFLOAT16: "TYPE_BF16",
}


@dataclass
class TritonModel:
    """What `write_repository` wrote."""

    folder: str
    model_path: str
    config_path: str
    config: str
    labels_path: str | None = None


def check_name(name: str) -> str:
    """A Triton model name: a folder name without path separators."""
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\ \t\n"):
        raise ConfigError(f"Triton model name {name!r} must be a plain folder name (no '/', spaces)")
    return name


def _dims(value: onnx.ValueInfoProto, batched: bool) -> tuple[int, list[int]]:
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
    if batched:
        dims = dims[1:]
    return value.type.tensor_type.elem_type, dims


def _tensor(value: onnx.ValueInfoProto, batched: bool, label_file: str | None = None) -> str:
    elem, dims = _dims(value, batched)
    if elem not in TRITON_TYPES:
        raise ConfigError(f"tensor '{value.name}' has ONNX type {TensorProto.DataType.Name(elem)}, "
                          f"which Triton's onnxruntime backend does not take")
    lines = [f'    name: "{value.name}"', f"    data_type: {TRITON_TYPES[elem]}",
             f"    dims: [ {', '.join(str(d) for d in dims) if dims else '1'} ]"]
    if not dims:
        lines.append("    reshape: { shape: [ ] }")
    if label_file:
        lines.append(f'    label_filename: "{label_file}"')
    return "  {\n" + "\n".join(lines) + "\n  }"


def config_text(model: onnx.ModelProto, name: str, max_batch: int = 64, fp16: bool = False,
                tensorrt: bool = False, instances: int = 1, labels: bool = False,
                queue_delay_us: int = 100) -> str:
    """config.pbtxt for `model` (an ONNX ModelProto whose first dim is 'batch' when batched)."""
    first = model.graph.input[0].type.tensor_type.shape.dim if model.graph.input else []
    batched = bool(first) and first[0].dim_param == "batch"
    max_batch = check_positive_int(max_batch, "max_batch") if batched else 0
    inputs = ",\n".join(_tensor(v, batched) for v in model.graph.input)
    outputs = ",\n".join(_tensor(v, batched, "labels.txt" if labels and i == 0 else None)
                         for i, v in enumerate(model.graph.output))
    parts = [f'name: "{name}"', 'platform: "onnxruntime_onnx"', f"max_batch_size: {max_batch}",
             f"input [\n{inputs}\n]", f"output [\n{outputs}\n]"]
    if batched:
        preferred = sorted({b for b in (1, 8, 32, max_batch) if b <= max_batch})
        parts.append("dynamic_batching {\n"
                     f"  preferred_batch_size: [ {', '.join(map(str, preferred))} ]\n"
                     f"  max_queue_delay_microseconds: {queue_delay_us}\n}}")
    parts.append(f"instance_group [\n  {{\n    count: {check_positive_int(instances, 'instances')}\n"
                 "    kind: KIND_AUTO\n  }\n]")
    if fp16 or tensorrt:
        precision = "FP16" if fp16 else "FP32"
        parts.append("optimization {\n  execution_accelerators {\n    gpu_execution_accelerator: [\n      {\n"
                     '        name: "tensorrt"\n'
                     f'        parameters {{ key: "precision_mode" value: "{precision}" }}\n'
                     '        parameters { key: "max_workspace_size_bytes" value: "1073741824" }\n'
                     '        parameters { key: "trt_engine_cache_enable" value: "1" }\n'
                     "      }\n    ]\n  }\n}")
    parts.append(_warmup(model, batched))
    return "\n".join(parts) + "\n"


def _warmup(model: onnx.ModelProto, batched: bool) -> str:
    """One warm-up request of batch 1: zeros for integer inputs (ids in range), random floats."""
    entries = []
    for value in model.graph.input:
        elem, dims = _dims(value, batched)
        dims = [1 if d < 0 else d for d in dims] or [1]
        fill = "random_data: true" if elem in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE) \
            else "zero_data: true"
        entries.append(f'    inputs {{\n      key: "{value.name}"\n      value: {{\n'
                       f"        data_type: {TRITON_TYPES[elem]}\n        dims: [ {', '.join(map(str, dims))} ]\n"
                       f"        {fill}\n      }}\n    }}")
    batch = "    batch_size: 1\n" if batched else ""
    return "model_warmup [\n  {\n    name: \"warmup\"\n" + batch + "\n".join(entries) + "\n  }\n]"


def write_repository(export_fn: Any, repo: str | os.PathLike, name: str, max_batch: int = 64,
                     fp16: bool = False, tensorrt: bool = False, labels: list[str] | None = None,
                     instances: int = 1) -> tuple[TritonModel, Any]:
    """Export through `export_fn(path) -> ExportResult` into REPO/NAME/1/model.onnx and write
    REPO/NAME/config.pbtxt (and labels.txt). Returns what was written and the export result."""
    check_name(name)
    root = Path(os.fspath(repo))
    if root.exists() and not root.is_dir():
        raise ExportError(f"Triton repository '{root}' is a file; give a folder")
    version = root / name / "1"
    made = [p for p in (root, root / name, version) if not p.exists()]
    version.mkdir(parents=True, exist_ok=True)
    try:
        result = export_fn(str(version / "model.onnx"))
    except BaseException:
        for folder in reversed(made):  # leave no empty repository behind a failed export
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    model = onnx.load(result.path, load_external_data=False)
    text = config_text(model, name, max_batch, fp16=fp16, tensorrt=tensorrt, instances=instances,
                       labels=labels is not None)
    config = root / name / "config.pbtxt"
    _atomic_text(config, text)
    labels_path = None
    if labels is not None:
        labels_path = root / name / "labels.txt"
        _atomic_text(labels_path, "\n".join(labels) + "\n")
    return TritonModel(str(root / name), result.path, str(config), text,
                       str(labels_path) if labels_path else None), result


def _atomic_text(path: Path, text: str) -> None:
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)
