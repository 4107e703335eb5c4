"""Checking an exported file against the numpy reference on random inputs (`kir-export --check`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kir.ir.graph import Graph

DEFAULT_ID_RANGE = 10


def _embedding_ranges(graph: Graph, ranges: dict[int, int], bound: dict[int, int | None]) -> None:
    """For each graph input feeding an Embedding (directly or through nested models), the
    smallest input_dim it meets."""
    for vid, vertex in graph.vertices():
        refs = graph.input_refs(vid)
        sources = [bound.get(src) for src, _ in refs]
        if vertex.op == "Embedding" and sources and sources[0] is not None:
            dim = int(vertex.attrs["input_dim"])
            ranges[sources[0]] = min(ranges.get(sources[0], dim), dim)
        if vertex.subgraph is not None:
            inner = {sub: sources[i] for i, sub in enumerate(vertex.subgraph.inputs) if i < len(sources)}
            _embedding_ranges(vertex.subgraph, ranges, inner)


def random_feeds(graph: Graph, batch: int, seed: int = 0) -> list[np.ndarray]:
    """Random arrays for the graph inputs: normal floats, and integer ids within the
    input_dim of the Embedding they feed (0..9 for other integer inputs)."""
    rng = np.random.default_rng(seed)
    ranges: dict[int, int] = {}
    _embedding_ranges(graph, ranges, {vid: i for i, vid in enumerate(graph.inputs)})
    feeds = []
    for i, vid in enumerate(graph.inputs):
        spec = graph.vertex(vid).outputs[0]
        shape = (batch, *(d if d is not None else 3 for d in spec.shape[1:]))
        if np.issubdtype(np.dtype(spec.dtype), np.integer):
            feeds.append(rng.integers(0, ranges.get(i, DEFAULT_ID_RANGE), shape).astype(spec.dtype))
        else:
            feeds.append(rng.normal(0.0, 1.0, shape).astype(spec.dtype))
    return feeds


def relative_error(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> float:
    """max |a - e| / max(1, max |e|) over all outputs (inf when shapes differ)."""
    worst = 0.0
    for a, e in zip(actual, expected):
        a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
        if a.shape != e.shape:
            return float("inf")
        if e.size:
            worst = max(worst, float(np.max(np.abs(a - e))) / max(1.0, float(np.max(np.abs(e)))))
    return worst
