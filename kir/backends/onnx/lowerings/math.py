"""Math primitives of traced code: Constant (an initializer), Param (the weight's initializer),
Unary and Binary (one ONNX op each, or two: log1p, not_equal), Cast, Where, Clip, Reduce
(ReduceX), MatMul, RandomNormal (RandomNormal for a static shape, else ConstantOfShape +
RandomNormalLike, then a Cast: fresh samples on every run unless the vertex has a seed).
Float values live in initializers or Casts, never in node attributes, so float16 exports
(kir.backends.onnx.export) convert them."""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings.array import dims_tensor
from kir.backends.onnx.opset import onnx_dtype
from kir.backends.onnx.table import LOWERINGS

UNARY = {
    "negative": "Neg", "abs": "Abs", "sqrt": "Sqrt", "exp": "Exp", "log": "Log", "sign": "Sign", "round": "Round",
    "floor": "Floor", "ceil": "Ceil", "sin": "Sin", "cos": "Cos", "tanh": "Tanh", "sigmoid": "Sigmoid",
    "softplus": "Softplus", "relu": "Relu", "softsign": "Softsign", "logical_not": "Not",
}
BINARY = {
    "add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "power": "Pow", "maximum": "Max",
    "minimum": "Min", "equal": "Equal", "greater": "Greater", "greater_equal": "GreaterOrEqual", "less": "Less",
    "less_equal": "LessOrEqual", "logical_and": "And", "logical_or": "Or",
}
REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin", "prod": "ReduceProd"}


@LOWERINGS.register("Constant")
def constant(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    value = np.asarray(attrs["value"], dtype=attrs["dtype"]).reshape([int(d) for d in attrs["shape"]])
    return [ctx.const(value, attrs["dtype"])]


@LOWERINGS.register("Param")
def param(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [params["value"]]


@LOWERINGS.register("Unary")
def unary(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    (x,), fn = inputs, attrs["fn"]
    if fn == "square":
        return [ctx.op("Mul", x, x, suffix="square")]
    if fn == "log1p":
        one = ctx.const(1, ctx.input_spec(0).dtype, "one")
        return [ctx.op("Log", ctx.op("Add", x, one, suffix="plus_one"), suffix="log1p")]
    return [ctx.op(UNARY[fn], x, suffix=fn)]


@LOWERINGS.register("Binary")
def binary(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    fn = attrs["fn"]
    if fn == "not_equal":
        return [ctx.op("Not", ctx.op("Equal", *inputs, suffix="equal"), suffix=fn)]
    return [ctx.op(BINARY[fn], *inputs, suffix=fn)]


@LOWERINGS.register("Cast")
def cast(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Cast", inputs[0], to=onnx_dtype(attrs["dtype"]))]


@LOWERINGS.register("Where")
def where(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Where", *inputs)]


@LOWERINGS.register("Clip")
def clip(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    dtype = ctx.input_spec(0).dtype
    return [ctx.op("Clip", inputs[0], ctx.const(attrs["min"], dtype, "min"), ctx.const(attrs["max"], dtype, "max"))]


@LOWERINGS.register("Reduce")
def reduce(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    rank = ctx.input_spec(0).rank
    axis = attrs.get("axis")
    axes = list(range(rank)) if axis is None else sorted(int(a) % rank for a in axis)
    if not axes:
        return [ctx.op("Identity", inputs[0])]
    return [ctx.reduce(REDUCE[attrs["fn"]], inputs[0], axes, keepdims=bool(attrs.get("keepdims", False)))]


@LOWERINGS.register("MatMul")
def matmul(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("MatMul", *inputs)]


@LOWERINGS.register("RandomNormal")
def random_normal(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """Drawn in float32, then a Cast to the vertex's dtype (which float16 exports retarget)."""
    seed = attrs.get("seed")
    options = {"mean": float(attrs.get("mean", 0.0)), "scale": float(attrs.get("stddev", 1.0)),
               "dtype": onnx_dtype("float32"), "seed": None if seed is None else float(seed)}
    known = ctx.vertex.outputs[0].shape
    if options["scale"] == 0.0:  # onnxruntime aborts on a zero scale: the samples are the mean
        value = numpy_helper.from_array(np.float32([options["mean"]]))
        sample = ctx.op("ConstantOfShape", dims_tensor(ctx, list(attrs["shape"]), inputs, known), value=value)
    elif None not in known:
        sample = ctx.op("RandomNormal", shape=[int(d) for d in known], **options)
    else:
        zeros = ctx.op("ConstantOfShape", dims_tensor(ctx, list(attrs["shape"]), inputs), suffix="like")
        sample = ctx.op("RandomNormalLike", zeros, **options)
    return [ctx.op("Cast", sample, suffix="cast", to=onnx_dtype(attrs.get("dtype", "float32")))]
