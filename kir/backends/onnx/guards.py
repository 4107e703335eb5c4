"""In-graph token-id guards: the file itself refuses ids outside an Embedding's [0, input_dim).

Why: ONNX Gather wraps negative indices (-1 is the last row), so a served model that gets a bad
id answers with the wrong embedding instead of failing; kir's Runtime checks ids in Python, but
Triton or plain onnxruntime never run that code. ONNX has no Assert, so the guard makes the
check a data dependency that fails in any runtime: the ids pass through a Reshape whose target
shape is [0, ..., 0, -1 - bad] (bad = 1 when some id is out of range). With good ids that is
[0, ..., 0, -1], a no-op; with a bad one the last dim is -2, which every ONNX runtime must refuse
("dimension cannot be less than -1"). The node is named '<input>/guard_ids_in_0_<bound>' so the
runtime's error message names the input and the allowed range.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from onnx import ModelProto, TensorProto, helper, numpy_helper


def guard_name(input_name: str, bound: int) -> str:
    """The name of the failing node (what onnxruntime's error message shows)."""
    return f"{input_name}/guard_ids_in_0_{bound}"


def add_id_guards(model: ModelProto, bounds: Mapping[str, int]) -> list[str]:
    """Guard each graph input named in `bounds` (input name -> Embedding input_dim); returns the
    guarded input names. Consumers of the input read the guarded tensor instead."""
    graph = model.graph
    guarded = []
    new_nodes = []
    for value in graph.input:
        if value.name not in bounds:
            continue
        name, bound = value.name, int(bounds[value.name])
        dtype = value.type.tensor_type.elem_type
        rank = len(value.type.tensor_type.shape.dim)
        stem = f"{name}/guard"
        bound_t = numpy_helper.from_array(np.array(bound, helper.tensor_dtype_to_np_dtype(dtype)), f"{stem}/bound")
        zero_t = numpy_helper.from_array(np.array(0, helper.tensor_dtype_to_np_dtype(dtype)), f"{stem}/zero")
        lead_t = numpy_helper.from_array(np.array([0] * (rank - 1) + [-1], np.int64), f"{stem}/shape_ok")
        graph.initializer.extend([bound_t, zero_t, lead_t])
        nodes = [
            # without axes, ReduceMin/ReduceMax reduce over every dim in every opset
            helper.make_node("ReduceMin", [name], [f"{stem}/min"], name=f"{stem}/ReduceMin", keepdims=0),
            helper.make_node("ReduceMax", [name], [f"{stem}/max"], name=f"{stem}/ReduceMax", keepdims=0),
            helper.make_node("Less", [f"{stem}/min", f"{stem}/zero"], [f"{stem}/negative"], name=f"{stem}/Less"),
            helper.make_node("GreaterOrEqual", [f"{stem}/max", f"{stem}/bound"], [f"{stem}/too_big"],
                             name=f"{stem}/GreaterOrEqual"),
            helper.make_node("Or", [f"{stem}/negative", f"{stem}/too_big"], [f"{stem}/bad"], name=f"{stem}/Or"),
            helper.make_node("Cast", [f"{stem}/bad"], [f"{stem}/bad_int"], name=f"{stem}/Cast", to=TensorProto.INT64),
            # [0, ..., 0, -1] - [0, ..., 0, bad]: -2 in the last dim when an id is out of range
            helper.make_node("Sub", [f"{stem}/shape_ok", f"{stem}/bad_int"], [f"{stem}/shape"], name=f"{stem}/Sub"),
            helper.make_node("Reshape", [name, f"{stem}/shape"], [f"{stem}/ids"], name=guard_name(name, bound)),
        ]
        for node in graph.node:
            node.input[:] = [f"{stem}/ids" if i == name else i for i in node.input]
        new_nodes.extend(nodes)
        guarded.append(name)
    if new_nodes:
        body = list(graph.node)
        del graph.node[:]
        graph.node.extend(new_nodes + body)
    return guarded
