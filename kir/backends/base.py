"""What a backend is: a name and `predict(graph, arrays, batch_size)` over a kir Graph.

A backend never sees a model: the caller builds the graph (`Model.to_graph()`, a loaded file,
a pass pipeline's output) and the backend answers for it, caching whatever it prepares per
graph (see kir.backends.cache).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from kir.errors import ConfigError
from kir.ir.graph import Graph


class GraphSource(Protocol):
    """Anything that can give its graph (a kir Model): export and Runtime accept one for convenience."""

    def to_graph(self) -> Graph: ...


def graph_of(source: Graph | GraphSource, what: str = "export") -> Graph:
    """`source` itself when it is a Graph, else its `to_graph()`."""
    if isinstance(source, Graph):
        return source
    to_graph = getattr(source, "to_graph", None)
    if to_graph is None:
        raise ConfigError(f"{what} takes a kir Model or Graph, got {type(source).__name__}")
    return to_graph()


class Backend:
    """Base for execution backends (built-in or registered under the `kir.backends` entry points)."""

    name: ClassVar[str] = ""

    def predict(self, graph: Graph, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        """Outputs of `graph` for input arrays already in graph input order and dtype."""
        raise NotImplementedError
