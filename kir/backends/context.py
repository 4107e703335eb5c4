"""What every backend's lowering sees besides its inputs, and the driver that shows it.

A lowering is `fn(ctx, attrs, inputs, params) -> list of outputs` in every backend. `ctx` is the
backend's subclass of `LoweringContext` (`NumpyContext`, `OnnxContext`, `TensorFlowContext`):
the vertex being lowered, its input specs, its path in the nesting of Call/TimeDistributed
vertices, and how errors name it. `LoweringInterpreter` is the `kir.ir.interpret.Interpreter`
every backend's interpreter derives from: it points the context at each vertex, looks the op up
in the backend's `LOWERINGS` table and calls the lowering with the backend's `params` mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from kir.backends.table import LoweringTable
from kir.ir.graph import Graph, Vertex
from kir.ir.interpret import Interpreter
from kir.ir.params import ParamStore
from kir.ir.spec import TensorSpec

V = TypeVar("V")


class LoweringContext:
    """The vertex being lowered and where it sits; set by `LoweringInterpreter` before each call."""

    def __init__(self) -> None:
        self.graph: Graph | None = None
        self.vid: int | None = None
        #: the vertex being lowered (None outside a lowering)
        self.vertex: Vertex | None = None
        #: 'outer/inner/' while the sub-graph of Call/TimeDistributed 'inner' inside 'outer' is lowered
        self.prefix = ""

    @property
    def path(self) -> str:
        """The vertex's name under its prefix, e.g. 'outer/inner/dropout' (stable across runs)."""
        return self.prefix + (self.vertex.name if self.vertex is not None else "")

    @property
    def store(self) -> ParamStore:
        """The parameter store of the graph being lowered."""
        return self.graph.store

    @property
    def input_specs(self) -> list[TensorSpec]:
        """Shapes and dtypes of the current vertex's inputs."""
        return [self.graph.spec(ref) for ref in self.graph.input_refs(self.vid)]

    def input_spec(self, index: int) -> TensorSpec:
        """Shape and dtype of the current vertex's input `index`."""
        return self.graph.spec(self.graph.input_refs(self.vid)[index])

    @property
    def layer(self) -> str | None:
        """The layer (or, without one, the vertex) that errors name."""
        return None if self.vertex is None else self.vertex.layer or self.vertex.name

    def enter(self, graph: Graph, vid: int | None, vertex: Vertex, prefix: str) -> tuple:
        """Point the context at `vertex`; returns what `leave` restores."""
        saved = (self.graph, self.vid, self.vertex, self.prefix)
        self.graph, self.vid, self.vertex, self.prefix = graph, vid, vertex, prefix
        return saved

    def leave(self, saved: tuple) -> None:
        self.graph, self.vid, self.vertex, self.prefix = saved


class LoweringInterpreter(Interpreter[V]):
    """Runs each vertex through the backend's table with its context pointed at the vertex.

    Subclasses set `table` and define `params(graph, vertex)` (role -> what the backend's
    lowerings take for a parameter) and the time folding of TimeDistributed."""

    table: LoweringTable

    def __init__(self, ctx: LoweringContext) -> None:
        super().__init__()
        self.ctx = ctx

    def run_vertex(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[V]) -> list[V]:
        if vertex.op == "Input":
            return super().run_vertex(graph, vid, vertex, args)
        saved = self.ctx.enter(graph, vid, vertex, self.prefix)
        try:
            return super().run_vertex(graph, vid, vertex, args)
        finally:
            self.ctx.leave(saved)

    def run_op(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[V]) -> list[V]:
        fn = self.table.lookup(vertex.op, vertex.layer or vertex.name)
        return list(fn(self.ctx, vertex.attrs, args, self.params(graph, vertex)))

    def params(self, graph: Graph, vertex: Vertex) -> Mapping[str, Any]:
        """The `params` argument of the vertex's lowering: parameter role -> backend value."""
        raise NotImplementedError
