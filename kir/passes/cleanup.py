"""Safe cleanups: Dropout/noise/Identity (and no-op) elimination, dead-code elimination and
common-subexpression elimination."""

from __future__ import annotations

import json
from collections import Counter

from kir.ir.graph import Graph
from kir.ir.ops.augmentation import AUGMENTATION_OPS
from kir.ir.ops.noise import NOISE_OPS
from kir.passes.base import graph_pass
from kir.passes.edit import bypass
from kir.passes.rewrite import Rule, apply_rules


def _keeps_output_distinct(graph: Graph, vid: int) -> bool:
    """A graph output must not become a graph input (exporters need a node between them)."""
    src = graph.input_refs(vid)[0][0]
    return graph.is_output(vid) and graph.vertex(src).op == "Input"


def _passthrough(graph: Graph, vid: int):
    if _keeps_output_distinct(graph, vid):
        v = graph.vertex(vid)
        if v.op == "Identity":
            return None
        v.op, v.attrs = "Identity", {}  # the one identity an output that equals an input needs
        return [vid]
    src = graph.input_refs(vid)[0]
    bypass(graph, vid, src)
    return [src[0]]


def _when(pred):
    """A rewrite that bypasses the vertex when `pred(vertex, input_spec)` holds."""

    def rewrite(graph: Graph, vid: int):
        v = graph.vertex(vid)
        if not pred(v, graph.spec(graph.input_refs(vid)[0])):
            return None
        return _passthrough(graph, vid)

    return rewrite


def _by_mode(graph: Graph, vid: int):
    """Inference keeps a ByMode's inference input; its training branch then goes to dce."""
    graph.disconnect(vid, 1)
    return _passthrough(graph, vid)


def _same_shape(v, x) -> bool:
    return None not in x.shape and v.outputs[0].shape == x.shape


IDENTITY_RULES = [
    Rule("dropout", ("Dropout", *NOISE_OPS), _passthrough),
    Rule("augmentation", AUGMENTATION_OPS, _passthrough),
    Rule("identity", ("Identity",), _passthrough),
    Rule("by_mode", ("ByMode",), _by_mode),
    Rule("linear_activation", ("Activation",), _when(lambda v, x: v.attrs["activation"] == "linear")),
    Rule("identity_permute", ("Permute",), _when(lambda v, x: list(v.attrs["dims"]) == list(range(1, x.rank)))),
    Rule("identity_transpose", ("Transpose",), _when(lambda v, x: list(v.attrs["perm"]) == list(range(x.rank)))),
    Rule("noop_reshape", ("Reshape", "ReshapeFull"), _when(_same_shape)),
    Rule("noop_flatten", ("Flatten",), _when(lambda v, x: x.rank == 2)),
]


@graph_pass("eliminate_identities", recurse=True)
def eliminate_identities(graph: Graph, **_: object) -> Counter:
    """Drop Dropout and the noise ops (identities at inference), Identity, linear Activation and no-op
    reshapes/permutes."""
    return apply_rules(graph, IDENTITY_RULES)


@graph_pass("dce", recurse=True)
def dce(graph: Graph, **_: object) -> Counter:
    """Remove vertices no graph output depends on (graph Inputs always stay)."""
    live = set(graph.inputs)
    stack = [vid for vid, _ in graph.outputs]
    while stack:
        vid = stack.pop()
        if vid in live:
            continue
        live.add(vid)
        stack.extend(graph.predecessors(vid))
    dead = [vid for vid in graph.vertex_ids() if vid not in live]
    for vid in dead:
        graph.remove_vertex(vid)
    return Counter({"removed": len(dead)})


def _cse_key(graph: Graph, vid: int) -> tuple | None:
    v = graph.vertex(vid)
    if v.op in ("Input", "Dropout", *NOISE_OPS, *AUGMENTATION_OPS):  # fresh noise per call while training
        return None
    sub = id(v.subgraph) if v.subgraph is not None else None
    return (v.op, json.dumps(v.attrs, sort_keys=True), tuple(sorted(v.params.items())),
            tuple(graph.input_refs(vid)), sub)


@graph_pass("cse", recurse=True)
def cse(graph: Graph, **_: object) -> Counter:
    """Merge vertices computing the same op, attrs and params on the same inputs."""
    seen: dict[tuple, int] = {}
    merged = 0
    for vid in graph.topological_order():
        key = _cse_key(graph, vid)
        if key is None:
            continue
        first = seen.setdefault(key, vid)
        if first == vid:
            continue
        for i in range(len(graph.vertex(vid).outputs)):
            graph.replace_uses((vid, i), (first, i))
        graph.remove_vertex(vid)
        merged += 1
    return Counter({"merged": merged})
