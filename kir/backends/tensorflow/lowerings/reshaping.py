"""UpSampling1D/2D (nearest: tf.repeat; bilinear: tf.image.resize, as Keras 3 does), ZeroPadding1D/2D
(tf.pad) and Cropping1D/2D (slicing)."""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.lowerings.conv import from_channels_last, to_channels_last
from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops._checks import spatial_axes
from kir.ir.ops.reshaping import pairs


@LOWERINGS.register("UpSampling1D", "UpSampling2D")
def up_sampling(ctx, attrs, inputs, params):
    x = inputs[0]
    size = [int(s) for s in attrs["size"]]
    if attrs.get("interpolation", "nearest") == "nearest":
        for axis, factor in zip(spatial_axes(attrs, x.shape.rank), size):
            x = tf.repeat(x, factor, axis=axis)
        return [x]
    x = to_channels_last(attrs, x)
    dims = tf.shape(x)
    y = tf.image.resize(x, tf.stack([dims[1] * size[0], dims[2] * size[1]]), method="bilinear")
    return [from_channels_last(attrs, tf.cast(y, x.dtype))]


@LOWERINGS.register("ZeroPadding1D", "ZeroPadding2D")
def zero_padding(ctx, attrs, inputs, params):
    x = inputs[0]
    widths = [[0, 0]] * x.shape.rank
    for axis, pair in zip(spatial_axes(attrs, x.shape.rank), pairs(attrs["padding"])):
        widths[axis] = list(pair)
    return [tf.pad(x, widths)]


@LOWERINGS.register("Cropping1D", "Cropping2D")
def cropping(ctx, attrs, inputs, params):
    x = inputs[0]
    index = [slice(None)] * x.shape.rank
    for axis, (before, after) in zip(spatial_axes(attrs, x.shape.rank), pairs(attrs["cropping"])):
        index[axis] = slice(before, -after if after else None)
    return [x[tuple(index)]]
