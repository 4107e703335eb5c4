"""Shape inference over the whole graph with the per-op rules (the same ones a layer call uses),
optionally with a static batch size written into every spec."""

from __future__ import annotations

from collections import Counter

from kir.errors import ConfigError, GraphError
from kir.ir.graph import Graph
from kir.ir.shapes import infer_graph, infer_vertex
from kir.passes.base import graph_pass


@graph_pass("infer_shapes")
def infer_shapes(graph: Graph, static_batch: int | None = None, **_: object) -> Counter:
    """Recompute every vertex's output specs; `static_batch` fixes the batch dimension."""
    specs = None
    if static_batch is not None:
        if isinstance(static_batch, bool) or not isinstance(static_batch, int) or static_batch <= 0:
            raise ConfigError(f"static_batch must be a positive integer, got {static_batch!r}")
        specs = [graph.vertex(v).outputs[0].with_batch(static_batch) for v in graph.inputs]
    before = {vid: list(graph.vertex(vid).outputs) for vid in graph.nx.nodes}
    infer_graph(graph, specs, update=True)
    changed = sum(before[vid] != graph.vertex(vid).outputs for vid in graph.nx.nodes)
    return Counter({"specs_changed": changed})


def check_specs(graph: Graph, where: str = "") -> None:
    """Raise GraphError if a vertex's stored output specs differ from what its rule infers
    (a pass edited a vertex and forgot to re-infer it). Used in debug mode."""
    for vid in graph.topological_order():
        v = graph.vertex(vid)
        if v.op == "Input":
            continue
        inferred = infer_vertex(graph, v, [graph.spec(r) for r in graph.input_refs(vid)])
        if inferred != v.outputs:
            raise GraphError(f"{where}: vertex '{v.name}' ({v.op}) stores specs {v.outputs} but its inputs "
                             f"give {inferred}")
