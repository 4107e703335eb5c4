"""The numpy reference backend: the numeric truth every other backend is tested against."""

from __future__ import annotations

import numpy as np

from kir.backends.base import Backend
from kir.backends.feeds import run_in_batches
from kir.backends.numpy.interpreter import run
from kir.backends.numpy.table import LOWERINGS
from kir.ir.graph import Graph


class NumpyBackend(Backend):
    """Runs the unoptimized graph with the numpy lowerings, batch by batch."""

    name = "numpy"

    def predict(self, graph: Graph, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        return run_in_batches(lambda arrays: run(graph, arrays), inputs, batch_size or 32)


__all__ = ["LOWERINGS", "NumpyBackend", "run"]
