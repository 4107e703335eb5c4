"""Numpy lowerings of Conv1D/Conv2D/Conv3D (one matmul per kernel tap over strided slices of the padded
input: memory-light im2col, dilation and strides by slicing) and of their transposes (one scatter
per kernel tap)."""

from __future__ import annotations

import itertools

import numpy as np

from kir.backends.numpy.lowerings._windows import from_channels_last, pad_amounts, to_channels_last
from kir.backends.numpy.lowerings.activations import activate
from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops._checks import as_list
from kir.ir.ops.conv import transpose_geometry


def _padded_input(
    x: np.ndarray, window: tuple[int, ...], strides: list[int], dilation: list[int], padding: str
) -> tuple[np.ndarray, list[int]]:
    """x (b, *spatial, c) padded as `padding` asks, and the output's spatial sizes."""
    pads = pad_amounts(x.shape[1:-1], window, strides, dilation, padding)
    xp = np.pad(x, [(0, 0), *pads, (0, 0)]) if any(p != (0, 0) for p in pads) else x
    out_sizes = [(size - (k - 1) * d - 1) // s + 1 for size, k, s, d in zip(xp.shape[1:-1], window, strides, dilation)]
    return xp, out_sizes


def convolve(
    x: np.ndarray, kernel: np.ndarray, strides: list[int], dilation: list[int], padding: str
) -> np.ndarray:
    """N-d cross-correlation of a channels_last x (b, *spatial, c) with kernel (*k, c, f)."""
    window = kernel.shape[:x.ndim - 2]
    xp, out_sizes = _padded_input(x, window, strides, dilation, padding)
    batch, channels, filters = x.shape[0], x.shape[-1], kernel.shape[-1]
    rows = batch * int(np.prod(out_sizes))
    out = np.zeros((rows, filters), dtype=np.float32)
    for tap in itertools.product(*(range(k) for k in window)):
        index = tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s in zip(tap, dilation, out_sizes, strides)
        )
        patch = np.ascontiguousarray(xp[(slice(None), *index)]).reshape(rows, channels)
        out += patch @ kernel[tap]
    return out.reshape(batch, *out_sizes, filters)


@LOWERINGS.register("Conv1D", "Conv2D", "Conv3D")
def conv(ctx, attrs, inputs, params):
    """activation(conv(x, kernel) + bias), channels_last or channels_first per data_format."""
    x = to_channels_last(attrs, np.asarray(inputs[0], dtype=np.float32))
    kernel = np.asarray(params["kernel"], dtype=np.float32)
    n = x.ndim - 2
    y = convolve(
        x,
        kernel,
        as_list(attrs.get("strides", 1), n),
        as_list(attrs.get("dilation_rate", 1), n),
        attrs.get("padding", "valid"),
    )
    if attrs.get("use_bias", True) and "bias" in params:
        y += np.asarray(params["bias"], dtype=np.float32)
    return [activate(attrs.get("activation", "linear"), from_channels_last(attrs, y))]


@LOWERINGS.register("Conv1DTranspose", "Conv2DTranspose")
def conv_transpose(ctx, attrs, inputs, params):
    """activation(conv_transpose(x, kernel) + bias): every input pixel scatters x @ kernel[tap].T to
    stride * position + dilation * tap of the full result, which is then cropped (or zero-extended)."""
    x = to_channels_last(attrs, np.asarray(inputs[0], dtype=np.float32))
    kernel = np.asarray(params["kernel"], dtype=np.float32)  # (*k, out, in)
    n = x.ndim - 2
    strides = as_list(attrs.get("strides", 1), n)
    dilation = as_list(attrs.get("dilation_rate", 1), n)
    window, sizes = kernel.shape[:n], x.shape[1:-1]
    geometry = transpose_geometry(attrs, sizes, window)
    full = [max((i - 1) * s + (k - 1) * d + 1, crop + o)
            for i, s, k, d, (crop, o) in zip(sizes, strides, window, dilation, geometry)]
    y = np.zeros((x.shape[0], *full, kernel.shape[-2]), dtype=np.float32)
    for tap in itertools.product(*(range(k) for k in window)):
        index = tuple(slice(t * d, t * d + (i - 1) * s + 1, s) for t, d, i, s in zip(tap, dilation, sizes, strides))
        y[(slice(None), *index)] += x @ kernel[tap].T
    y = y[(slice(None), *(slice(crop, crop + o) for crop, o in geometry))]
    if attrs.get("use_bias", True) and "bias" in params:
        y = y + np.asarray(params["bias"], dtype=np.float32)
    return [activate(attrs.get("activation", "linear"), from_channels_last(attrs, y))]


def depthwise_convolve(
    x: np.ndarray, kernel: np.ndarray, strides: list[int], dilation: list[int], padding: str
) -> np.ndarray:
    """Depthwise cross-correlation of a channels_last x (b, *spatial, c) with kernel (*k, c, m):
    output channel c*m + j is channel c convolved with kernel[..., c, j]."""
    window = kernel.shape[:x.ndim - 2]
    xp, out_sizes = _padded_input(x, window, strides, dilation, padding)
    channels, multiplier = kernel.shape[-2], kernel.shape[-1]
    out = np.zeros((x.shape[0], *out_sizes, channels, multiplier), dtype=np.float32)
    for tap in itertools.product(*(range(k) for k in window)):
        index = tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s in zip(tap, dilation, out_sizes, strides)
        )
        out += xp[(slice(None), *index)][..., None] * kernel[tap]
    return out.reshape(x.shape[0], *out_sizes, channels * multiplier)


def _depthwise_part(attrs, x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    n = x.ndim - 2
    return depthwise_convolve(x, np.asarray(kernel, dtype=np.float32), as_list(attrs.get("strides", 1), n),
                              as_list(attrs.get("dilation_rate", 1), n), attrs.get("padding", "valid"))


@LOWERINGS.register("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(ctx, attrs, inputs, params):
    """activation(depthwise_conv(x, kernel) + bias)."""
    x = to_channels_last(attrs, np.asarray(inputs[0], dtype=np.float32))
    y = _depthwise_part(attrs, x, params["kernel"])
    if attrs.get("use_bias", True) and "bias" in params:
        y += np.asarray(params["bias"], dtype=np.float32)
    return [activate(attrs.get("activation", "linear"), from_channels_last(attrs, y))]


@LOWERINGS.register("SeparableConv1D", "SeparableConv2D")
def separable_conv(ctx, attrs, inputs, params):
    """activation(pointwise(depthwise_conv(x, depthwise_kernel)) + bias): the pointwise kernel
    (1.., c*m, filters) is a matmul on the channels."""
    x = to_channels_last(attrs, np.asarray(inputs[0], dtype=np.float32))
    y = _depthwise_part(attrs, x, params["depthwise_kernel"])
    pointwise = np.asarray(params["pointwise_kernel"], dtype=np.float32)
    y = y @ pointwise.reshape(pointwise.shape[-2:])
    if attrs.get("use_bias", True) and "bias" in params:
        y += np.asarray(params["bias"], dtype=np.float32)
    return [activate(attrs.get("activation", "linear"), from_channels_last(attrs, y))]
