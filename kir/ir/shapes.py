"""Shape inference over a whole graph with the per-op rules, recursing into sub-graphs.

Call-time checks (a layer called on a symbolic tensor) and the shape-inference pass both end
here, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from kir.errors import ShapeError
from kir.ir import ops
from kir.ir.graph import Graph, Vertex
from kir.ir.spec import TensorSpec, format_shape


def infer_vertex(graph: Graph, vertex: Vertex, inputs: Sequence[TensorSpec]) -> list[TensorSpec]:
    """Output specs of one vertex given its input specs."""
    where = f"layer '{vertex.layer}' ({vertex.op})" if vertex.layer else f"op '{vertex.name}' ({vertex.op})"
    if vertex.op == "Input":
        return list(vertex.outputs)
    if vertex.op == "Call":
        return call_specs(vertex.subgraph, inputs, where)
    if vertex.op == "TimeDistributed":
        return time_distributed_specs(vertex.subgraph, inputs, where)
    param_shapes = {role: tuple(graph.store[key].shape) for role, key in vertex.params.items()}
    return ops.infer(vertex.op, vertex.attrs, inputs, param_shapes, where=where)


def infer_graph(
    graph: Graph, input_specs: Sequence[TensorSpec] | None = None, update: bool = False
) -> list[TensorSpec]:
    """Specs of the graph outputs for the given input specs (default: the Inputs' own).

    With `update=True` the vertices' output specs are rewritten in place (the pass uses this
    on its own copy); otherwise the graph is left untouched.
    """
    specs: dict[int, list[TensorSpec]] = {}
    if input_specs is not None:
        if len(input_specs) != len(graph.inputs):
            raise ShapeError(f"model '{graph.name}' takes {len(graph.inputs)} inputs, got {len(input_specs)}")
        for vid, spec in zip(graph.inputs, input_specs):
            declared = graph.vertex(vid).outputs[0]
            _check_compatible(graph, graph.vertex(vid).name, declared, spec)
            specs[vid] = [spec]
    for vid in graph.topological_order():
        vertex = graph.vertex(vid)
        if vid in specs:
            out = specs[vid]
        else:
            out = infer_vertex(graph, vertex, [specs[s][i] for s, i in graph.input_refs(vid)])
        specs[vid] = out
        if update:
            vertex.outputs = list(out)
            if vertex.op == "Input":
                vertex.attrs["shape"] = list(out[0].shape)
    return [specs[vid][i] for vid, i in graph.outputs]


def call_specs(subgraph: Graph, inputs: Sequence[TensorSpec], where: str = "") -> list[TensorSpec]:
    """Outputs of a nested model called on `inputs`."""
    try:
        return infer_graph(subgraph, inputs)
    except ShapeError as exc:
        raise ShapeError(f"{where}: {exc}" if where else str(exc)) from None


def time_distributed_specs(subgraph: Graph, inputs: Sequence[TensorSpec], where: str = "") -> list[TensorSpec]:
    """Outputs of TimeDistributed: the step graph on (batch*time, ...), unfolded to (batch, time, ...)."""
    x = inputs[0]
    if x.rank < 3:
        raise ShapeError(f"{where}: TimeDistributed needs an input of rank >= 3 (batch, time, ...), "
                         f"got {format_shape(x.shape)}")
    batch, steps = x.shape[0], x.shape[1]
    folded = None if batch is None or steps is None else batch * steps
    step_out = call_specs(subgraph, [TensorSpec((folded,) + x.shape[2:], x.dtype)], where)
    return [TensorSpec((batch, steps) + s.shape[1:], s.dtype) for s in step_out]


def _check_compatible(graph: Graph, name: str, declared: TensorSpec, given: TensorSpec) -> None:
    ok = declared.rank == given.rank and all(
        d is None or g is None or d == g for d, g in zip(declared.shape[1:], given.shape[1:])
    )
    if not ok:
        raise ShapeError(
            f"input '{name}' of model '{graph.name}' expects shape {format_shape(declared.shape)}, "
            f"got {format_shape(given.shape)}"
        )
