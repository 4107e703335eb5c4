"""Shape inference over a whole graph with the per-op rules, recursing into sub-graphs.

Call-time checks (a layer called on a symbolic tensor) and the shape-inference pass both end
here, so they can never disagree. The walk is `kir.ir.interpret.Interpreter` with specs as values.

A sub-graph's output specs are a function of its structure and its input specs only, so they are
memoised on the sub-graph (keyed by its `structure_key` and the input specs): a Call of a model
nested N deep costs one look-up, not a walk of all N levels (issue 11: building and loading deeply
nested models was cubic in the depth).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from kir.errors import ShapeError
from kir.ir import ops
from kir.ir.graph import Graph, Vertex
from kir.ir.interpret import Interpreter, describe
from kir.ir.spec import TensorSpec, format_shape

T = TypeVar("T")


class ShapeInterpreter(Interpreter[TensorSpec]):
    """Runs the shape rules: values are TensorSpecs.

    With `update=True` the specs of the top graph's vertices are rewritten in place (the pass uses
    this on its own copy) and `changed` counts the vertices whose specs changed."""

    free_values = False
    checks_arity = False

    def __init__(self, update: bool = False) -> None:
        super().__init__()
        self.update = update
        self.changed = 0

    def run(self, graph: Graph, inputs: Sequence[TensorSpec]) -> list[TensorSpec]:
        if len(inputs) != len(graph.inputs):
            raise ShapeError(f"model '{graph.name}' takes {len(graph.inputs)} inputs, got {len(inputs)}")
        return super().run(graph, inputs)

    def run_vertex(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[TensorSpec]) -> list[TensorSpec]:
        if vertex.subgraph is not None:
            out = nested_errors(describe(vertex), super().run_vertex, graph, vid, vertex, args)
        else:
            out = super().run_vertex(graph, vid, vertex, args)
        if not self.path:
            self.top_level(vertex, out)
        return out

    def run_subgraph(self, vertex: Vertex, args: list[TensorSpec]) -> list[TensorSpec]:
        """The sub-graph's outputs for `args`, memoised on the sub-graph (see the module doc)."""
        memo = _memo(vertex.subgraph)
        key = tuple(args)
        out = memo.get(key)
        if out is None:
            out = memo[key] = list(super().run_subgraph(vertex, args))
        return list(out)

    def top_level(self, vertex: Vertex, out: list[TensorSpec]) -> None:
        """Called with each vertex of the top graph and its inferred specs."""
        if self.update and out != vertex.outputs:
            vertex.outputs = list(out)
            if vertex.op == "Input":
                vertex.attrs["shape"] = list(out[0].shape)
            self.changed += 1

    def input(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[TensorSpec]) -> list[TensorSpec]:
        if not args:
            return list(vertex.outputs)
        _check_compatible(graph, vertex.name, vertex.outputs[0], args[0])
        return [args[0]]

    def run_op(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[TensorSpec]) -> list[TensorSpec]:
        param_shapes = {role: tuple(graph.store[key].shape) for role, key in vertex.params.items()}
        return ops.infer(vertex.op, vertex.attrs, args, param_shapes, where=describe(vertex))

    def fold_time(self, vertex: Vertex, x: TensorSpec) -> TensorSpec:
        if x.rank < 3:
            raise ShapeError(f"TimeDistributed needs an input of rank >= 3 (batch, time, ...), "
                             f"got {format_shape(x.shape)}")
        batch, steps = x.shape[0], x.shape[1]
        folded = None if batch is None or steps is None else batch * steps
        return TensorSpec((folded,) + x.shape[2:], x.dtype)

    def unfold_time(self, vertex: Vertex, x: TensorSpec, out: TensorSpec, spec: TensorSpec | None) -> TensorSpec:
        return TensorSpec(x.shape[:2] + out.shape[1:], out.dtype)


_MEMO_SIZE = 64
"""Input-spec combinations remembered per sub-graph (one more starts the memo over)."""


def _memo(graph: Graph) -> dict[tuple[TensorSpec, ...], list[TensorSpec]]:
    """The output-spec memo of `graph` (in `graph.derived`, so any edit through the graph empties it)."""
    memo = graph.derived.setdefault("output_specs", {})
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    return memo


def nested_errors(where: str, fn: Callable[..., T], *args: object) -> T:
    """fn(*args), a ShapeError from inside a sub-graph prefixed with the vertex that holds it."""
    try:
        return fn(*args)
    except ShapeError as exc:
        raise ShapeError(f"{where}: {exc}" if where else str(exc)) from None


def infer_vertex(graph: Graph, vertex: Vertex, inputs: Sequence[TensorSpec]) -> list[TensorSpec]:
    """Output specs of one vertex given its input specs."""
    if vertex.op == "Input":
        return list(vertex.outputs)
    return ShapeInterpreter().run_vertex(graph, None, vertex, list(inputs))


def infer_graph(
    graph: Graph, input_specs: Sequence[TensorSpec] | None = None, update: bool = False
) -> list[TensorSpec]:
    """Specs of the graph outputs for the given input specs (default: the Inputs' own).

    With `update=True` the vertices' output specs are rewritten in place (the pass uses this
    on its own copy); otherwise the graph is left untouched.
    """
    if input_specs is None:
        input_specs = [graph.vertex(vid).outputs[0] for vid in graph.inputs]
    return ShapeInterpreter(update).run(graph, list(input_specs))


def call_specs(subgraph: Graph, inputs: Sequence[TensorSpec], where: str = "") -> list[TensorSpec]:
    """Outputs of a nested model called on `inputs` (memoised like any sub-graph)."""
    memo = _memo(subgraph)
    key = tuple(inputs)
    out = memo.get(key)
    if out is None:
        out = memo[key] = list(nested_errors(where, infer_graph, subgraph, inputs))
    return list(out)


def time_distributed_specs(subgraph: Graph, inputs: Sequence[TensorSpec], where: str = "") -> list[TensorSpec]:
    """Outputs of TimeDistributed: the step graph on (batch*time, ...), unfolded to (batch, time, ...)."""
    vertex = Vertex(op="TimeDistributed", attrs={}, outputs=[], name=subgraph.name, subgraph=subgraph)
    return nested_errors(where, ShapeInterpreter().time_distributed, vertex, list(inputs))


def _check_compatible(graph: Graph, name: str, declared: TensorSpec, given: TensorSpec) -> None:
    ok = declared.rank == given.rank and all(
        d is None or g is None or d == g for d, g in zip(declared.shape[1:], given.shape[1:])
    )
    if not ok:
        raise ShapeError(
            f"input '{name}' of model '{graph.name}' expects shape {format_shape(declared.shape)}, "
            f"got {format_shape(given.shape)}"
        )
