"""Transformer fusions (O2): `LayerNormalization(Add(x, y))` over the last axis becomes one
`SkipLayerNormalization(x, y)` vertex (the residual + norm of a transformer block), which each
backend lowers in the form it runs fastest: the ONNX backend as Sum + LayerNormalization, the form
onnxruntime's CPU provider does not rewrite into its slow com.microsoft SkipLayerNormalization
kernel (docs/benchmarks.md). The numbers do not change: every backend computes the same LayerNorm
of the same sum."""

from __future__ import annotations

from collections import Counter

from kir.ir.graph import Graph
from kir.passes.base import graph_pass
from kir.passes.edit import reinfer, sole_user
from kir.passes.rewrite import Rule, apply_rules


def _is_residual_sum(graph: Graph, vid: int) -> bool:
    """A two-input, same-shape, float32 sum (the Add merge or a traced `x + y`)."""
    v = graph.vertex(vid)
    if not (v.op == "Add" or (v.op == "Binary" and v.attrs.get("fn") == "add")):
        return False
    refs = graph.input_refs(vid)
    if len(refs) != 2:
        return False
    a, b = (graph.spec(r) for r in refs)
    return a.shape == b.shape and a.dtype == b.dtype == "float32" and v.outputs[0].shape == a.shape


def _skip_layer_norm(graph: Graph, vid: int):
    """LayerNormalization(last axis)(Add(x, y)) -> SkipLayerNormalization(x, y), when the sum has no other user."""
    v = graph.vertex(vid)
    rank = v.outputs[0].rank
    raw = v.attrs.get("axis", [rank - 1])
    axes = [int(a) % rank for a in ([raw] if isinstance(raw, int) else raw)]
    if axes != [rank - 1] or v.outputs[0].shape[-1] is None:
        return None
    src = graph.producer(vid)
    if not _is_residual_sum(graph, src) or sole_user(graph, src) != vid:
        return None
    # the LayerNormalization vertex becomes the fused one in place (same id, name and params)
    v.op = "SkipLayerNormalization"
    v.attrs = {"epsilon": v.attrs.get("epsilon", 1e-3), "center": v.attrs.get("center", True),
               "scale": v.attrs.get("scale", True)}
    a, b = graph.input_refs(src)
    graph.set_input(vid, 0, a)
    graph.connect(b, vid, 1)
    graph.remove_vertex(src)
    reinfer(graph, vid)
    return [vid]


SKIP_LAYER_NORM_RULES = [Rule("skip_layer_norm", ("LayerNormalization",), _skip_layer_norm)]


@graph_pass("fuse_skip_layer_norm", recurse=True)
def fuse_skip_layer_norm(graph: Graph, **_: object) -> Counter:
    """Fold a residual Add into the LayerNormalization after it (one fused op)."""
    return apply_rules(graph, SKIP_LAYER_NORM_RULES)
