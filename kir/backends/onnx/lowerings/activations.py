"""Activations (Keras 3 semantics) as ONNX nodes, opset-aware: Gelu from opset 20, Mish from 18,
their exact decompositions below."""

from __future__ import annotations

import math
from collections.abc import Callable

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.table import LOWERINGS
from kir.errors import UnsupportedOpError
from kir.ir.ops.activations import softmax_axes


def _gelu(ctx: OnnxContext, x: str) -> str:
    if ctx.opset >= 20:
        return ctx.op("Gelu", x, suffix="gelu")
    erf = ctx.op("Erf", ctx.op("Mul", x, ctx.const(1.0 / math.sqrt(2.0)), suffix="gelu_scale"), suffix="gelu_erf")
    half = ctx.op("Mul", x, ctx.const(0.5), suffix="gelu_half")
    return ctx.op("Mul", half, ctx.op("Add", erf, ctx.const(1.0), suffix="gelu_one"), suffix="gelu")


def _mish(ctx: OnnxContext, x: str) -> str:
    if ctx.opset >= 18:
        return ctx.op("Mish", x, suffix="mish")
    return ctx.op("Mul", x, ctx.op("Tanh", ctx.op("Softplus", x, suffix="mish_softplus"), suffix="mish_tanh"),
                  suffix="mish")


def _where(ctx: OnnxContext, cond: str, x: str, y: str, suffix: str) -> str:
    return ctx.op("Where", cond, x, y, suffix=suffix)


def _sparse_plus(ctx: OnnxContext, x: str) -> str:
    """0 below -1, (x + 1)^2 / 4 in between, x from 1 on."""
    quad = ctx.op("Mul", ctx.op("Mul", *(2 * [ctx.op("Add", x, ctx.const(1.0), suffix="sparse_plus_shift")]),
                                suffix="sparse_plus_square"), ctx.const(0.25), suffix="sparse_plus_quad")
    upper = _where(ctx, ctx.op("Less", x, ctx.const(1.0), suffix="sparse_plus_lt"), quad, x, "sparse_plus_upper")
    low = ctx.op("LessOrEqual", x, ctx.const(-1.0), suffix="sparse_plus_le")
    return _where(ctx, low, ctx.const(0.0), upper, "sparse_plus")


def _soft_shrink(ctx: OnnxContext, x: str) -> str:
    return ctx.op("Shrink", x, suffix="soft_shrink", lambd=0.5, bias=0.5)


def _hard_shrink(ctx: OnnxContext, x: str) -> str:
    return ctx.op("Shrink", x, suffix="hard_shrink", lambd=0.5, bias=0.0)


def _squareplus(ctx: OnnxContext, x: str) -> str:
    root = ctx.op("Sqrt", ctx.op("Add", ctx.op("Mul", x, x, suffix="squareplus_sq"), ctx.const(4.0),
                                 suffix="squareplus_b"), suffix="squareplus_sqrt")
    return ctx.op("Mul", ctx.op("Add", x, root, suffix="squareplus_sum"), ctx.const(0.5), suffix="squareplus")


def _hard_silu(ctx: OnnxContext, x: str) -> str:
    if ctx.opset >= 14:
        return ctx.op("HardSwish", x, suffix="hard_silu")
    gate = ctx.op("HardSigmoid", x, suffix="hard_silu_gate", alpha=1.0 / 6.0, beta=0.5)
    return ctx.op("Mul", x, gate, suffix="hard_silu")


ACTIVATIONS: dict[str, Callable[[OnnxContext, str], str]] = {
    "linear": lambda ctx, x: x,
    "relu": lambda ctx, x: ctx.op("Relu", x, suffix="relu"),
    "relu6": lambda ctx, x: ctx.op("Clip", x, ctx.const(0.0), ctx.const(6.0), suffix="relu6"),
    "sigmoid": lambda ctx, x: ctx.op("Sigmoid", x, suffix="sigmoid"),
    "hard_sigmoid": lambda ctx, x: ctx.op("HardSigmoid", x, suffix="hard_sigmoid", alpha=1.0 / 6.0, beta=0.5),
    "softmax": lambda ctx, x: ctx.op("Softmax", x, suffix="softmax", axis=-1),
    "log_softmax": lambda ctx, x: ctx.op("LogSoftmax", x, suffix="log_softmax", axis=-1),
    "tanh": lambda ctx, x: ctx.op("Tanh", x, suffix="tanh"),
    "elu": lambda ctx, x: ctx.op("Elu", x, suffix="elu", alpha=1.0),
    "selu": lambda ctx, x: ctx.op("Selu", x, suffix="selu"),
    "softplus": lambda ctx, x: ctx.op("Softplus", x, suffix="softplus"),
    "softsign": lambda ctx, x: ctx.op("Softsign", x, suffix="softsign"),
    "exponential": lambda ctx, x: ctx.op("Exp", x, suffix="exp"),
    "swish": lambda ctx, x: ctx.op("Mul", x, ctx.op("Sigmoid", x, suffix="swish_sigmoid"), suffix="swish"),
    "gelu": _gelu,
    "leaky_relu": lambda ctx, x: ctx.op("LeakyRelu", x, suffix="leaky_relu", alpha=0.2),
    "mish": _mish,
    "hard_silu": _hard_silu,
    "log_sigmoid": lambda ctx, x: ctx.op("Neg", ctx.op("Softplus", ctx.op("Neg", x, suffix="log_sigmoid_neg"),
                                                       suffix="log_sigmoid_softplus"), suffix="log_sigmoid"),
    "hard_tanh": lambda ctx, x: ctx.op("Clip", x, ctx.const(-1.0), ctx.const(1.0), suffix="hard_tanh"),
    "celu": lambda ctx, x: ctx.op("Celu", x, suffix="celu", alpha=1.0),
    "tanh_shrink": lambda ctx, x: ctx.op("Sub", x, ctx.op("Tanh", x, suffix="tanh_shrink_tanh"), suffix="tanh_shrink"),
    "squareplus": _squareplus,
    "sparse_plus": _sparse_plus,
    "soft_shrink": _soft_shrink,
    "hard_shrink": _hard_shrink,
}
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]
ACTIVATIONS["hard_swish"] = ACTIVATIONS["hard_silu"]


def activate(ctx: OnnxContext, name: str | None, x: str) -> str:
    """Apply the named activation to tensor `x` (linear adds nothing)."""
    fn = ACTIVATIONS.get(name or "linear")
    if fn is None:
        raise UnsupportedOpError(f"Activation({name})", "onnx", ctx.vertex.layer if ctx.vertex else None)
    return fn(ctx, x)


@LOWERINGS.register("Activation")
def activation(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [activate(ctx, attrs["activation"], inputs[0])]


@LOWERINGS.register("ELU")
def elu(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Elu", inputs[0], suffix="elu", alpha=float(attrs.get("alpha", 1.0)))]


def relu_with(ctx: OnnxContext, x: str, negative_slope: float, max_value: float | None, threshold: float) -> str:
    """Keras' relu(x, negative_slope, max_value, threshold) with the single ONNX op where one fits."""
    if threshold == 0.0 and max_value is None:
        if negative_slope == 0.0:
            return ctx.op("Relu", x, suffix="relu")
        return ctx.op("LeakyRelu", x, suffix="leaky_relu", alpha=float(negative_slope))
    if threshold == 0.0 and negative_slope == 0.0:
        return ctx.op("Clip", x, ctx.const(0.0), ctx.const(float(max_value)), suffix="relu")
    if negative_slope == 0.0 and max_value is None:
        return ctx.op("ThresholdedRelu", x, suffix="relu", alpha=float(threshold))
    above = x if max_value is None else ctx.op("Min", x, ctx.const(float(max_value)), suffix="relu_max")
    below = ctx.op("Mul", ctx.op("Sub", x, ctx.const(float(threshold)), suffix="relu_shift"),
                   ctx.const(float(negative_slope)), suffix="relu_slope")
    return ctx.op("Where", ctx.op("Greater", x, ctx.const(float(threshold)), suffix="relu_above"), above, below,
                  suffix="relu")


@LOWERINGS.register("ReLU")
def relu(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [relu_with(ctx, inputs[0], float(attrs.get("negative_slope", 0.0)), attrs.get("max_value"),
                      float(attrs.get("threshold", 0.0)))]


@LOWERINGS.register("PReLU")
def prelu(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """ONNX PRelu: alpha (input.shape[1:]) broadcasts against (batch, ...) as Keras' does."""
    return [ctx.op("PRelu", inputs[0], params["alpha"], suffix="prelu")]


@LOWERINGS.register("Softmax")
def softmax(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """One axis: Softmax (opset 13 takes any axis); several: exp(x - max) / sum over them."""
    axes = softmax_axes(attrs, ctx.input_spec(0).rank)
    x = inputs[0]
    if len(axes) == 1:
        return [ctx.op("Softmax", x, suffix="softmax", axis=axes[0])]
    shifted = ctx.op("Sub", x, ctx.reduce("ReduceMax", x, axes, suffix="softmax_max"), suffix="softmax_shift")
    e = ctx.op("Exp", shifted, suffix="softmax_exp")
    return [ctx.op("Div", e, ctx.reduce("ReduceSum", e, axes, suffix="softmax_sum"), suffix="softmax")]
