"""Shape inference over the whole graph with the per-op rules (the same ones a layer call uses,
via `kir.ir.shapes.infer_vertex`), optionally with a static batch size written into every spec."""

from __future__ import annotations

from collections import Counter

from kir.errors import ConfigError, GraphError
from kir.ir.graph import Graph
from kir.ir.shapes import infer_vertex
from kir.passes.base import graph_pass
from kir.passes.edit import inputs_of, order, vertex_of


def infer_all(graph: Graph, static_batch: int | None = None) -> int:
    """Rewrite every vertex's output specs in place; returns how many vertices changed.
    (kir.ir.shapes.infer_graph does the same through networkx views; this loop is the fast one.)"""
    changed = 0
    for vid in order(graph):
        v = vertex_of(graph, vid)
        if v.op == "Input":
            if static_batch is None:
                continue
            out = [v.outputs[0].with_batch(static_batch)]
            v.attrs["shape"] = list(out[0].shape)
        else:
            out = infer_vertex(graph, v, [vertex_of(graph, s).outputs[i] for s, i in inputs_of(graph, vid)])
        if out != v.outputs:
            v.outputs = out
            changed += 1
    return changed


@graph_pass("infer_shapes")
def infer_shapes(graph: Graph, static_batch: int | None = None, **_: object) -> Counter:
    """Recompute every vertex's output specs; `static_batch` fixes the batch dimension."""
    if static_batch is not None and (isinstance(static_batch, bool) or not isinstance(static_batch, int)
                                     or static_batch <= 0):
        raise ConfigError(f"static_batch must be a positive integer, got {static_batch!r}")
    return Counter({"specs_changed": infer_all(graph, static_batch)})


def check_specs(graph: Graph, where: str = "") -> None:
    """Raise GraphError if a vertex's stored output specs differ from what its rule infers
    (a pass edited a vertex and forgot to re-infer it). Used in debug mode."""
    for vid in order(graph):
        v = vertex_of(graph, vid)
        if v.op == "Input":
            continue
        inferred = infer_vertex(graph, v, [graph.spec(r) for r in inputs_of(graph, vid)])
        if inferred != v.outputs:
            raise GraphError(f"{where}: vertex '{v.name}' ({v.op}) stores specs {v.outputs} but its inputs "
                             f"give {inferred}")
