"""Checking an exported file against the numpy reference on random inputs (`kir-export --check`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kir.backends.onnx.export import embedding_id_bounds
from kir.ir.graph import Graph

DEFAULT_ID_RANGE = 10


def random_feeds(graph: Graph, batch: int, seed: int = 0) -> list[np.ndarray]:
    """Random arrays for the graph inputs: normal floats, and integer ids within the
    input_dim of the Embedding they feed (0..9 for other integer inputs)."""
    rng = np.random.default_rng(seed)
    ranges = embedding_id_bounds(graph)
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
