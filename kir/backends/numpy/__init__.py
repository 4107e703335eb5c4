"""The numpy reference backend: the numeric truth every other backend is tested against."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kir.backends.base import Backend
from kir.backends.numpy.interpreter import run
from kir.backends.numpy.table import KERNELS
from kir.models.feeds import batches

if TYPE_CHECKING:
    from kir.models.functional import Model


class NumpyBackend(Backend):
    """Runs the unoptimized graph with numpy kernels, batch by batch."""

    name = "numpy"
    pipeline = "none"

    def predict(self, model: Model, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        graph = model.to_graph()
        n = inputs[0].shape[0] if inputs else 0
        parts = [run(graph, [x[s] for x in inputs]) for s in batches(n, batch_size or 32)]
        if not parts:
            return []
        return [np.concatenate([p[i] for p in parts]) if len(parts) > 1 else parts[0][i]
                for i in range(len(parts[0]))]


__all__ = ["KERNELS", "NumpyBackend", "run"]
