"""Activations (Keras 3 semantics) as ONNX nodes, opset-aware: Gelu from opset 20, Mish from 18,
their exact decompositions below."""

from __future__ import annotations

import math
from collections.abc import Callable

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.table import LOWERINGS
from kir.errors import UnsupportedOpError


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
}
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]


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
