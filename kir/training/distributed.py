"""Feeding a tf.distribute strategy: a global batch split across the replicas in sync.

The split is contiguous and as even as possible (numpy's `array_split` bounds), the way
`tf.distribute` splits a global batch of a distributed dataset; every worker of a multi-worker
strategy reads the same global batch and keeps its own replicas' parts, so no data service is
needed for data every worker can read (arrays, memmaps, a dataset every worker builds).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def replica_bounds(batch: int, replicas: int) -> list[tuple[int, int]]:
    """[lo, hi) of each replica's part of a global batch of `batch` samples."""
    cuts = np.cumsum([0] + [len(p) for p in np.array_split(np.arange(batch), replicas)])
    return [(int(cuts[i]), int(cuts[i + 1])) for i in range(replicas)]


def distribute_batch(strategy: Any, xs: list, ys: list, sws: list) -> tuple[list, list, list]:
    """Per-replica values (for `strategy.run`) of one global batch given as tensors."""
    batch = int(xs[0].shape[0])
    bounds = replica_bounds(batch, strategy.num_replicas_in_sync)

    def part(ctx: Any) -> tuple[list, list, list]:
        lo, hi = bounds[ctx.replica_id_in_sync_group]
        return ([t[lo:hi] for t in xs], [t[lo:hi] for t in ys], [None if w is None else w[lo:hi] for w in sws])

    values = strategy.experimental_distribute_values_from_function(part)
    return values[0], values[1], values[2]
