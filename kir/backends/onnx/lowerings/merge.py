"""Merges: Add/Sum, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot."""

from __future__ import annotations

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.table import LOWERINGS


def _chain(op_type: str, ctx: OnnxContext, inputs: list[str]) -> str:
    y = inputs[0]
    for i, x in enumerate(inputs[1:], 1):
        y = ctx.op(op_type, y, x, suffix=op_type if len(inputs) == 2 else f"{op_type}_{i}")
    return y


@LOWERINGS.register("Add")
def add(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Sum", *inputs) if len(inputs) > 2 else _chain("Add", ctx, inputs)]


@LOWERINGS.register("Subtract")
def subtract(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Sub", *inputs)]


@LOWERINGS.register("Multiply")
def multiply(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [_chain("Mul", ctx, inputs)]


@LOWERINGS.register("Maximum", "Minimum")
def extremum(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Max" if ctx.vertex.op == "Maximum" else "Min", *inputs)]


@LOWERINGS.register("Average")
def average(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    total = ctx.op("Sum", *inputs) if len(inputs) > 2 else _chain("Add", ctx, inputs)
    return [ctx.op("Div", total, ctx.const(float(len(inputs))), suffix="mean")]


@LOWERINGS.register("Concatenate")
def concatenate(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    axis = int(attrs.get("axis", -1)) % ctx.vertex.outputs[0].rank
    return [ctx.op("Concat", *inputs, axis=axis)]


def _l2_normalize(ctx: OnnxContext, x: str, axis: int, which: str) -> str:
    """Keras' normalize: x * min(1 / sqrt(sum(x^2)), 1e7)."""
    norm = ctx.op("Sqrt", ctx.reduce("ReduceSumSquare", x, [axis], suffix=f"{which}_sumsq"), suffix=f"{which}_norm")
    inv = ctx.op("Min", ctx.op("Reciprocal", norm, suffix=f"{which}_inv"), ctx.const(1e7), suffix=f"{which}_clip")
    return ctx.op("Mul", x, inv, suffix=f"{which}_normalized")


@LOWERINGS.register("Dot")
def dot(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """Keras batch_dot: per-sample tensordot over axes [a1, a2]; a rank-1 result becomes (b, 1)."""
    x, y = inputs
    sx, sy = ctx.input_spec(0), ctx.input_spec(1)
    a1, a2 = (int(a) for a in attrs["axes"])
    if attrs.get("normalize"):
        x, y = _l2_normalize(ctx, x, a1, "x"), _l2_normalize(ctx, y, a2, "y")
    if sx.rank == 2 and sy.rank == 2:
        return [ctx.reduce("ReduceSum", ctx.op("Mul", x, y, suffix="product"), [1], keepdims=True)]
    x = ctx.transpose(x, [i for i in range(sx.rank) if i != a1] + [a1], "x_transpose")
    y = ctx.transpose(y, [0, a2] + [i for i in range(1, sy.rank) if i != a2], "y_transpose")
    n = sx.shape[a1]
    if sx.rank != 3:
        x = ctx.reshape(x, [0, -1, n], "x_reshape")
    if sy.rank != 3:
        y = ctx.reshape(y, [0, n, -1], "y_reshape")
    out = ctx.op("MatMul", x, y)
    if sx.rank != 3 or sy.rank != 3:
        out = ctx.reshape(out, [0, *ctx.vertex.outputs[0].shape[1:]], "reshape")
    return [out]
