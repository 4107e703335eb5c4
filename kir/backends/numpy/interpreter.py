"""The reference interpreter: runs a Graph op by op with the numpy lowering table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import kir.backends.numpy.lowerings  # noqa: F401  (registers every lowering)
from kir.backends.context import LoweringInterpreter
from kir.backends.numpy.context import NumpyContext
from kir.backends.numpy.table import LOWERINGS
from kir.errors import ConfigError, FeedError, ShapeError
from kir.ir.graph import Graph, Vertex
from kir.ir.spec import TensorSpec


class NumpyInterpreter(LoweringInterpreter[np.ndarray]):
    """Values are numpy arrays; intermediates are freed after their last use."""

    table = LOWERINGS

    def __init__(self) -> None:
        super().__init__(NumpyContext())

    def input(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(x) for x in super().input(graph, vid, vertex, args)]

    def params(self, graph: Graph, vertex: Vertex) -> dict[str, np.ndarray]:
        return {role: graph.store[key] for role, key in vertex.params.items()}

    def run_op(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[np.ndarray]) -> list[np.ndarray]:
        try:
            return super().run_op(graph, vid, vertex, args)
        except (FeedError, ShapeError, ConfigError) as exc:  # lowerings see arrays, not layers: say which layer
            if vertex.layer and f"'{vertex.layer}'" not in str(exc):
                raise type(exc)(f"layer '{vertex.layer}' ({vertex.op}): {exc}") from None
            raise

    def fold_time(self, vertex: Vertex, x: np.ndarray) -> np.ndarray:
        return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])

    def unfold_time(self, vertex: Vertex, x: np.ndarray, out: np.ndarray, spec: TensorSpec | None) -> np.ndarray:
        return out.reshape(x.shape[:2] + out.shape[1:])


def run(graph: Graph, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Graph outputs for input arrays given in `graph.inputs` order."""
    return NumpyInterpreter().run(graph, feeds)
