"""`export(model, path)`: a checked, deterministic ONNX file, written atomically.

The file's graph inputs carry the model's input names and its outputs the output layer names,
with a symbolic batch dimension 'batch' (or a static one). The same model always gives the same
bytes: no timestamps, names derived from layer names, nodes in topological order. The file is
written to a temporary folder beside the target and moved into place only after
`onnx.checker.check_model(full_check=True)` passed, so a failure leaves no file behind. Weights
go to an external-data file '<name>.onnx.<16 hex>.data' when they exceed `external_data_threshold`
(default: near `PROTOBUF_LIMIT`, as protobuf cannot serialize messages over 2 GB); a single weight
over 2 GB works too, as no step round-trips a weight through protobuf's bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from kir import fileio
from kir.backends.base import GraphSource, graph_of
from kir.backends.onnx.interpreter import lower
from kir.backends.onnx.opset import DEFAULT_OPSET, check_opset, onnx_dtype
from kir.errors import ConfigError, ExportError, KirError, check_positive_int
from kir.ir.graph import Graph, Vertex
from kir.ir.interpret import Interpreter
from kir.ir.spec import TensorSpec
from kir.passes import LEVELS, run_pipeline

PROTOBUF_LIMIT = 2**31 - 1
"""protobuf refuses to serialize or parse a message (a whole model, or one tensor) over this many
bytes. The one place kir's large-model routes read it from (tests lower it to drive small models
through them)."""
EXTERNAL_DATA_THRESHOLD = 2**31 - 2**27
"""Initializer bytes above which weights go to external data (2 GB protobuf limit, less a margin)."""


def near_protobuf_limit(nbytes: int) -> bool:
    """Whether a model holding `nbytes` of weights must go through files with external data: over
    the protobuf limit less 1/16 of it (room for the graph, names and metadata beside the weights)."""
    return nbytes > PROTOBUF_LIMIT - PROTOBUF_LIMIT // 16


@dataclass
class ExportResult:
    """What was written: the path and the numbers `kir-export` reports."""

    path: str
    opset: int
    inputs: list[tuple[str, str, tuple]]
    outputs: list[tuple[str, str, tuple]]
    node_counts: Counter
    parameters: int
    file_bytes: int
    seconds: float
    external_data: str | None = None
    graph: Graph | None = field(default=None, repr=False)
    """The (optimized) kir graph that was lowered."""
    report: Any = field(default=None, repr=False)
    """The pass pipeline's report (kir.passes.PipelineReport)."""
    quantization: Any = field(default=None, repr=False)
    """The int8 report (kir.backends.onnx.quantize.QuantizeReport) when export(quantize=...) ran."""


class _InputIndex(Interpreter[int | None]):
    """Values are "the index of the graph input this tensor is" (None for anything computed), so
    the walk follows graph inputs into nested models and step graphs; records each Embedding's
    input_dim against the input feeding it."""

    free_values = False
    checks_arity = False

    def __init__(self) -> None:
        super().__init__()
        self.bounds: dict[int, int] = {}

    def input(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[int | None]) -> list[int | None]:
        return [args[0] if args else None]

    def run_op(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[int | None]) -> list[int | None]:
        if vertex.op == "Embedding" and args and args[0] is not None:
            dim = int(vertex.attrs["input_dim"])
            self.bounds[args[0]] = min(self.bounds.get(args[0], dim), dim)
        return [None] * len(vertex.outputs)

    def fold_time(self, vertex: Vertex, x: int | None) -> int | None:
        return x

    def unfold_time(self, vertex: Vertex, x: int | None, out: int | None, spec: TensorSpec | None) -> None:
        return None


def embedding_id_bounds(graph: Graph) -> dict[int, int]:
    """Graph input index -> the smallest Embedding input_dim its ids meet (directly or inside
    nested models). Written to the file's metadata so the Runtime can refuse out-of-range ids
    (ONNX Gather would silently wrap negative ones) as the numpy reference does."""
    walk = _InputIndex()
    walk.run(graph, list(range(len(graph.inputs))))
    return dict(sorted(walk.bounds.items()))


def _level(optimize: Any) -> str:
    level = f"O{optimize}" if isinstance(optimize, int) and not isinstance(optimize, bool) else optimize
    if level not in LEVELS:
        raise ConfigError(f"optimize must be one of {', '.join(LEVELS)} (or 0, 1, 2), got {optimize!r}")
    return level


def optimized_graph(graph: Graph, optimize: Any = "O2", batch_size: int | None = None,
                    nchw_io: bool = False) -> tuple[Graph, Any]:
    """The graph that export lowers at this optimization level, and the pipeline's report.

    The lowering is correct on unoptimized graphs too (that is what O0 means)."""
    return run_pipeline(graph, "inference", _level(optimize), static_batch=batch_size, nchw_io=nchw_io)


def _batch_dim(dynamic_batch: bool, batch_size: int | None) -> int | str:
    if batch_size is not None:
        return check_positive_int(batch_size, "batch_size")
    if not dynamic_batch:
        raise ConfigError("dynamic_batch=False needs batch_size=N (the static batch size to export)")
    return "batch"


def _value_info(name: str, dtype: str, shape: tuple, batch: int | str,
                names: list[str | None] | None = None) -> onnx.ValueInfoProto:
    rest = [d if d is not None or not names else names[i] for i, d in enumerate(shape[1:])]
    dims = [batch, *rest] if shape else []
    return helper.make_tensor_value_info(name, onnx_dtype(dtype), dims)


def to_onnx(
    model_or_graph: Graph | GraphSource,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    batch_size: int | None = None,
    dtype: str = "float32",
    optimize: Any = "O2",
    io_dtype: str | None = None,
    nchw_io: bool = False,
    **deploy: Any,
) -> ModelProto:
    """The ONNX ModelProto of a model (not checked or written; see `export`; `deploy`: its
    metadata, labels, guard_ids and keep_float32 options)."""
    level = _level(optimize)
    graph, _ = optimized_graph(graph_of(model_or_graph), level, batch_size, nchw_io)
    return _build(graph, opset, _batch_dim(dynamic_batch, batch_size), dtype, level, io_dtype, **deploy)


def _build(graph: Graph, *args: Any, **kwargs: Any) -> ModelProto:
    """`_build_proto`, with protobuf's own refusals (a message or tensor over its 2 GB limit) turned
    into an ExportError naming the model, so no raw protobuf exception escapes export/to_onnx."""
    from google.protobuf.message import Error as ProtobufError

    try:
        return _build_proto(graph, *args, **kwargs)
    except ProtobufError as exc:
        raise ExportError(f"model '{graph.name}' could not be built as ONNX: protobuf refused it "
                          f"({type(exc).__name__}: {exc}); protobuf holds at most {PROTOBUF_LIMIT} bytes per "
                          f"message: export(...) writes weights near that limit as external data") from exc


def _build_proto(graph: Graph, opset: int, batch: int | str, dtype: str, level: str, io_dtype: str | None,
                 metadata: Any = None, labels: Any = None, guard_ids: bool = False,
                 keep_float32: Any = None, portable: bool = False) -> ModelProto:
    """The ONNX ModelProto of an optimized kir graph (what `to_onnx` and `export` share)."""
    from kir.backends.onnx import metadata as meta
    from kir.version import __version__

    check_opset(opset)
    if dtype not in ("float32", "float16"):
        raise ConfigError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    io_dtype = io_dtype or "float32"
    if io_dtype not in ("float32", "float16"):
        raise ConfigError(f"io_dtype must be 'float32' or 'float16', got {io_dtype!r}")
    if io_dtype == "float16" and dtype != "float16":
        raise ConfigError("io_dtype='float16' needs dtype='float16'")
    input_names = [graph.vertex(v).name for v in graph.inputs]
    fused = level == "O2" and not portable  # onnxruntime's com.microsoft kernels (docs/onnx.md)
    nodes, initializers, output_names = lower(graph, opset, input_names, graph.output_names, fused=fused)
    inputs = [_value_info(n, graph.vertex(v).outputs[0].dtype, graph.vertex(v).outputs[0].shape, batch,
                          meta.dim_names(graph, v)) for n, v in zip(input_names, graph.inputs)]
    outputs = [_value_info(n, graph.spec(r).dtype, graph.spec(r).shape, batch)
               for n, r in zip(output_names, graph.outputs)]
    onnx_graph = helper.make_graph(nodes, graph.name, inputs, outputs, doc_string=f"kir model '{graph.name}'")
    opsets = [helper.make_opsetid("", opset)]
    if any(n.domain == "com.microsoft" for n in nodes):
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="kir", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets[:1]),
                              doc_string=f"Exported by kir {__version__} from model '{graph.name}'")
    _move_initializers(initializers, model)
    props = {"kir_version": __version__, "kir_model": graph.name, "kir_optimize": level, "kir_dtype": dtype}
    bounds = embedding_id_bounds(graph)
    if bounds:
        props["kir_embedding_ids"] = json.dumps({input_names[i]: n for i, n in bounds.items()})
    helper.set_model_props(model, props)
    if dtype == "float16":
        from kir.backends.onnx.float16 import to_float16

        kept = to_float16(model, keep_io=io_dtype == "float32", block_list=keep_float32)
        props["kir_float32_ops"] = json.dumps(dict(sorted(kept.items())))
    if guard_ids and bounds:
        from kir.backends.onnx.guards import add_id_guards

        add_id_guards(model, {input_names[i]: n for i, n in bounds.items()})
        props["kir_guard_ids"] = "true"
    meta.set_props(model, props)
    meta.describe(model, graph, metadata, meta.load_labels(labels))
    return model


def _move_initializers(tensors: list[onnx.TensorProto], model: ModelProto) -> None:
    """Put the weights into `model` after its graph: one tensor at a time, by deep copy (protobuf's
    `extend`/`MergeFrom` round-trip through bytes and refuse a tensor over 2 GB; copying them with
    the graph would hold every weight twice), each dropped from `tensors` once copied."""
    target = model.graph.initializer
    tensors.reverse()
    while tensors:
        target.add().CopyFrom(tensors.pop())


def initializer_bytes(model: ModelProto) -> int:
    """Weight bytes, from shapes and dtypes (reading `raw_data` would copy every weight)."""
    return sum(int(np.prod(t.dims, dtype=np.int64)) * helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
               for t in model.graph.initializer)


def session_source(model: ModelProto, keep: bool = True) -> tuple[bytes, list[str], list[np.ndarray]]:
    """What onnxruntime opens for an in-memory `model`: its bytes, and when its weights are near
    protobuf's 2 GB limit, the weights left out of those bytes (names and arrays, to hand over with
    `SessionOptions.add_external_initializers`; the arrays must outlive the session).
    keep: give `model` its weights back afterwards (False when the caller drops it)."""
    if not near_protobuf_limit(initializer_bytes(model)):
        return model.SerializeToString(), [], []
    names, arrays, moved = [], [], []
    for tensor in model.graph.initializer:
        if tensor.HasField("raw_data") and np.prod(tensor.dims, dtype=np.int64) > 256:
            names.append(tensor.name)
            moved.append(tensor)
            arrays.append(numpy_helper.to_array(tensor))
            set_external_data(tensor, location="kir-in-memory")  # onnxruntime takes the value given instead
            tensor.ClearField("raw_data")
    try:
        source = model.SerializeToString()
    finally:
        if keep:
            for tensor, array in zip(moved, arrays):
                tensor.raw_data = array.tobytes()
                tensor.ClearField("data_location")
                del tensor.external_data[:]
    return source, names, arrays


def _parameter_count(model: ModelProto) -> int:
    return int(sum(int(np.prod(t.dims)) if t.dims else 1 for t in model.graph.initializer))


def _io(values) -> list[tuple[str, str, tuple]]:
    result = []
    for v in values:
        t = v.type.tensor_type
        dims = tuple(d.dim_param or (d.dim_value if d.HasField("dim_value") else None) for d in t.shape.dim)
        result.append((v.name, helper.tensor_dtype_to_np_dtype(t.elem_type).name, dims))
    return result


def externalize(model: ModelProto, folder: Path, prefix: str) -> str:
    """Move `model`'s weights (tensors of 1 KiB and more) into one data file in `folder`, named
    '<prefix>.<16 hex>.data' by a hash of all its weights, so a new export never overwrites the data
    file the previous graph still reads (NAME_MAX-safe for long names). One pass: each weight is read
    out of protobuf once, then written and hashed (onnx.save_model would copy it twice more, and
    hashing a third time); the layout is onnx's: in initializer order, no padding."""
    digest = hashlib.sha256()
    staged = folder / "weights.data"
    moved: list[tuple[onnx.TensorProto, int, int]] = []
    with open(staged, "wb") as data:
        for tensor in model.graph.initializer:
            raw = tensor.raw_data or numpy_helper.to_array(tensor).tobytes()
            digest.update(tensor.name.encode() + b"\0")
            digest.update(raw)
            if tensor.HasField("raw_data") and sys.getsizeof(raw) >= 1024:  # onnx's size_threshold test
                moved.append((tensor, data.tell(), len(raw)))
                data.write(raw)
            del raw
    name = f"{_data_prefix(prefix)}.{digest.hexdigest()[:16]}.data"
    os.replace(staged, folder / name)
    for tensor, offset, length in moved:
        set_external_data(tensor, name, offset, length)
        tensor.ClearField("raw_data")
    return name


def _data_prefix(name: str) -> str:
    return name[:255 - len(".0123456789abcdef.data")]


def _stale_data_files(target: Path, keep: str | None) -> list[Path]:
    """Earlier exports' data files of this model: '<name>.<16 hex>.data' other than `keep`."""
    pattern = re.compile(re.escape(_data_prefix(target.name)) + r"\.[0-9a-f]{16}\.data")
    return [p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.name != keep]


def _write(model: ModelProto, target: Path, external: bool, name: str) -> str | None:
    """Check and publish the file(s): staged in a temporary folder beside the target, the data file
    (named by its content) moved into place first, the graph renamed over `target` last, then the
    data files of earlier exports removed; a reader sees the old model or the new one, never a mix.
    Returns the data file's name (None without external data)."""
    def fail(reason: str) -> ExportError:
        return ExportError(f"exporting model '{name}' to '{target}' failed: {reason}; no file was written")

    folder = str(target.parent)
    fileio.clean_stale(folder)
    data_name = None
    try:
        with fileio.staging(folder, fail, directory=True) as tmpdir:
            staged = Path(tmpdir) / "model.onnx"
            if external:
                data_name = externalize(model, Path(tmpdir), target.name)
                onnx.save_model(model, str(staged))
                onnx.checker.check_model(str(staged), full_check=True)
                fileio.publish(str(Path(tmpdir) / data_name), str(target.parent / data_name))
            else:
                checked = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
                onnx.checker.check_model(checked, full_check=True)
                staged.write_bytes(checked.SerializeToString(deterministic=True))
            fileio.publish(str(staged), str(target))
    except KirError:
        raise
    except Exception as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc
    for old in _stale_data_files(target, data_name):
        with contextlib.suppress(OSError):
            old.unlink()
    return data_name


def export(
    model_or_graph: Graph | GraphSource,
    path: str | os.PathLike,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    batch_size: int | None = None,
    dtype: str = "float32",
    optimize: Any = "O2",
    external_data_threshold: int | None = None,
    io_dtype: str | None = None,
    nchw_io: bool = False,
    *,
    metadata: dict[str, Any] | None = None,
    labels: Any = None,
    guard_ids: bool = False,
    keep_float32: Any = None,
    quantize: str | None = None,
    calibration: Any = None,
    quantize_exclude: Any = None,
    quantize_sample: Any = None,
    portable: bool = False,
) -> ExportResult:
    """Write `model_or_graph` as ONNX to `path` and return what was written.

    opset: 13..21 (default 17). dynamic_batch / batch_size: symbolic 'batch' dimension, or a
    static one. dtype: 'float16' stores weights and computes in half precision (for GPUs) while
    inputs and outputs stay float32 unless io_dtype='float16'. optimize: pass pipeline level
    'O0'..'O2'. nchw_io: image inputs/outputs in NCHW, so no Transpose is left at the boundary.
    Deployment (docs/deploy.md): metadata (str -> str, in metadata_props), labels (list or a
    text file, one class a line), guard_ids (the file itself refuses out-of-range Embedding ids),
    keep_float32 (op types float16 leaves in float32; default float16.DEFAULT_BLOCK_LIST),
    quantize 'dynamic' | 'static' | 'auto' (int8 through onnxruntime.quantization) with
    calibration (arrays or .npz), quantize_exclude (layer names kept float) and quantize_sample
    (data for the error report and auto's timing); `result.quantization` is the report.
    portable: standard ONNX ops only, for any runtime; otherwise O2 uses onnxruntime's fused
    com.microsoft kernels (Attention, MultiHeadAttention, BiasGelu) where the model has them.
    Raises ConfigError for bad options and ExportError when writing fails; in
    either case no file is left at `path`."""
    start = time.perf_counter()
    target = Path(os.fspath(path))
    if target.is_dir():
        raise ExportError(f"cannot export to '{target}': it is a directory; give a file name like model.onnx")
    if not target.parent.is_dir():
        raise ExportError(f"cannot export to '{target}': folder '{target.parent}' does not exist")
    if external_data_threshold is not None and (not isinstance(external_data_threshold, int)
                                                or external_data_threshold < 0):
        raise ConfigError(f"external_data_threshold must be a non-negative int or None (weights near protobuf's "
                          f"2 GB limit), got {external_data_threshold!r}")
    level = _level(optimize)
    batch = _batch_dim(dynamic_batch, batch_size)
    graph, report = optimized_graph(graph_of(model_or_graph), level, batch_size, nchw_io)
    # int8 starts from standard ops: onnxruntime's quantizers cannot type its own contrib ops
    model = _build(graph, opset, batch, dtype, level, io_dtype, metadata=metadata, labels=labels,
                   guard_ids=guard_ids, keep_float32=keep_float32, portable=portable or quantize is not None)
    quantization = None
    if quantize is None and (calibration is not None or quantize_exclude or quantize_sample is not None):
        raise ConfigError("calibration / quantize_exclude / quantize_sample need quantize='dynamic', 'static' "
                          "or 'auto'")
    if quantize is not None:
        from kir.backends.onnx.quantize import quantize as int8

        if dtype != "float32":
            raise ConfigError("quantize works on float32 models; drop dtype='float16' (--fp16)")
        model, quantization = int8(model, graph, quantize, calibration, quantize_exclude, sample=quantize_sample)
    counts = Counter(n.op_type for n in model.graph.node)
    parameters = _parameter_count(model)
    weight_bytes = initializer_bytes(model)
    external = (near_protobuf_limit(weight_bytes) if external_data_threshold is None
                else weight_bytes > external_data_threshold)
    data_name = _write(model, target, external, graph.name)
    size = target.stat().st_size + ((target.parent / data_name).stat().st_size if data_name else 0)
    return ExportResult(str(target), opset, _io(model.graph.input), _io(model.graph.output), counts, parameters,
                        size, time.perf_counter() - start, str(target.parent / data_name) if data_name else None,
                        graph, report, quantization)
