"""BatchNormalization (inference) and LayerNormalization.

BN on axis 1 is ONNX BatchNormalization; on another axis (NHWC, sequences) it is one Mul and one
Add with the moving statistics folded at export time. LayerNormalization over trailing axes is
the ONNX op from opset 17, decomposed into reductions below that or for other axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.table import LOWERINGS


def _broadcast_shape(rank: int, axes: Sequence[int], sizes: Sequence[int]) -> list[int]:
    shape = [1] * rank
    for axis, size in zip(axes, sizes):
        shape[axis] = size
    return shape


@LOWERINGS.register("BatchNormalization")
def batch_norm(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    rank = ctx.input_spec(0).rank
    axis = int(attrs.get("axis", rank - 1)) % rank
    eps = float(attrs.get("epsilon", 1e-3))
    has_scale = attrs.get("scale", True) and "gamma" in params
    has_center = attrs.get("center", True) and "beta" in params
    channels = int(np.shape(ctx.array("moving_mean"))[0])
    if axis == 1:
        scale = params["gamma"] if has_scale else ctx.const(np.ones(channels), suffix="ones")
        bias = params["beta"] if has_center else ctx.const(np.zeros(channels), suffix="zeros")
        return [ctx.op("BatchNormalization", inputs[0], scale, bias, params["moving_mean"],
                       params["moving_variance"], epsilon=eps)]
    roles = ["moving_mean", "moving_variance"] + (["gamma"] if has_scale else []) + (["beta"] if has_center else [])
    shape = _broadcast_shape(rank, [axis], [channels])[1:] if axis != rank - 1 else [channels]

    def fold_scale(mean, var, *rest):
        inv = 1.0 / np.sqrt(var + np.float32(eps))
        return (inv * rest[0] if has_scale else inv).reshape(shape)

    def fold_shift(mean, var, *rest):
        shift = -mean * fold_scale(mean, var, *rest).reshape(-1)
        return (shift + rest[-1] if has_center else shift).reshape(shape)

    y = ctx.op("Mul", inputs[0], ctx.derived(roles, "bn_scale", fold_scale), suffix="scale")
    return [ctx.op("Add", y, ctx.derived(roles, "bn_shift", fold_shift), suffix="shift")]


@LOWERINGS.register("LayerNormalization")
def layer_norm(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    spec = ctx.input_spec(0)
    rank = spec.rank
    raw = attrs.get("axis", [rank - 1])
    axes = sorted(int(a) % rank for a in ([raw] if isinstance(raw, int) else raw))
    sizes = [spec.shape[a] for a in axes]
    eps = float(attrs.get("epsilon", 1e-3))
    has_scale = attrs.get("scale", True) and "gamma" in params
    has_center = attrs.get("center", True) and "beta" in params
    trailing = axes == list(range(axes[0], rank)) and None not in sizes
    x = inputs[0]
    if ctx.opset >= 17 and trailing:
        scale = (ctx.param("gamma", lambda g: g.reshape(sizes), "ln") if has_scale
                 else ctx.const(np.ones(sizes), suffix="ones"))
        args = [x, scale] + ([ctx.param("beta", lambda b: b.reshape(sizes), "ln")] if has_center else [])
        return [ctx.op("LayerNormalization", *args, axis=axes[0], epsilon=eps)]
    mean = ctx.reduce("ReduceMean", x, axes, suffix="mean")
    centered = ctx.op("Sub", x, mean, suffix="centered")
    var = ctx.reduce("ReduceMean", ctx.op("Mul", centered, centered, suffix="square"), axes, suffix="variance")
    std = ctx.op("Sqrt", ctx.op("Add", var, ctx.const(eps), suffix="variance_eps"), suffix="std")
    y = ctx.op("Div", centered, std, suffix="normalized")
    shape = _broadcast_shape(rank, axes, sizes)
    if has_scale:
        y = ctx.op("Mul", y, ctx.param("gamma", lambda g: g.reshape(shape), "bcast"), suffix="gamma")
    if has_center:
        y = ctx.op("Add", y, ctx.param("beta", lambda b: b.reshape(shape), "bcast"), suffix="beta")
    return [y]
