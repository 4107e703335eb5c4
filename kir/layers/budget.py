"""A bound on the bytes of weights layers may create while a file is loaded.

Why: a file may declare `"units": 10**8` with a few bytes of weights; building that layer would
allocate gigabytes before the weights are even compared. The loader knows how many bytes of weights
the file holds, so every weight a layer creates is charged against that total *before* it is
allocated, and the first one over it fails with a LoadError naming the layer.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from kir.errors import LoadError

_BUDGET: ContextVar[list | None] = ContextVar("kir_weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(nbytes: int, source: str) -> Iterator[None]:
    """Layers built in this block may create at most `nbytes` of weights in all (`source` names the
    file in the error)."""
    token = _BUDGET.set([int(nbytes), source])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def charge(layer_name: str, weight: str, shape: Sequence[Any], dtype: str) -> None:
    """Count a weight about to be created against the active budget (no-op outside `weight_budget`)."""
    budget = _BUDGET.get()
    if budget is None:
        return
    try:
        need = math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize
    except (TypeError, ValueError):
        return  # a malformed shape fails in the initializer with its own message
    if need > budget[0]:
        raise LoadError(f"layer '{layer_name}': weight '{weight}' of shape {tuple(shape)} needs {need:,} bytes, more "
                        f"than the {max(budget[0], 0):,} bytes of weights {budget[1]} still holds; refusing to "
                        f"allocate it (the layer's configuration does not match the file's weights)")
    budget[0] -= max(need, 0)
