"""Numpy lowerings of UpSampling1D/2D (nearest: repeat; bilinear: half-pixel centres, edges
clamped, as tf.image.resize under Keras 3), ZeroPadding1D/2D and Cropping1D/2D."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops._checks import spatial_axes
from kir.ir.ops.reshaping import pairs


def linear_taps(n: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower index, upper index, upper weight) of each of the n * factor outputs along one axis."""
    source = (np.arange(n * factor, dtype=np.float32) + 0.5) / factor - 0.5
    floor = np.floor(source)
    lower = np.clip(floor, 0, n - 1).astype(np.int64)
    upper = np.clip(np.ceil(source), 0, n - 1).astype(np.int64)
    return lower, upper, (source - floor).astype(np.float32)


@LOWERINGS.register("UpSampling1D", "UpSampling2D")
def up_sampling(ctx, attrs, inputs, params):
    y = inputs[0]
    for axis, factor in zip(spatial_axes(attrs, y.ndim), attrs["size"]):
        if attrs.get("interpolation", "nearest") == "nearest":
            y = np.repeat(y, int(factor), axis=axis)
            continue
        lower, upper, weight = linear_taps(y.shape[axis], int(factor))
        shape = [1] * y.ndim
        shape[axis] = -1
        a, b = np.take(y, lower, axis=axis), np.take(y, upper, axis=axis)
        y = (a + (b - a) * weight.reshape(shape)).astype(np.float32)
    return [y]


@LOWERINGS.register("ZeroPadding1D", "ZeroPadding2D")
def zero_padding(ctx, attrs, inputs, params):
    x = inputs[0]
    widths = [(0, 0)] * x.ndim
    for axis, pair in zip(spatial_axes(attrs, x.ndim), pairs(attrs["padding"])):
        widths[axis] = pair
    return [np.pad(x, widths)]


@LOWERINGS.register("Cropping1D", "Cropping2D")
def cropping(ctx, attrs, inputs, params):
    x = inputs[0]
    index = [slice(None)] * x.ndim
    for axis, (before, after) in zip(spatial_axes(attrs, x.ndim), pairs(attrs["cropping"])):
        index[axis] = slice(before, x.shape[axis] - after)
    return [x[tuple(index)]]
