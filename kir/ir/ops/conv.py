"""Shape rules for Conv1D/2D/3D, the 1-D/2-D transposes and the depthwise and separable 1-D/2-D
convolutions (channels_last, or channels_first after the layout pass)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import as_list, channel_axis, differ, fmt, spatial_axes, windowed_input, windowed_shape
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


def _windowed(op: str, rank: int, attrs: Mapping[str, Any], inputs: Sequence[TensorSpec]):
    """The input of a (transposed) convolution, checked, and its kernel_size, strides, dilation_rate."""
    x = windowed_input(op, inputs, attrs, rank)
    n = rank - 2
    return (x, as_list(attrs["kernel_size"], n), as_list(attrs.get("strides", 1), n),
            as_list(attrs.get("dilation_rate", 1), n))


def transpose_geometry(attrs: Mapping[str, Any], sizes: Sequence[int], window: Sequence[int]) -> list[tuple[int, int]]:
    """(crop before, output length) per spatial axis of a transposed convolution (`transpose_pads`)
    of inputs with these spatial sizes and a kernel of this window; every backend lowers with it."""
    n = len(sizes)
    value = attrs.get("output_padding")
    out_pad = [None] * n if value is None else as_list(value, n)
    strides, dilation = as_list(attrs.get("strides", 1), n), as_list(attrs.get("dilation_rate", 1), n)
    return [transpose_pads(size, k, s, d, attrs.get("padding", "valid"), p)
            for size, k, s, d, p in zip(sizes, window, strides, dilation, out_pad)]


def _check_channels(op: str, x: TensorSpec, attrs: Mapping[str, Any], kernel: tuple | None, axis: int) -> None:
    """Refuse inputs whose channels differ from the kernel's input axis (-2 for Conv, -1 transposed)."""
    channels = x.shape[channel_axis(attrs, x.rank)]
    if kernel is not None and differ(channels, kernel[axis]):
        raise ShapeError(
            f"{op} expects inputs with {kernel[axis]} channels (its kernel has shape {fmt(kernel)}), got "
            f"input shape {fmt(x)}; a built layer keeps its input channels, so call it on tensors "
            f"with {kernel[axis]} channels or use a new {op} layer"
        )


def _conv_rule(op: str, rank: int):
    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        x, kernel_size, strides, dilation = _windowed(op, rank, attrs, inputs)
        filters = int(attrs["filters"])
        if attrs.get("padding") == "causal" and op != "Conv1D":
            raise ShapeError(f"{op} does not support padding='causal'; use 'valid' or 'same'")
        _check_channels(op, x, attrs, params.get("kernel"), -2)
        shape = windowed_shape(op, x, attrs, kernel_size, strides, dilation, filters, "kernel_size")
        return [TensorSpec(shape, "float32")]

    return rule


shape_rule("Conv1D")(_conv_rule("Conv1D", 3))
shape_rule("Conv2D")(_conv_rule("Conv2D", 4))
shape_rule("Conv3D")(_conv_rule("Conv3D", 5))


def transpose_pads(size: int, k: int, s: int, d: int, padding: str, output_padding: int | None) -> tuple[int, int]:
    """(crop before, output length) of a transposed convolution along one axis, as Keras 3 computes it:
    the full result has length (size-1)*s + span; the output starts `crop` into it and may run past
    its end (zeros there, bias only) when output_padding asks for more."""
    span = (k - 1) * d + 1
    if padding == "valid":
        extra = max(span, s) - span if output_padding is None else output_padding
        left, right = span - 1, span - 1 + extra
    else:
        total = s + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, span - 1)
        right = total - left
    return span - 1 - left, (size - 1) * s + left + right - span + 2


def _conv_transpose_rule(op: str, rank: int):
    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        x, kernel_size, _, _ = _windowed(op, rank, attrs, inputs)
        padding = attrs.get("padding", "valid")
        if padding not in ("valid", "same"):
            raise ShapeError(f"{op} padding must be 'valid' or 'same', got '{padding}'")
        _check_channels(op, x, attrs, params.get("kernel"), -1)
        shape = list(x.shape)
        axes = spatial_axes(attrs, x.rank)
        geometry = transpose_geometry(attrs, [x.shape[a] or 1 for a in axes], kernel_size)
        for axis, (_, length) in zip(axes, geometry):
            if x.shape[axis] is not None:
                if length <= 0:
                    raise ShapeError(f"{op} output would have size {length} on axis {axis} for input {fmt(x)}")
                shape[axis] = length
        shape[channel_axis(attrs, x.rank)] = int(attrs["filters"])
        return [TensorSpec(tuple(shape), "float32")]

    return rule


shape_rule("Conv1DTranspose")(_conv_transpose_rule("Conv1DTranspose", 3))
shape_rule("Conv2DTranspose")(_conv_transpose_rule("Conv2DTranspose", 4))


def _depthwise_rule(op: str, rank: int, separable: bool):
    """DepthwiseConv: each input channel convolved with its own `depth_multiplier` filters (channels
    in * multiplier, channel c*multiplier + m); SeparableConv: that, then a 1x1 conv to `filters`."""

    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        x, kernel_size, strides, dilation = _windowed(op, rank, attrs, inputs)
        if attrs.get("padding", "valid") not in ("valid", "same"):
            raise ShapeError(f"{op} padding must be 'valid' or 'same', got '{attrs.get('padding')}'")
        channels = x.shape[channel_axis(attrs, x.rank)]
        multiplier = int(attrs.get("depth_multiplier", 1))
        kernel = params.get("depthwise_kernel" if separable else "kernel")
        if kernel is not None and differ(channels, kernel[-2]):
            raise ShapeError(
                f"{op} expects inputs with {kernel[-2]} channels (its depthwise kernel has shape {fmt(kernel)}), "
                f"got input shape {fmt(x)}; a built layer keeps its input channels, so call it on tensors "
                f"with {kernel[-2]} channels or use a new {op} layer"
            )
        if separable:
            out = int(attrs["filters"])
        else:
            out = None if channels is None else channels * multiplier
        shape = windowed_shape(op, x, attrs, kernel_size, strides, dilation, out, "kernel_size")
        return [TensorSpec(shape, "float32")]

    return rule


DEPTHWISE_OPS = ("DepthwiseConv1D", "DepthwiseConv2D")
SEPARABLE_OPS = ("SeparableConv1D", "SeparableConv2D")
for _n, _op in enumerate(DEPTHWISE_OPS):
    shape_rule(_op)(_depthwise_rule(_op, _n + 3, separable=False))
for _n, _op in enumerate(SEPARABLE_OPS):
    shape_rule(_op)(_depthwise_rule(_op, _n + 3, separable=True))
