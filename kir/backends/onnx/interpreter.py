"""Lowering a kir Graph into an ONNX GraphProto: the walk (`OnnxInterpreter`) and `lower`.

The walk is `kir.ir.interpret.Interpreter` with ONNX tensor names as values: each vertex calls
its lowering from `LOWERINGS` (`fn(ctx, attrs, inputs, params) -> outputs`), which adds nodes
through the `OnnxContext`. Nested models and TimeDistributed lower their sub-graph inline, its
nodes named under the prefix 'outer/inner/'. TimeDistributed folds time into batch with a
Reshape, runs the step graph once on (batch*time, ...), and unfolds each output with a Reshape
(Shape/Slice/Concat when the number of steps is not static).
"""

from __future__ import annotations

from collections.abc import Sequence

from onnx import NodeProto, TensorProto, helper

import kir.backends.onnx.lowerings  # noqa: F401  (registers every lowering)
from kir.backends.context import LoweringInterpreter
from kir.backends.onnx.context import Initializers, OnnxContext
from kir.backends.onnx.opset import DEFAULT_OPSET
from kir.backends.onnx.table import LOWERINGS
from kir.errors import UnsupportedOpError
from kir.ir.graph import Graph, Vertex
from kir.ir.spec import TensorSpec


class OnnxInterpreter(LoweringInterpreter[str]):
    """Values are ONNX tensor names; the nodes go into the context."""

    table = LOWERINGS
    free_values = False  # names cost nothing to keep
    ctx: OnnxContext

    def params(self, graph: Graph, vertex: Vertex) -> Initializers:
        return Initializers(self.ctx, vertex)

    def fold_time(self, vertex: Vertex, x: str) -> str:
        rest = list(self.ctx.input_spec(0).shape[2:])
        if None in rest:
            raise UnsupportedOpError("TimeDistributed over inputs with unknown inner dims "
                                     f"{tuple(self.ctx.input_spec(0).shape)}", "onnx", vertex.layer)
        return self.ctx.reshape(x, [-1, *rest], "fold_time")

    def unfold_time(self, vertex: Vertex, x: str, out: str, spec: TensorSpec | None) -> str:
        ctx = self.ctx
        steps = ctx.input_spec(0).shape[1]
        inner = list(spec.shape[2:])
        if steps is not None and None not in inner:
            return ctx.reshape(out, [-1, steps, *inner], "unfold_time")
        lead = ctx.op("Slice", ctx.op("Shape", x, suffix="input_shape"), ctx.ints([0], "starts"),
                      ctx.ints([2], "ends"), suffix="batch_time")
        tail = ctx.op("Slice", ctx.op("Shape", out, suffix="step_shape"), ctx.ints([1], "starts"),
                      ctx.ints([2**62], "ends"), suffix="step_dims")
        shape = ctx.op("Concat", lead, tail, suffix="unfold_shape", axis=0)
        return ctx.op("Reshape", out, shape, suffix="unfold_time")


def lower(graph: Graph, opset: int = DEFAULT_OPSET, input_names: Sequence[str] | None = None,
          output_names: Sequence[str] | None = None,
          fused: bool = False) -> tuple[list[NodeProto], list[TensorProto], list[str]]:
    """Nodes, initializers and output tensor names of `graph`, its inputs named `input_names`;
    `fused` lets lowerings use onnxruntime's com.microsoft kernels.

    Graph outputs come out named `output_names` (a node's output is renamed, or an Identity is
    added when the tensor is a graph input or already another output)."""
    ctx = OnnxContext(graph, opset)
    ctx.fused = fused
    input_names = list(input_names or [graph.vertex(v).name for v in graph.inputs])
    output_names = list(output_names or graph.output_names)
    for name in input_names + output_names:
        ctx.reserve(name)
    outs = OnnxInterpreter(ctx).run(graph, input_names)
    ctx.prune(outs)
    renames: dict[str, str] = {}
    produced = {o for node in ctx.nodes for o in node.output}
    for tensor, wanted in zip(outs, output_names):
        if tensor in produced and tensor not in renames:
            renames[tensor] = wanted
        else:
            source = renames.get(tensor, tensor)
            if source == wanted:  # a graph input that is also an output under its own name: no node
                continue
            ctx.nodes.append(helper.make_node("Identity", [source], [wanted], name=ctx.unique(f"{wanted}/Identity")))
    for node in ctx.nodes:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
        for i, name in enumerate(node.output):
            if name in renames:
                node.output[i] = renames[name]
    return ctx.nodes, ctx.initializers, output_names
