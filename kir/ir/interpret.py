"""The one walk over a graph: an environment of values per tensor, vertices in topological order,
recursion into the sub-graphs of `Call` and `TimeDistributed` (torch.fx's `Interpreter` is the
model).

Every consumer that evaluates a graph subclasses `Interpreter` and supplies what a value is and
what one op does to values: shape inference (values are `TensorSpec`s, `kir.ir.shapes`), the
numpy reference (arrays), the ONNX lowering (tensor names, while nodes are emitted) and the
TensorFlow forward pass (tf tensors). The hooks:

- `run_op(graph, vid, vertex, args)`: one ordinary op on its input values -> its output values.
- `fold_time(vertex, x)` / `unfold_time(vertex, x, out, spec)`: TimeDistributed's
  (batch, time, ...) -> (batch*time, ...) and back, in the subclass's value type.
- `input(graph, vid, vertex, args)`: the value bound to an `Input` vertex (default: as given).
- `run_vertex(graph, vid, vertex, args)`: the dispatch itself (Input / Call / TimeDistributed /
  `run_op`); override it to do something around every vertex.

`path` is the names of the Call/TimeDistributed vertices being run (outermost first) and `prefix`
the same as 'outer/inner/', the stem of nested names.

Every walk of nested models recurses once per level, so a top-level `run` makes room on Python's
stack for the graph's nesting depth (`recursion_room`, up to `MAX_NESTING` levels; issue 11).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

from kir.errors import GraphError
from kir.ir.graph import Graph, Vertex
from kir.ir.spec import TensorSpec

V = TypeVar("V")

MAX_NESTING = 2000
"""Deepest nesting of models / TimeDistributed that kir builds, runs, saves and loads."""
FRAMES_PER_LEVEL = 24
"""Python frames one nesting level may take in any walk (interpreters, emitter, (de)serializers,
json's encoder); measured: the deepest, ONNX export (graph copy, inlining), takes about 7."""

_room_lock = threading.Lock()
_room_users = 0
_room_saved = 0


def nesting_depth(graph: Graph) -> int:
    """Levels of sub-graphs below `graph` (0: none). Iterative; each sub-graph's depth is
    remembered in its `derived` facts until it is edited (the top graph, which passes edit, is scanned)."""
    subs = _subgraphs(graph)
    if not subs:
        return 0
    depth: dict[int, int] = {}
    stack: list[tuple[Graph, bool]] = [(s, False) for s in subs]
    while stack:
        g, expanded = stack.pop()
        if id(g) in depth:
            continue
        cached = g.derived.get("nesting_depth")
        if cached is not None:
            depth[id(g)] = cached
        elif expanded:
            inner = _subgraphs(g)
            depth[id(g)] = g.derived["nesting_depth"] = 1 + max(depth[id(s)] for s in inner) if inner else 0
        else:
            stack.append((g, True))
            stack.extend((s, False) for s in _subgraphs(g) if id(s) not in depth)
    return 1 + max(depth[id(s)] for s in subs)


def _subgraphs(graph: Graph) -> list[Graph]:
    return [v.subgraph for v in map(graph.vertex, graph.vertex_ids()) if v.subgraph is not None]


@contextlib.contextmanager
def recursion_room(levels: int, what: str = "the model") -> Iterator[None]:
    """Python's recursion limit raised (while any holder is inside; restored by the last one) so
    that `levels` nested models fit; more than `MAX_NESTING` levels is a GraphError up front
    instead of a RecursionError (or a crash) half-way."""
    global _room_users, _room_saved
    if levels > MAX_NESTING:
        raise GraphError(f"{what} nests {levels} models/wrappers deep; kir supports at most {MAX_NESTING} levels "
                         f"(kir.ir.interpret.MAX_NESTING)")
    wanted = _stack_depth() + FRAMES_PER_LEVEL * levels + 1000
    if levels == 0 and wanted <= sys.getrecursionlimit():  # flat: nothing to hold (the predict hot path)
        yield
        return
    with _room_lock:  # a holder, so another thread's exit does not restore the limit under it
        if _room_users == 0:
            _room_saved = sys.getrecursionlimit()
        _room_users += 1
        sys.setrecursionlimit(max(sys.getrecursionlimit(), wanted))
    try:
        yield
    finally:
        with _room_lock:
            _room_users -= 1
            if _room_users == 0:
                sys.setrecursionlimit(_room_saved)


def _stack_depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def describe(vertex: Vertex) -> str:
    """How errors name a vertex: "layer 'dense_1' (Dense)", or "op 'add_3' (Add)" without a layer."""
    if vertex.layer:
        return f"layer '{vertex.layer}' ({vertex.op})"
    return f"op '{vertex.name}' ({vertex.op})"


class Interpreter(Generic[V]):
    """Evaluates graphs on values of type V; subclasses define `run_op` and the time folding."""

    #: drop a value once its last user ran (big activations add up); off where values are cheap
    free_values: bool = True
    #: refuse an op that returns another number of outputs than its vertex declares (shape
    #: inference turns this off: it is what computes the declared outputs)
    checks_arity: bool = True

    def __init__(self) -> None:
        self.path: list[str] = []

    @property
    def prefix(self) -> str:
        """'outer/inner/' while the sub-graph of vertex 'inner' inside 'outer' runs; '' at the top."""
        return "".join(f"{name}/" for name in self.path)

    # ---------------------------------------------------------------- the walk
    def run(self, graph: Graph, inputs: Sequence[V]) -> list[V]:
        """The values of `graph.outputs` with `graph.inputs` bound to `inputs` (in that order)."""
        if not self.path:
            with recursion_room(nesting_depth(graph), f"graph '{graph.name}'"):
                return self._run(graph, inputs)
        return self._run(graph, inputs)

    def _run(self, graph: Graph, inputs: Sequence[V]) -> list[V]:
        inputs = list(inputs)
        if len(inputs) != len(graph.inputs):
            raise GraphError(f"graph '{graph.name}' takes {len(graph.inputs)} inputs, got {len(inputs)}")
        bound = dict(zip(graph.inputs, inputs))
        env: dict[int, list[V]] = {}
        keep = {vid for vid, _ in graph.outputs}
        uses: dict[int, int] = {}
        for vid in graph.topological_order():
            vertex = graph.vertex(vid)
            if vid in bound:
                refs, args = [], [bound[vid]]
            else:
                refs = graph.input_refs(vid)
                args = [env[src][i] for src, i in refs]
            out = self.run_vertex(graph, vid, vertex, args)
            env[vid] = self._checked(vertex, out) if self.checks_arity else out
            if self.free_values:
                uses[vid] = graph.use_count(vid)
                for src, _ in refs:
                    uses[src] -= 1
                for done in {vid, *(src for src, _ in refs)}:
                    if uses[done] == 0 and done not in keep:
                        del env[done]
        return [env[vid][i] for vid, i in graph.outputs]

    def run_vertex(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[V]) -> list[V]:
        """One vertex: Input binds, Call and TimeDistributed recurse, anything else is `run_op`."""
        if vertex.op == "Input":
            return self.input(graph, vid, vertex, args)
        if vertex.op == "Call":
            return self.run_subgraph(vertex, args)
        if vertex.op == "TimeDistributed":
            return self.time_distributed(vertex, args)
        return self.run_op(graph, vid, vertex, args)

    def run_subgraph(self, vertex: Vertex, args: list[V]) -> list[V]:
        """The sub-graph of a Call/TimeDistributed vertex on `args`, with the vertex on the path."""
        self.path.append(vertex.name)
        try:
            return self.run(vertex.subgraph, args)
        finally:
            self.path.pop()

    def time_distributed(self, vertex: Vertex, args: list[V]) -> list[V]:
        """The step graph run once on (batch*time, ...), each output unfolded to (batch, time, ...)."""
        x = args[0]
        outs = self._checked(vertex, self.run_subgraph(vertex, [self.fold_time(vertex, x)]))
        specs: list[TensorSpec | None] = [*vertex.outputs, *[None] * (len(outs) - len(vertex.outputs))]
        return [self.unfold_time(vertex, x, out, spec) for out, spec in zip(outs, specs)]

    def _checked(self, vertex: Vertex, out: Sequence[V]) -> list[V]:
        out = list(out)
        if self.checks_arity and len(out) != len(vertex.outputs):
            where = f"{self.prefix}{vertex.name}"
            raise GraphError(f"{type(self).__name__}: {vertex.op} '{where}' gave {len(out)} outputs, "
                             f"the vertex declares {len(vertex.outputs)}")
        return out

    # ---------------------------------------------------------------- hooks
    def input(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[V]) -> list[V]:
        """The value of an Input vertex: `args` holds the value bound to it."""
        if len(args) != 1:
            raise GraphError(f"Input '{vertex.name}' of graph '{graph.name}' is not one of the graph's inputs")
        return list(args)

    def run_op(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[V]) -> list[V]:
        """The output values of one ordinary op."""
        raise NotImplementedError(f"{type(self).__name__} does not run ops")

    def fold_time(self, vertex: Vertex, x: V) -> V:
        """(batch, time, ...) -> (batch*time, ...)."""
        raise NotImplementedError(f"{type(self).__name__} does not run TimeDistributed")

    def unfold_time(self, vertex: Vertex, x: V, out: V, spec: TensorSpec | None) -> V:
        """A step output (batch*time, ...) -> (batch, time, ...); `x` is the TimeDistributed input,
        `spec` the vertex's declared spec of this output (None where nothing is declared yet)."""
        raise NotImplementedError(f"{type(self).__name__} does not run TimeDistributed")


__all__ = ["MAX_NESTING", "Interpreter", "describe", "nesting_depth", "recursion_room"]
