"""The reference interpreter: runs a Graph op by op with the numpy kernel table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kir.backends.numpy.table import KERNELS
from kir.errors import ConfigError, FeedError, ShapeError
from kir.ir.graph import Graph, Vertex


def _load_kernels() -> None:
    import importlib
    import pkgutil

    import kir.backends.numpy.kernels as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"kir.backends.numpy.kernels.{info.name}")


_load_kernels()


def run(graph: Graph, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Graph outputs for input arrays given in `graph.inputs` order."""
    values: dict[int, list[np.ndarray]] = {vid: [np.asarray(x)] for vid, x in zip(graph.inputs, feeds)}
    remaining_uses = {vid: graph.nx.out_degree(vid) for vid in graph.nx.nodes}
    keep = {vid for vid, _ in graph.outputs}
    for vid in graph.topological_order():
        if vid in values:
            continue
        vertex = graph.vertex(vid)
        refs = graph.input_refs(vid)
        args = [values[src][i] for src, i in refs]
        values[vid] = run_vertex(graph, vertex, args)
        for src, _ in refs:  # free intermediates early: big conv activations add up
            remaining_uses[src] -= 1
            if remaining_uses[src] == 0 and src not in keep:
                values.pop(src, None)
    return [values[vid][i] for vid, i in graph.outputs]


def run_vertex(graph: Graph, vertex: Vertex, args: list[np.ndarray]) -> list[np.ndarray]:
    """One op on concrete arrays (sub-graph ops recurse)."""
    if vertex.op == "Call":
        return run(vertex.subgraph, args)
    if vertex.op == "TimeDistributed":
        x = args[0]
        b, t = x.shape[:2]
        outs = run(vertex.subgraph, [x.reshape((b * t,) + x.shape[2:])])
        return [o.reshape((b, t) + o.shape[1:]) for o in outs]
    kernel = KERNELS.lookup(vertex.op, vertex.layer)
    params = {role: graph.store[key] for role, key in vertex.params.items()}
    try:
        return list(kernel(vertex.attrs, args, params))
    except (FeedError, ShapeError, ConfigError) as exc:  # kernels see arrays, not layers: say which layer
        if vertex.layer and f"'{vertex.layer}'" not in str(exc):
            raise type(exc)(f"layer '{vertex.layer}' ({vertex.op}): {exc}") from None
        raise
