"""Nested models (Call) and TimeDistributed, lowered inline with their vertex name as prefix.

TimeDistributed folds time into batch with a Reshape, runs the step graph once on
(batch*time, ...), and unfolds each output with a Reshape (Shape/Slice/Concat when the
number of steps is not static)."""

from __future__ import annotations

from kir.backends.onnx.lowering import ONNX_LOWERINGS, LoweringContext
from kir.errors import UnsupportedOpError
from kir.ir.graph import Vertex


@ONNX_LOWERINGS.register("Call")
def call(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    return ctx.nested(vertex, inputs)


@ONNX_LOWERINGS.register("TimeDistributed")
def time_distributed(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    spec = ctx.input_spec(0)
    rest = list(spec.shape[2:])
    if None in rest:
        raise UnsupportedOpError("TimeDistributed over inputs with unknown inner dims "
                                 f"{tuple(spec.shape)}", "onnx", vertex.layer)
    folded = ctx.reshape(inputs[0], [-1, *rest], "fold_time")
    outs = ctx.nested(vertex, [folded])
    steps = spec.shape[1]
    results = []
    for out, out_spec in zip(outs, vertex.outputs):
        inner = list(out_spec.shape[2:])
        if steps is not None and None not in inner:
            results.append(ctx.reshape(out, [-1, steps, *inner], "unfold_time"))
            continue
        lead = ctx.op("Slice", ctx.op("Shape", inputs[0], suffix="input_shape"), ctx.ints([0], "starts"),
                      ctx.ints([2], "ends"), suffix="batch_time")
        tail = ctx.op("Slice", ctx.op("Shape", out, suffix="step_shape"), ctx.ints([1], "starts"),
                      ctx.ints([2**62], "ends"), suffix="step_dims")
        shape = ctx.op("Concat", lead, tail, suffix="unfold_shape", axis=0)
        results.append(ctx.op("Reshape", out, shape, suffix="unfold_time"))
    return results
