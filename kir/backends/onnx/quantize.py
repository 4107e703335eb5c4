"""int8 quantization of an exported model through `onnxruntime.quantization`, with a per-layer report.

Why here and not by hand: onnxruntime's quantizers know which int8 kernels its CPU provider has.
kir adds what they lack because it knows the float graph: each ONNX node is mapped back to the kir
layer that emitted it (node names start with the layer path), every layer's int8 output is compared
with the numpy reference of that layer, `exclude` takes layer names, and `mode='auto'` chooses per
op: dynamic for MatMul/Gemm/LSTM/GRU, static QDQ for Conv (and the Relu/pooling/Gemm around it)
only when calibration data is given, float otherwise. It quantizes each applicable plan, times
them against the float file on the given data and keeps the fastest, keeps layers whose error
passes `tolerance` in float, and returns the float model when int8 is not faster.
Models near protobuf's 2 GB limit (`is_large`) are quantized through files with external data only.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, helper

from kir.backends.numpy.interpreter import NumpyInterpreter
from kir.errors import ConfigError, ExportError, KirError, MissingDependencyError, did_you_mean
from kir.ir.graph import Graph, Vertex

MODES = ("dynamic", "static", "auto")
DYNAMIC_OPS = ("MatMul", "Gemm", "LSTM", "GRU")
"""Ops whose int8 kernels pay off with dynamic (per-batch) activation scales."""
CONV_GROUP = ("Conv", "Relu", "Clip", "MaxPool")
"""What auto quantizes statically (QDQ) beside dynamic MatMul/Gemm: ConvInteger, what dynamic
makes of Conv, is slower than float on CPU; the Relu and pooling keep the tensor int8 in between."""
STATIC_GROUP = ("Conv", "Gemm", "MatMul", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool",
                "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat")
"""What static QDQ quantizes: the weighted ops and the ops onnxruntime runs in int8 between them,
so no DequantizeLinear/QuantizeLinear pair sits between two int8 kernels."""
WEIGHTED_OPS = frozenset({"Conv", "Gemm", "MatMul", "LSTM", "GRU"})
"""Ops whose int8 version makes a layer count as quantized in the report."""
DEFAULT_TOLERANCE = 0.1
MAX_AUTO_ROUNDS = 4
"""Quantize-measure rounds auto makes, each keeping the first layer over tolerance in float."""
"""Relative error (max |int8 - ref| / max |ref|) above which auto keeps a layer in float."""


@dataclass
class LayerError:
    """One layer's int8 output against the numpy reference."""

    layer: str
    ops: list[str]
    scheme: str
    max_abs: float
    relative: float


@dataclass
class QuantizeReport:
    """What quantization did: the scheme per layer and why, the errors, and the latency check."""

    mode: str
    schemes: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    layers: list[LayerError] = field(default_factory=list)
    output_error: float = 0.0
    float_ms: float | None = None
    int8_ms: float | None = None
    quantized: bool = True

    @property
    def speedup(self) -> float | None:
        """Float latency over int8 latency (None when not measured)."""
        return self.float_ms / self.int8_ms if self.float_ms and self.int8_ms else None

    def lines(self) -> list[str]:
        """The report as `kir-export --quantize` prints it."""
        out = [f"  quantize {self.mode}: " + ("int8 file written" if self.quantized else "kept float32")]
        out += [f"    why: {r}" for r in self.reasons]
        if self.float_ms is not None and self.int8_ms is not None:
            out.append(f"    latency: float {self.float_ms:.3f} ms, int8 {self.int8_ms:.3f} ms "
                       f"({self.speedup:.2f}x)")
        if self.layers:
            out.append("    layer                          scheme    ops                       max abs err  rel err")
            for e in self.layers:
                out.append(f"    {e.layer[:30]:30s} {e.scheme:9s} {','.join(e.ops)[:25]:25s} "
                           f"{e.max_abs:11.3e}  {e.relative:7.2%}")
        out.append(f"    output max relative error vs numpy reference: {self.output_error:.3e}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _quant():
    try:
        import onnxruntime.quantization as q
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise MissingDependencyError("quantization needs onnxruntime: pip install onnxruntime") from exc
    return q


# ---------------------------------------------------------------- data
def load_arrays(data: Any, input_names: Sequence[str], what: str = "calibration") -> list[np.ndarray]:
    """Arrays in input order from an array, a list, a dict by input name or a .npz path (keys: the
    input names; for a single-input model also 'x' or a lone array)."""
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.isfile(path):
            raise ConfigError(f"{what} file '{path}' does not exist; give a .npz holding one array per input")
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    if isinstance(data, Mapping):
        if all(n in data for n in input_names):
            data = [data[n] for n in input_names]
        elif len(input_names) == 1 and ("x" in data or len(data) == 1):
            data = [data["x"] if "x" in data else next(iter(data.values()))]
        else:
            missing = [n for n in input_names if n not in data]
            raise ConfigError(f"{what} data has no array for input '{missing[0]}'."
                              f"{did_you_mean(missing[0], list(data))} Keys needed: {', '.join(input_names)}")
    arrays = [np.asarray(a) for a in (data if isinstance(data, (list, tuple)) else [data])]
    if len(arrays) != len(input_names):
        raise ConfigError(f"{what} data has {len(arrays)} arrays but the model has {len(input_names)} inputs "
                          f"({', '.join(input_names)})")
    if not arrays[0].ndim or not arrays[0].shape[0]:
        raise ConfigError(f"{what} data for input '{input_names[0]}' holds no samples")
    return arrays


def checked(model: ModelProto, arrays: list[np.ndarray], what: str) -> list[np.ndarray]:
    """`arrays` checked against the model's inputs (rank, static dims, dtype), or a FeedError
    naming the input, before onnxruntime's calibrator would fail deep inside."""
    from kir.backends.feeds import check_feeds
    from kir.ir.spec import TensorSpec

    names, specs = [], []
    for value in model.graph.input:
        t = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
        names.append(value.name)
        specs.append(TensorSpec(dims, helper.tensor_dtype_to_np_dtype(t.elem_type).name))
    return check_feeds(names, specs, arrays, model.graph.name, f"the {what} data")


def _feeds(model: ModelProto, arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    feeds = {}
    for value, a in zip(model.graph.input, arrays):
        dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        feeds[value.name] = np.ascontiguousarray(a, dtype=dtype)
    return feeds


def _batches(arrays: Sequence[np.ndarray], size: int = 32) -> list[list[np.ndarray]]:
    n = arrays[0].shape[0]
    return [[a[s:s + size] for a in arrays] for s in range(0, n, size)]


# ---------------------------------------------------------------- layers
class _Capture(NumpyInterpreter):
    """The numpy reference, keeping every vertex's first output by its path ('outer/inner/layer')."""

    free_values = False

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, np.ndarray] = {}
        self.order: list[str] = []

    def run_vertex(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[np.ndarray]) -> list[np.ndarray]:
        out = super().run_vertex(graph, vid, vertex, args)
        if vertex.op != "Input" and out and isinstance(out[0], np.ndarray):
            path = self.prefix + vertex.name
            self.values[path] = out[0]
            if path not in self.order:
                self.order.append(path)
        return out


def layer_of(node_name: str, layers: Sequence[str]) -> str | None:
    """The kir layer (path) whose lowering emitted the ONNX node `node_name` (longest prefix)."""
    best = None
    for layer in layers:
        if node_name.startswith(layer + "/") and (best is None or len(layer) > len(best)):
            best = layer
    return best


def _layer_nodes(model: ModelProto, layers: Sequence[str]) -> dict[str, list[onnx.NodeProto]]:
    groups: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        owner = layer_of(node.name, layers)
        if owner is not None:
            groups.setdefault(owner, []).append(node)
    return groups


def _gemm_to_matmul(model: ModelProto) -> ModelProto:
    """Gemm with a constant weight -> MatMul + Add (same names' prefix), because onnxruntime's dynamic
    quantizer has an int8 kernel for MatMul (MatMulInteger) and none for Gemm."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {t.name: t for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = (attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
                 and not attrs.get("transA", 0) and not attrs.get("transB", 0))
        if node.op_type != "Gemm" or not plain or node.input[1] not in inits:
            nodes.append(node)
            continue
        stem = node.name[: -len("Gemm")] if node.name.endswith("Gemm") else node.name + "/"
        if len(node.input) < 3 or not node.input[2]:
            nodes.append(helper.make_node("MatMul", node.input[:2], list(node.output), name=f"{stem}MatMul"))
            continue
        product = f"{node.output[0]}:matmul"
        nodes.append(helper.make_node("MatMul", node.input[:2], [product], name=f"{stem}MatMul"))
        nodes.append(helper.make_node("Add", [product, node.input[2]], list(node.output), name=f"{stem}BiasAdd"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def is_large(model: ModelProto) -> bool:
    """Whether `model`'s weights are near protobuf's 2 GB limit, so quantizing it must go through
    files with external data (export.near_protobuf_limit, the one size test)."""
    from kir.backends.onnx.export import initializer_bytes, near_protobuf_limit

    return near_protobuf_limit(initializer_bytes(model))


def _loadable(model: ModelProto | str, folder: str | None) -> bytes | str:
    """What onnxruntime opens: a path as is; a small model's bytes; in the large route (`folder`
    set) the graph-only proto saved beside the external data files it points to (a new name each
    time, so no session's file is overwritten)."""
    if isinstance(model, str):
        return model
    if folder is None:
        return model.SerializeToString()
    fd, path = tempfile.mkstemp(suffix=".onnx", prefix="session-", dir=folder)
    os.close(fd)
    onnx.save(model, path)
    return path


def _load(path: str, folder: str | None) -> ModelProto:
    """A file quantization wrote: whole for small models; graph-only in the large route (the
    weights stay in the external data file beside it)."""
    return onnx.load(path, load_external_data=folder is None)


def _session(model: ModelProto | str, optimized: bool = True, folder: str | None = None) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not optimized:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(_loadable(model, folder), sess_options=so, providers=["CPUExecutionProvider"])


def _with_outputs(model: ModelProto, tensors: Sequence[str]) -> ModelProto:
    extra = onnx.ModelProto.FromString(model.SerializeToString())
    have = {o.name for o in extra.graph.output}
    produced = {o for n in extra.graph.node for o in n.output}
    for t in tensors:
        if t in produced and t not in have:
            extra.graph.output.append(helper.make_empty_tensor_value_info(t))
            have.add(t)
    return extra


def _relative(got: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape or not ref.size:
        return float("nan"), float("nan")
    err = float(np.max(np.abs(got - ref)))
    return err, err / max(float(np.max(np.abs(ref))), 1e-12)


def _effective(model: ModelProto, tensor: str) -> str:
    """The tensor downstream ops see in place of `tensor`: in QDQ files, the DequantizeLinear output
    of its QuantizeLinear (a removed Relu's output name may even sit before the quantization)."""
    users: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    for q in users.get(tensor, []):
        if q.op_type == "QuantizeLinear":
            for dq in users.get(q.output[0], []):
                if dq.op_type == "DequantizeLinear":
                    return dq.output[0]
    return tensor


def layer_errors(model: ModelProto, graph: Graph, arrays: Sequence[np.ndarray], schemes: Mapping[str, str],
                 float_model: ModelProto, folder: str | None = None) -> tuple[list[LayerError], float]:
    """Per-layer errors of `model` (quantized from `float_model`) against the numpy reference of
    `graph` (the kir graph it was lowered from), and the max relative error over the model outputs.
    A layer's output is the first output of its last node in the float file (quantizers keep it).
    folder: the large route's working folder (see `_loadable`)."""
    capture = _Capture()
    refs = capture.run(graph, [np.asarray(a) for a in arrays])
    groups = _layer_nodes(model, capture.order)
    last = {layer: _effective(model, nodes[-1].output[0])
            for layer, nodes in _layer_nodes(float_model, capture.order).items()}
    probe = _with_outputs(model, [t for t in last.values() if t])
    session = _session(probe, optimized=False, folder=folder)
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, _feeds(model, arrays))))
    errors = []
    for layer in capture.order:
        tensor = last.get(layer)
        if tensor is None or tensor not in values or layer not in capture.values or layer not in groups:
            continue
        abs_err, rel = _relative(values[tensor], capture.values[layer])
        if np.isnan(rel):
            continue
        ops = sorted({n.op_type for n in groups[layer]})
        errors.append(LayerError(layer, ops, schemes.get(layer, "float"), abs_err, rel))
    out_err = max((_relative(values[o.name], r)[1] for o, r in zip(model.graph.output, refs)), default=0.0)
    return errors, out_err


# ---------------------------------------------------------------- timing
def median_ms(models: Mapping[str, ModelProto | str], arrays: Sequence[np.ndarray], rounds: int = 15,
              budget_s: float = 2.0, folder: str | None = None) -> dict[str, float]:
    """Median milliseconds per run of each model on `arrays` (one batch), the models taking turns so
    that clock drift hits each alike."""
    sessions = {k: _session(m, folder=folder) for k, m in models.items()}
    feeds = {k: _feeds(onnx.load(m, load_external_data=False) if isinstance(m, str) else m, arrays)
             for k, m in models.items()}
    for k, s in sessions.items():
        s.run(None, feeds[k])
    samples: dict[str, list[float]] = {k: [] for k in sessions}
    start = time.perf_counter()
    for r in range(rounds):
        for k, s in sessions.items():
            s.run(None, feeds[k])
            t0 = time.perf_counter()
            s.run(None, feeds[k])
            samples[k].append(time.perf_counter() - t0)
        if r >= 4 and time.perf_counter() - start > budget_s:
            break
    return {k: statistics.median(v) * 1e3 for k, v in samples.items()}


# ---------------------------------------------------------------- quantizing
class _Reader:
    """onnxruntime's CalibrationDataReader protocol over in-memory batches."""

    def __init__(self, model: ModelProto, arrays: Sequence[np.ndarray]) -> None:
        self._batches = [_feeds(model, b) for b in _batches(arrays)]
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= len(self._batches):
            return None
        self._next += 1
        return self._batches[self._next - 1]

    def rewind(self) -> None:
        self._next = 0


def _run_ort(model: ModelProto, tmp: str, dynamic_ops: Sequence[str], static_ops: Sequence[str],
             layers: Sequence[str], exclude: set[str], calibration: Sequence[np.ndarray] | None,
             tag: str = "", large: bool = False) -> ModelProto:
    """Pre-process (shape inference + ORT's basic optimizations), then dynamic and/or static QDQ.

    Large models (`large`: `model` is graph-only, its weights in external data files in `tmp`) go
    through files only: every step reads and writes external data and the result comes back
    graph-only. `tag` keeps each attempt's files apart (earlier results still point at theirs)."""
    q = _quant()
    folder = tmp if large else None
    src = os.path.join(tmp, f"{tag}float.onnx")
    onnx.save(model, src)
    pre = os.path.join(tmp, f"{tag}pre.onnx")
    # kir's files pass onnx's strict shape inference, so the symbolic pass (it needs sympy) adds nothing
    external = {"save_as_external_data": True, "all_tensors_to_one_file": True,
                "external_data_location": f"{tag}pre.onnx.data"} if large else {}
    q.quant_pre_process(src, pre, skip_symbolic_shape=True, **external)
    current = _load(pre, folder)
    if dynamic_ops:
        current = _gemm_to_matmul(current)
        dyn_in, dyn = os.path.join(tmp, f"{tag}dynamic_in.onnx"), os.path.join(tmp, f"{tag}dynamic.onnx")
        onnx.save(current, dyn_in)  # onnxruntime's quantizers take paths most reliably (external data)
        ops = [op if op != "Gemm" else "MatMul" for op in dynamic_ops]
        q.quantize_dynamic(dyn_in, dyn, op_types_to_quantize=sorted(set(ops)), per_channel=True,
                           weight_type=q.QuantType.QInt8, nodes_to_exclude=_excluded_nodes(current, layers, exclude),
                           use_external_data_format=large, extra_options={"MatMulConstBOnly": True})
        current = _load(dyn, folder)
    if static_ops:
        if calibration is None:
            raise ConfigError("static quantization needs calibration data: calibration=arrays or a .npz "
                              "(a few hundred representative samples)")
        static_in, out = os.path.join(tmp, f"{tag}static_in.onnx"), os.path.join(tmp, f"{tag}static.onnx")
        onnx.save(current, static_in)
        q.quantize_static(static_in, out, _Reader(current, calibration), quant_format=q.QuantFormat.QDQ,
                          op_types_to_quantize=list(static_ops), per_channel=True,
                          activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
                          nodes_to_exclude=_excluded_nodes(current, layers, exclude),
                          calibrate_method=q.CalibrationMethod.MinMax, use_external_data_format=large,
                          extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        current = _load(out, folder)
    return current


def _plan(model: ModelProto, layers: Sequence[str], plan: str,
          exclude: set[str]) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """The op types each scheme takes under `plan`, the scheme per layer, and why.

    Plans: 'dynamic' (MatMul/Gemm/LSTM/GRU, Conv float), 'static' (QDQ for Conv, Gemm, MatMul and
    the int8-capable ops between them; LSTM/GRU float), and auto's 'conv-static' (dynamic
    MatMul/Gemm/LSTM/GRU, static QDQ for Conv with its Relu and pooling) and 'static+rnn' (static
    QDQ, LSTM/GRU dynamic)."""
    present = {n.op_type for n in model.graph.node}
    reasons = []
    if plan == "dynamic":
        dynamic, static = [op for op in DYNAMIC_OPS if op in present], []
        if "Conv" in present:
            reasons.append("Conv stays float under dynamic int8: ConvInteger is slower than float Conv on CPU "
                           "(static QDQ needs calibration data)")
        if dynamic:
            reasons.append(f"dynamic int8 for {', '.join(dynamic)} (weights per channel, activation scales "
                           f"per batch: no calibration needed)")
    elif plan == "conv-static":
        dynamic = [op for op in DYNAMIC_OPS if op in present]
        static = [op for op in CONV_GROUP if op in present]
        reasons.append(f"static QDQ int8 for {', '.join(static)} (calibrated ranges), dynamic int8 for "
                       f"{', '.join(dynamic) or 'nothing else'}")
    else:
        dynamic = [op for op in ("LSTM", "GRU") if op in present] if plan == "static+rnn" else []
        static = [op for op in STATIC_GROUP if op in present]
        reasons.append(f"static QDQ int8 for {', '.join(static)} (calibrated activation ranges)"
                       + (f", dynamic int8 for {', '.join(dynamic)}" if dynamic else ""))
        if plan == "static" and present & {"LSTM", "GRU"}:
            reasons.append("LSTM/GRU stay float in static mode (onnxruntime quantizes them dynamically only)")
    kinds = {op: "static" for op in static} | {op: "dynamic" for op in dynamic}
    schemes = {}
    for layer, nodes in _layer_nodes(model, layers).items():
        chosen = {kinds[n.op_type] for n in nodes if n.op_type in kinds and n.op_type in WEIGHTED_OPS}
        schemes[layer] = "float" if layer in exclude or not chosen else "+".join(sorted(chosen))
    return dynamic, static, schemes, reasons


def _excluded_nodes(model: ModelProto, layers: Sequence[str], exclude: set[str]) -> list[str]:
    return [n.name for n in model.graph.node if layer_of(n.name, layers) in exclude]


def _layer_paths(graph: Graph) -> list[str]:
    paths: list[str] = []

    def walk(g: Graph, prefix: str) -> None:
        for vid in g.topological_order():
            vertex = g.vertex(vid)
            if vertex.op == "Input":
                continue
            paths.append(prefix + vertex.name)
            if vertex.subgraph is not None:
                walk(vertex.subgraph, f"{prefix}{vertex.name}/")

    walk(graph, "")
    return paths


def quantize(model: ModelProto, graph: Graph, mode: str = "auto", calibration: Any = None,
             exclude: Sequence[str] | None = None, tolerance: float = DEFAULT_TOLERANCE,
             sample: Any = None) -> tuple[ModelProto, QuantizeReport]:
    """The int8 version of `model` (the float32 ONNX lowering of `graph`) and its report.

    calibration: arrays / dict / .npz path (needed by 'static'; lets 'auto' quantize Conv).
    exclude: kir layer names kept in float. sample: data for the error report and auto's timing
    (default: the calibration data, else random inputs)."""
    if mode not in MODES:
        raise ConfigError(f"quantize must be one of {', '.join(MODES)}, got {mode!r}")
    if any(t.data_type != onnx.TensorProto.FLOAT for t in model.graph.initializer
           if t.data_type in (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)):
        raise ConfigError("quantize works on float32 models; drop dtype='float16' (--fp16)")
    input_names = [v.name for v in model.graph.input]
    calib = None if calibration is None else checked(model, load_arrays(calibration, input_names), "calibration")
    if mode == "static" and calib is None:
        raise ConfigError("quantize='static' needs calibration data: calibration=arrays or a .npz path "
                          "(--calibration data.npz), a few hundred representative samples")
    layers = _layer_paths(graph)
    excluded = {exclude} if isinstance(exclude, str) else set(exclude or ())
    for name in sorted(excluded):
        if name not in layers:
            raise ConfigError(f"quantize_exclude: model has no layer '{name}'.{did_you_mean(name, layers)}")
    data = checked(model, load_arrays(sample, input_names, "sample"), "sample") if sample is not None else calib
    if data is None:
        data = random_inputs(model, graph, 32)
    data = [a[:256] for a in data]
    with tempfile.TemporaryDirectory(prefix="kir-quantize-") as tmp:
        folder = tmp if is_large(model) else None
        if folder is None:
            return _quantize_in(tmp, None, model, graph, mode, calib, layers, excluded, tolerance, data)
        # large: the weights move to a file once; every step below reads and writes files with external
        # data and keeps graph-only protos, and what is returned gets its weights back before tmp goes
        from pathlib import Path

        from kir.backends.onnx.export import externalize

        externalize(model, Path(tmp), "source.onnx")
        try:
            result, report = _quantize_in(tmp, folder, model, graph, mode, calib, layers, excluded, tolerance, data)
            if result is not model:
                onnx.load_external_data_for_model(result, tmp)
        finally:
            onnx.load_external_data_for_model(model, tmp)
        return result, report


def _quantize_in(tmp: str, folder: str | None, model: ModelProto, graph: Graph, mode: str,
                 calib: list[np.ndarray] | None, layers: list[str], excluded: set[str], tolerance: float,
                 data: list[np.ndarray]) -> tuple[ModelProto, QuantizeReport]:
    """`quantize`'s work in the folder `tmp` (`folder`: tmp in the large route, where `model` and
    every proto made here are graph-only and their weights sit in external data files in tmp)."""
    report = QuantizeReport(mode)
    batch = [a[:32] for a in data]
    made: dict[tuple[str, frozenset[str]], ModelProto | None] = {}

    def attempt(plan: str, excluded: set[str]) -> tuple[ModelProto | None, dict[str, str], list[str]]:
        dynamic, static, schemes, reasons = _plan(model, layers, plan, excluded)
        key = (plan, frozenset(excluded))
        if key not in made:
            made[key] = None
            if any(v != "float" for v in schemes.values()):
                try:
                    made[key] = _run_ort(model, tmp, dynamic, static, layers, excluded, calib,
                                         tag=f"{len(made)}-", large=folder is not None)
                except KirError:
                    raise
                except Exception as exc:
                    raise ExportError(f"onnxruntime.quantization failed ({plan}): {type(exc).__name__}: "
                                      f"{exc}") from exc
        return made[key], schemes, reasons

    plan = mode
    if mode == "auto":
        plan, notes = _choose_plan(model, calib, batch, lambda p: attempt(p, excluded)[0], folder)
    else:
        notes = []
    candidate = None
    for round_ in range(MAX_AUTO_ROUNDS if mode == "auto" else 1):
        candidate, schemes, reasons = attempt(plan, excluded)
        report.schemes, report.reasons = schemes, reasons + notes
        if candidate is None:
            break
        failure = _run_failure(candidate, batch, folder)
        if failure:
            raise ExportError(f"the int8 file onnxruntime.quantization made ({plan}) does not run in onnxruntime: "
                              f"{failure}; keep the failing layer float with quantize_exclude, or try "
                              f"another mode")
        report.layers, report.output_error = layer_errors(candidate, graph, data, schemes, model, folder)
        worst = next((e for e in report.layers if e.scheme != "float" and e.relative > tolerance), None)
        if mode != "auto" or worst is None or round_ == MAX_AUTO_ROUNDS - 1:
            break
        excluded.add(worst.layer)
        notes.append(f"layer '{worst.layer}' stays float: int8 error {worst.relative:.1%} > tolerance "
                     f"{tolerance:.1%}")
    if candidate is None:
        report.quantized = False
        report.reasons.append("no layer is left with an int8 scheme: the file stays float32")
        return model, report
    if excluded:
        report.reasons.append(f"float by request or tolerance: {', '.join(sorted(excluded))}")
    timing = median_ms({"float": model, "int8": candidate}, batch, folder=folder)
    report.float_ms, report.int8_ms = timing["float"], timing["int8"]
    if mode == "auto" and report.int8_ms >= report.float_ms:
        report.quantized = False
        report.reasons.append(f"int8 was not faster than float on the given data ({report.int8_ms:.3f} ms vs "
                              f"{report.float_ms:.3f} ms at batch {len(batch[0])}): "
                              f"the float32 file is written")
        return model, report
    from kir.backends.onnx.metadata import set_props

    int8_layers = ",".join(k for k, v in report.schemes.items() if v != "float")
    set_props(candidate, {p.key: p.value for p in model.metadata_props}
              | {"kir_quantize": mode, "kir_int8_layers": int8_layers})
    return candidate, report


def _choose_plan(model: ModelProto, calib: Sequence[np.ndarray] | None, batch: Sequence[np.ndarray],
                 make: Any, folder: str | None = None) -> tuple[str, list[str]]:
    """auto's choice: every applicable plan quantized once and timed against float (interleaved),
    the fastest kept. Without calibration data only 'dynamic' applies."""
    present = {n.op_type for n in model.graph.node}
    plans = ["dynamic"]
    if calib is not None:
        plans += (["conv-static"] if "Conv" in present else []) + ["static+rnn" if present & {"LSTM", "GRU"}
                                                                    else "static"]
    if len(plans) == 1:
        return plans[0], []
    made = {p: make(p) for p in plans}
    notes = []
    for plan, candidate in list(made.items()):
        failure = None if candidate is None else _run_failure(candidate, batch, folder)
        if candidate is None or failure:
            del made[plan]
            if failure:
                notes.append(f"plan '{plan}' dropped: onnxruntime cannot run it ({failure})")
    if not made:
        return "dynamic", notes
    timing = median_ms({"float": model, **made}, batch, folder=folder)
    best = min(made, key=lambda p: timing[p])
    tried = ", ".join(f"{p} {timing[p]:.3f} ms" for p in made)
    return best, notes + [f"auto tried {tried} vs float {timing['float']:.3f} ms at batch {len(batch[0])}: "
                          f"'{best}' is fastest"]


def _run_failure(model: ModelProto, batch: Sequence[np.ndarray], folder: str | None = None) -> str | None:
    """None when onnxruntime runs `model` on `batch`, else the first line of its error (some
    quantizer outputs do not run, e.g. per-axis scales onnxruntime's kernels reject)."""
    try:
        _session(model, folder=folder).run(None, _feeds(model, batch))
    except Exception as exc:  # onnxruntime raises its own exception types
        return str(exc).splitlines()[0][:200]
    return None


def random_inputs(model: ModelProto, graph: Graph, batch: int, seed: int = 0) -> list[np.ndarray]:
    """Random inputs for timing: normal floats, token ids within each Embedding's input_dim."""
    from kir.backends.onnx.export import embedding_id_bounds

    rng = np.random.default_rng(seed)
    bounds = embedding_id_bounds(graph)
    arrays = []
    for i, value in enumerate(model.graph.input):
        t = value.type.tensor_type
        shape = [batch] + [d.dim_value if d.HasField("dim_value") else 8 for d in t.shape.dim][1:]
        dtype = helper.tensor_dtype_to_np_dtype(t.elem_type)
        if np.issubdtype(dtype, np.integer):
            arrays.append(rng.integers(0, bounds.get(i, 10), shape).astype(dtype))
        else:
            arrays.append(rng.normal(0.0, 1.0, shape).astype(dtype))
    return arrays
