"""float16 conversion with a block list of ops kept in float32, Casts inserted at the borders.

Why a block list: ops that sum or exponentiate many values (Softmax, reductions, normalizations,
Exp/Log/Pow) overflow or lose most of their precision in float16, while matrix products and
convolutions accumulate in float32 inside the kernels anyway. onnxconverter-common's
`convert_float_to_float16(op_block_list=...)` does the same; kir does it on its own files so the
export keeps its names and needs no extra dependency.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import ModelProto, TensorProto, helper, numpy_helper

DEFAULT_BLOCK_LIST = frozenset({
    "Softmax", "LogSoftmax", "Hardmax",
    "ReduceSum", "ReduceMean", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
    "ReduceLogSumExp",
    "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
    "LpNormalization", "MeanVarianceNormalization",
    "Exp", "Log", "Pow", "Sqrt", "Reciprocal", "Softplus", "CumSum",
    "Range", "Resize", "TopK", "NonMaxSuppression", "RoiAlign", "Upsample",
})
"""Ops computed in float32 inside a float16 model (onnxconverter-common's list, plus the ops that
lose accuracy in half precision)."""

_ATTR_TYPED = frozenset({"ConstantOfShape", "RandomNormal", "RandomNormalLike", "RandomUniform",
                         "RandomUniformLike", "EyeLike", "Constant"})
"""Ops whose output dtype an attribute fixes: they stay float32 and a Cast follows when needed."""

_SUBGRAPH_OPS = frozenset({"Scan", "Loop", "If"})
"""Ops with body graphs, which the conversion does not enter: they run in float32, Casts around them."""

_FLOAT16_MAX = float(np.finfo(np.float16).max)


def _elem_types(model: ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {t.name: t.data_type for t in model.graph.initializer}
    for value in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        types[value.name] = value.type.tensor_type.elem_type
    return types


def to_float16(model: ModelProto, keep_io: bool = True, block_list: Iterable[str] | None = None) -> dict[str, int]:
    """Convert `model` in place: weights and compute in float16 except the ops in `block_list`
    (default DEFAULT_BLOCK_LIST), which keep float32 with Casts around them. Float32 graph
    inputs/outputs stay float32 (with Casts) when `keep_io`. Returns the op counts kept float32."""
    blocked_ops = DEFAULT_BLOCK_LIST if block_list is None else frozenset(block_list)
    graph = model.graph
    types = _elem_types(model)
    FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16

    def is_float(name: str) -> bool:
        return types.get(name) == FLOAT

    kept: dict[str, int] = {}
    blocked = set()
    for node in graph.node:
        if node.op_type in blocked_ops or node.op_type in _ATTR_TYPED or node.op_type in _SUBGRAPH_OPS:
            blocked.add(node.name)
            if node.op_type in blocked_ops or node.op_type in _SUBGRAPH_OPS:
                kept[node.op_type] = kept.get(node.op_type, 0) + 1
    # where each float tensor lives now: 16 or 32
    precision: dict[str, int] = {}
    for value in graph.input:
        if is_float(value.name):
            precision[value.name] = 32 if keep_io else 16
            if not keep_io:
                value.type.tensor_type.elem_type = HALF
    init_users: dict[str, set[int]] = {}
    for node in graph.node:
        want = 32 if node.name in blocked else 16
        for name in node.input:
            init_users.setdefault(name, set()).add(want)
    initializers = []
    for tensor in graph.initializer:
        if tensor.data_type != FLOAT:
            initializers.append(tensor)
            continue
        wants = init_users.get(tensor.name, {16})
        if 16 in wants:
            value = np.clip(numpy_helper.to_array(tensor), -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16)
            initializers.append(numpy_helper.from_array(value, tensor.name))
            precision[tensor.name] = 16
            if 32 in wants:
                initializers.append(tensor_copy(tensor, f"{tensor.name}/float32"))
        else:
            initializers.append(tensor)
            precision[tensor.name] = 32
    del graph.initializer[:]
    graph.initializer.extend(initializers)

    casts: dict[tuple[str, int], str] = {}
    nodes: list[onnx.NodeProto] = []

    def cast(name: str, bits: int) -> str:
        if (name, bits) in casts:
            return casts[(name, bits)]
        if bits == 32 and any(t.name == f"{name}/float32" for t in initializers):
            casts[(name, bits)] = f"{name}/float32"
            return casts[(name, bits)]
        out = f"{name}/float{bits}"
        nodes.append(helper.make_node("Cast", [name], [out], name=f"{name}/Cast{bits}",
                                      to=FLOAT if bits == 32 else HALF))
        casts[(name, bits)] = out
        return out

    for node in graph.node:
        want = 32 if node.name in blocked else 16
        for i, name in enumerate(node.input):
            have = precision.get(name)
            if name and have is not None and have != want:
                node.input[i] = cast(name, want)
        if want == 16:
            for attr in node.attribute:
                if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                    attr.i = HALF
        for i, out in enumerate(node.output):
            if out and (is_float(out) or (out not in types and _float_output(node, i, precision))):
                precision[out] = want
        nodes.append(node)
    for value in graph.output:
        if not is_float(value.name):
            continue
        have = precision.get(value.name, 32)
        if keep_io and have == 16:
            inner = f"{value.name}/float16"
            for node in nodes:
                node.output[:] = [inner if o == value.name else o for o in node.output]
                node.input[:] = [inner if o == value.name else o for o in node.input]
            nodes.append(helper.make_node("Cast", [inner], [value.name], name=f"{value.name}/Cast", to=FLOAT))
        elif not keep_io:
            if have == 32:
                inner = f"{value.name}/float32"
                for node in nodes:
                    node.output[:] = [inner if o == value.name else o for o in node.output]
                    node.input[:] = [inner if o == value.name else o for o in node.input]
                nodes.append(helper.make_node("Cast", [inner], [value.name], name=f"{value.name}/Cast", to=HALF))
            value.type.tensor_type.elem_type = HALF
    del graph.node[:]
    graph.node.extend(_topological(nodes, graph))
    del graph.value_info[:]
    return kept


_NON_FLOAT_OUTPUTS = frozenset({"Shape", "Size", "ArgMax", "ArgMin", "NonZero", "Equal", "Less", "LessOrEqual",
                                "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf"})


def _float_output(node: onnx.NodeProto, index: int, precision: dict[str, int]) -> bool:
    """Whether output `index` of a node onnx could not type is float: onnx's shape inference knows
    no contrib (com.microsoft) op, so types stop there; an op's first output follows its float
    inputs unless the op makes indices, shapes or booleans."""
    if node.op_type == "Cast":
        return any(a.name == "to" and a.i == TensorProto.FLOAT for a in node.attribute)
    return index == 0 and node.op_type not in _NON_FLOAT_OUTPUTS and any(precision.get(i) for i in node.input)


def tensor_copy(tensor: TensorProto, name: str) -> TensorProto:
    """A copy of an initializer under another name."""
    copy = TensorProto()
    copy.CopyFrom(tensor)
    copy.name = name
    return copy


def _topological(nodes: list[onnx.NodeProto], graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Nodes ordered so every input is produced first (Casts were appended after their users)."""
    ready = {v.name for v in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(nodes)
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = []
        for node in pending:
            if all(i in ready for i in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):  # a cycle or a dangling input: keep the order, the checker will say
            ordered.extend(rest)
            break
        pending = rest
    return ordered


def kept_float32(model: ModelProto) -> list[str]:
    """Names of the nodes of a converted model that compute in float32 (for reports and tests)."""
    types = _elem_types(model)
    return [n.name for n in model.graph.node if n.op_type != "Cast" and n.output
            and types.get(n.output[0]) == TensorProto.FLOAT]
