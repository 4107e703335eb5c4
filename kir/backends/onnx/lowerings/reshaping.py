"""UpSampling1D/2D -> Resize (nearest: asymmetric coordinates, floor, i.e. a repeat; bilinear:
half_pixel coordinates on NCHW, as tf.image.resize), ZeroPadding1D/2D -> Pad, Cropping1D/2D -> Slice."""

from __future__ import annotations

import numpy as np

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings._windows import ChannelsFirst
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops._checks import spatial_axes
from kir.ir.ops.reshaping import pairs

_INT64_MAX = np.iinfo(np.int64).max


@LOWERINGS.register("UpSampling1D", "UpSampling2D")
def up_sampling(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    rank = ctx.input_spec(0).rank
    size = [float(s) for s in attrs["size"]]
    if attrs.get("interpolation", "nearest") == "nearest":
        scales = [1.0] * rank
        for axis, factor in zip(spatial_axes(attrs, rank), size):
            scales[axis] = factor
        return [ctx.op("Resize", inputs[0], "", ctx.const(scales), suffix="nearest", mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")]
    layout = ChannelsFirst(ctx, rank, attrs.get("data_format") == "channels_first")
    y = ctx.op("Resize", layout.enter(inputs[0]), "", ctx.const([1.0, 1.0, *size]), suffix="bilinear",
               mode="linear", coordinate_transformation_mode="half_pixel")
    return [layout.leave(y)]


@LOWERINGS.register("ZeroPadding1D", "ZeroPadding2D")
def zero_padding(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    rank = ctx.input_spec(0).rank
    before, after = [0] * rank, [0] * rank
    for axis, (b, a) in zip(spatial_axes(attrs, rank), pairs(attrs["padding"])):
        before[axis], after[axis] = b, a
    return [ctx.op("Pad", inputs[0], ctx.ints(before + after, "pads"))]


@LOWERINGS.register("Cropping1D", "Cropping2D")
def cropping(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    axes = spatial_axes(attrs, ctx.input_spec(0).rank)
    crops = pairs(attrs["cropping"])
    starts = [b for b, _ in crops]
    ends = [-a if a else _INT64_MAX for _, a in crops]
    return [ctx.op("Slice", inputs[0], ctx.ints(starts, "starts"), ctx.ints(ends, "ends"), ctx.ints(axes, "axes"))]
