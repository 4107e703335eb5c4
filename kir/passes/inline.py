"""Inlining: nested models (Call) become their vertices in the caller, and TimeDistributed
becomes ReshapeFull (b, t, ...) -> (-1, ...), the step graph inlined, and ReshapeFull back.

Inlined vertices are named '<call>/<inner name>' and keep their layer and parameter keys (the
store is shared), so shared models still share weights after inlining.
"""

from __future__ import annotations

import copy
from collections import Counter

from kir.ir.graph import Graph, Ref
from kir.ir.shapes import infer_vertex
from kir.passes.base import graph_pass
from kir.passes.edit import add_op
from kir.passes.shape_inference import infer_all


def splice(graph: Graph, sub: Graph, inputs: list[Ref], prefix: str) -> tuple[list[Ref], list[int]]:
    """Copy `sub`'s vertices into `graph`, reading `inputs`; returns its output refs and new vertices."""
    mapped: dict[int, int | Ref] = {vid: ref for vid, ref in zip(sub.inputs, inputs)}

    def ref_of(r: Ref) -> Ref:
        m = mapped[r[0]]
        return m if isinstance(m, tuple) else (m, r[1])

    created = []
    for svid in sub.topological_order():
        if svid in mapped:
            continue
        sv = sub.vertex(svid)
        refs = [ref_of(r) for r in sub.input_refs(svid)]
        # a nested Call keeps its sub-graph object (this pass only reads it, then inlines it too;
        # copying it would make inlining N nested models cost N^2); a TimeDistributed step graph,
        # which later passes may edit, is copied
        inner = sv.subgraph
        if inner is not None and sv.op != "Call":
            inner = inner.copy(share_store=True)
        vid = graph.add_vertex(sv.op, refs, copy.deepcopy(sv.attrs), [], f"{prefix}/{sv.name}", dict(sv.params),
                               sv.layer, inner)
        if inner is not None and inner.store is not graph.store:
            _share_store(inner, graph)
        v = graph.vertex(vid)
        v.outputs = infer_vertex(graph, v, [graph.spec(r) for r in refs])  # the caller's (maybe sharper) shapes
        mapped[svid] = vid
        created.append(vid)
    return [ref_of(r) for r in sub.outputs], created


def _share_store(sub: Graph, graph: Graph) -> None:
    """`sub` and every graph nested in it read `graph`'s store (iterative: nesting may be deep)."""
    stack, seen = [sub], set()
    while stack:
        g = stack.pop()
        if id(g) in seen:
            continue
        seen.add(id(g))
        g.store = graph.store
        stack.extend(g.vertex(vid).subgraph for vid in g.vertex_ids() if g.vertex(vid).subgraph is not None)


def _inline_call(graph: Graph, vid: int) -> list[int] | None:
    v = graph.vertex(vid)
    outs, created = splice(graph, v.subgraph, graph.input_refs(vid), v.name)
    for i, ref in enumerate(outs):
        graph.replace_uses((vid, i), ref)
    graph.remove_vertex(vid)
    return created


def _lower_time_distributed(graph: Graph, vid: int) -> list[int] | None:
    """Only with known per-step dims and a known time (or batch) size; otherwise keep the op."""
    v = graph.vertex(vid)
    (x,) = graph.input_refs(vid)
    spec = graph.spec(x)
    batch, steps, rest = spec.shape[0], spec.shape[1], spec.shape[2:]
    out_rest = [s.shape[2:] for s in v.outputs]
    if None in rest or any(None in r for r in out_rest) or (steps is None and batch is None):
        return None
    fold = add_op(graph, "ReshapeFull", [x], {"shape": [-1, *rest]}, name=f"{v.name}/fold", layer=v.layer)
    outs, created = splice(graph, v.subgraph, [(fold, 0)], v.name)
    for i, (ref, r) in enumerate(zip(outs, out_rest)):
        shape = [-1, steps, *r] if steps is not None else [batch, -1, *r]
        unfold = add_op(graph, "ReshapeFull", [ref], {"shape": shape}, name=f"{v.name}/unfold", layer=v.layer)
        graph.replace_uses((vid, i), (unfold, 0))
        created.append(unfold)
    graph.remove_vertex(vid)
    return [fold, *created]


@graph_pass("inline")
def inline(graph: Graph, time_distributed: bool = True, **_: object) -> Counter:
    """Inline every Call (nested model) and, unless told not to, lower TimeDistributed."""
    stats: Counter = Counter()
    work = [vid for vid in graph.topological_order() if graph.vertex(vid).op in ("Call", "TimeDistributed")]
    while work:
        vid = work.pop()
        op = graph.vertex(vid).op
        if op == "Call":
            created = _inline_call(graph, vid)
        elif time_distributed:
            created = _lower_time_distributed(graph, vid)
        else:
            created = None
        if created is None:
            continue
        stats["inlined_call" if op == "Call" else "lowered_time_distributed"] += 1
        work.extend(c for c in created if graph.vertex(c).op in ("Call", "TimeDistributed"))
    if stats:  # inlined vertices may know dims the Call's specs left open: refresh what follows
        infer_all(graph)
    return stats


@graph_pass("inline_calls")
def inline_calls(graph: Graph, **_: object) -> Counter:
    """Inline nested models only (the training pipeline: TimeDistributed stays one op)."""
    return inline.fn(graph, time_distributed=False)
