"""Shape inference over the whole graph with the per-op rules (the same ones a layer call uses:
`kir.ir.shapes.ShapeInterpreter`), optionally with a static batch size written into every spec."""

from __future__ import annotations

from collections import Counter

from kir.errors import GraphError, check_positive_int
from kir.ir.graph import Graph, Vertex
from kir.ir.shapes import ShapeInterpreter
from kir.ir.spec import TensorSpec
from kir.passes.base import graph_pass


def _input_specs(graph: Graph, static_batch: int | None = None) -> list[TensorSpec]:
    specs = [graph.vertex(vid).outputs[0] for vid in graph.inputs]
    return specs if static_batch is None else [s.with_batch(static_batch) for s in specs]


def infer_all(graph: Graph, static_batch: int | None = None) -> int:
    """Rewrite every vertex's output specs in place; returns how many vertices changed."""
    shapes = ShapeInterpreter(update=True)
    shapes.run(graph, _input_specs(graph, static_batch))
    return shapes.changed


@graph_pass("infer_shapes")
def infer_shapes(graph: Graph, static_batch: int | None = None, **_: object) -> Counter:
    """Recompute every vertex's output specs; `static_batch` fixes the batch dimension."""
    if static_batch is not None:
        static_batch = check_positive_int(static_batch, "static_batch")
    return Counter({"specs_changed": infer_all(graph, static_batch)})


class _SpecCheck(ShapeInterpreter):
    """Compares each stored spec with the inferred one, vertex by vertex."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def top_level(self, vertex: Vertex, out: list[TensorSpec]) -> None:
        if vertex.op != "Input" and out != vertex.outputs:
            raise GraphError(f"{self.where}: vertex '{vertex.name}' ({vertex.op}) stores specs {vertex.outputs} "
                             f"but its inputs give {out}")


def check_specs(graph: Graph, where: str = "") -> None:
    """Raise GraphError if a vertex's stored output specs differ from what its rule infers
    (a pass edited a vertex and forgot to re-infer it). Used in debug mode."""
    _SpecCheck(where).run(graph, _input_specs(graph))
