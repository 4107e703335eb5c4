"""Rescaling -> Mul/Add; Normalization -> Sub/Div (or Mul/Add inverted) by initializers in the
broadcast shape: the mean and the clamped standard deviation max(sqrt(variance), 1e-7)."""

from __future__ import annotations

import numpy as np

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops.preprocessing import NORMALIZATION_EPSILON, broadcast_shape


@LOWERINGS.register("Rescaling")
def rescaling(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    scale, offset = attrs.get("scale", 1.0), attrs.get("offset", 0.0)
    y = ctx.op("Mul", inputs[0], ctx.const(scale), suffix="scale")
    if np.any(np.asarray(offset) != 0):
        y = ctx.op("Add", y, ctx.const(offset), suffix="offset")
    return [y]


def _std(variance: np.ndarray) -> np.ndarray:
    return np.maximum(np.sqrt(np.asarray(variance, np.float32)), np.float32(NORMALIZATION_EPSILON))


@LOWERINGS.register("Normalization")
def normalization(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    shape = broadcast_shape(attrs)
    if "mean" in params:
        mean = ctx.derived(["mean"], "mean_broadcast", lambda m: m.reshape(shape))
        std = ctx.derived(["variance"], "std", lambda v: _std(v).reshape(shape))
    else:
        mean = ctx.const(np.asarray(attrs["mean"], np.float32).reshape(shape), suffix="mean")
        std = ctx.const(_std(attrs["variance"]).reshape(shape), suffix="std")
    if attrs.get("invert"):
        return [ctx.op("Add", ctx.op("Mul", inputs[0], std, suffix="scale"), mean, suffix="normalization")]
    return [ctx.op("Div", ctx.op("Sub", inputs[0], mean, suffix="center"), std, suffix="normalization")]
