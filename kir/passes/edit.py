"""Small graph-editing helpers shared by the passes: add an op with its inferred specs, bypass
a vertex, ask about a sole user. All are local (no whole-graph scans); the rest of the editing
vocabulary (producer, users, replace_uses, set_input) is Graph's own.
"""

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


def sole_user(graph: Graph, vid: int) -> int | None:
    """The only consumer of `vid` (which is not a graph output), else None."""
    if graph.use_count(vid) != 1 or graph.is_output(vid):
        return None
    return graph.successors(vid)[0]


def bypass(graph: Graph, vid: int, ref: Ref) -> None:
    """Point every use of `vid`'s (single) output at `ref` and drop `vid`."""
    graph.replace_uses((vid, 0), ref)
    graph.remove_vertex(vid)


def drop_if_unused(graph: Graph, vid: int) -> list[int]:
    """Remove `vid` if nothing reads it any more; returns its producers (to revisit) or []."""
    if graph.use_count(vid) or graph.is_output(vid) or graph.vertex(vid).op == "Input":
        return [vid]
    sources = [s for s, _ in graph.input_refs(vid)]
    graph.remove_vertex(vid)
    return sources
