"""Small graph-editing helpers shared by the passes: add an op with its inferred specs, bypass
a vertex, redirect uses, ask about users. All are local (no whole-graph scans)."""

from __future__ import annotations

from typing import Any

from kir.ir.graph import Graph, Ref
from kir.ir.shapes import infer_vertex


def add_op(graph: Graph, op: str, inputs: list[Ref], attrs: dict[str, Any] | None = None, *, name: str,
           params: dict[str, str] | None = None, layer: str | None = None) -> int:
    """Add a vertex and infer its output specs with the op's own shape rule."""
    vid = graph.add_vertex(op, inputs, attrs or {}, [], name, params, layer)
    reinfer(graph, vid)
    return vid


def reinfer(graph: Graph, vid: int) -> None:
    """Recompute one vertex's output specs from its (possibly new) inputs and attrs."""
    v = graph.vertex(vid)
    v.outputs = infer_vertex(graph, v, [graph.spec(r) for r in graph.input_refs(vid)])


def is_output(graph: Graph, vid: int) -> bool:
    return any(v == vid for v, _ in graph.outputs)


def sole_user(graph: Graph, vid: int) -> int | None:
    """The only consumer of `vid` (which is not a graph output), else None."""
    if graph.nx.out_degree(vid) != 1 or is_output(graph, vid):
        return None
    return next(iter(graph.nx.successors(vid)))


def producer(graph: Graph, vid: int, index: int = 0) -> int:
    """The vertex feeding input `index` of `vid`."""
    return graph.input_refs(vid)[index][0]


def bypass(graph: Graph, vid: int, ref: Ref) -> None:
    """Point every use of `vid`'s (single) output at `ref` and drop `vid`."""
    graph.replace_uses((vid, 0), ref)
    graph.remove_vertex(vid)


def redirect_uses(graph: Graph, old: Ref, new: Ref, keep: int) -> None:
    """Like `replace_uses`, but the consumer `keep` (e.g. the new op reading `old`) keeps its edge."""
    src, index = old
    for _, dst, key, data in list(graph.nx.out_edges(src, keys=True, data=True)):
        if data["src_index"] == index and dst != keep:
            graph.nx.remove_edge(src, dst, key)
            graph.connect(new, dst, data["dst_index"])
    graph.outputs = [new if r == old else r for r in graph.outputs]


def set_input(graph: Graph, vid: int, position: int, ref: Ref) -> None:
    """Rewire input `position` of `vid` to read `ref`."""
    for src, _, key, data in list(graph.nx.in_edges(vid, keys=True, data=True)):
        if data["dst_index"] == position:
            graph.nx.remove_edge(src, vid, key)
    graph.connect(ref, vid, position)
