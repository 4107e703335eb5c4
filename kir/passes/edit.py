"""Small graph-editing helpers shared by the passes: add an op with its inferred specs, bypass
a vertex, redirect uses, ask about users. All are local (no whole-graph scans).

`order`, `inputs_of` and `vertex_of` are fast equivalents of Graph.topological_order /
input_refs / vertex for the hot loops of passes over 10k-vertex graphs: they read networkx's
adjacency dicts directly instead of going through its (much slower) views.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kir.ir.graph import Graph, Ref, Vertex
from kir.ir.shapes import infer_vertex


def vertex_of(graph: Graph, vid: int) -> Vertex:
    return graph.nx._node[vid]["vertex"]


def inputs_of(graph: Graph, vid: int) -> list[Ref]:
    """The tensors feeding `vid`, in input order (Graph.input_refs, without the view overhead)."""
    edges = [(d["dst_index"], src, d["src_index"]) for src, keyed in graph.nx._pred[vid].items()
             for d in keyed.values()]
    if len(edges) > 1:
        edges.sort()
    return [(src, index) for _, src, index in edges]


def order(graph: Graph) -> list[int]:
    """A topological order (Kahn, FIFO from the lowest ids; deterministic for a given graph)."""
    pred, succ = graph.nx._pred, graph.nx._succ
    missing = {vid: len(p) for vid, p in pred.items()}
    ready = deque(sorted(vid for vid, n in missing.items() if n == 0))
    out = []
    while ready:
        vid = ready.popleft()
        out.append(vid)
        for dst in succ[vid]:
            missing[dst] -= 1
            if missing[dst] == 0:
                ready.append(dst)
    if len(out) != len(missing):
        return graph.topological_order()  # raises GraphError naming the cycle
    return out


def add_op(graph: Graph, op: str, inputs: list[Ref], attrs: dict[str, Any] | None = None, *, name: str,
           params: dict[str, str] | None = None, layer: str | None = None) -> int:
    """Add a vertex and infer its output specs with the op's own shape rule."""
    vid = graph.add_vertex(op, inputs, attrs or {}, [], name, params, layer)
    reinfer(graph, vid)
    return vid


def reinfer(graph: Graph, vid: int) -> None:
    """Recompute one vertex's output specs from its (possibly new) inputs and attrs."""
    v = vertex_of(graph, vid)
    v.outputs = infer_vertex(graph, v, [vertex_of(graph, s).outputs[i] for s, i in inputs_of(graph, vid)])


def is_output(graph: Graph, vid: int) -> bool:
    return any(v == vid for v, _ in graph.outputs)


def sole_user(graph: Graph, vid: int) -> int | None:
    """The only consumer of `vid` (which is not a graph output), else None."""
    succ = graph.nx._succ[vid]
    if len(succ) != 1 or is_output(graph, vid):
        return None
    (dst, keyed), = succ.items()
    return dst if len(keyed) == 1 else None


def producer(graph: Graph, vid: int, index: int = 0) -> int:
    """The vertex feeding input `index` of `vid`."""
    return inputs_of(graph, vid)[index][0]


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


def drop_if_unused(graph: Graph, vid: int) -> list[int]:
    """Remove `vid` if nothing reads it any more; returns its producers (to revisit) or []."""
    if graph.nx._succ[vid] or is_output(graph, vid) or vertex_of(graph, vid).op == "Input":
        return [vid]
    sources = [s for s, _ in inputs_of(graph, vid)]
    graph.remove_vertex(vid)
    return sources
