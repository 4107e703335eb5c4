"""Conv1D / Conv2D / Conv3D -> ONNX Conv and the transposes -> ConvTranspose (NCHW), with Transposes
around them for channels_last inputs."""

from __future__ import annotations

import numpy as np

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings._windows import ChannelsFirst, pad_attributes
from kir.backends.onnx.lowerings.activations import activate
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops._checks import as_list
from kir.ir.ops.conv import transpose_geometry

_LAST_AXIS_ACTIVATIONS = {"softmax", "log_softmax"}


def oihw(kernel: np.ndarray) -> np.ndarray:
    """Keras (*k, in, out) -> ONNX Conv (out, in, *k); the same permutation takes a transposed
    convolution's Keras (*k, out, in) to ONNX ConvTranspose's (in, out, *k)."""
    n = kernel.ndim - 2
    return np.transpose(kernel, [n + 1, n, *range(n)])


def _window(ctx: OnnxContext, attrs: Attrs) -> tuple[ChannelsFirst, list[int], list[int], list[int]]:
    """The layout helper, kernel window, strides and dilations of the current (transposed) conv."""
    spec = ctx.input_spec(0)
    n = spec.rank - 2
    layout = ChannelsFirst(ctx, spec.rank, attrs.get("data_format") == "channels_first")
    window = list(np.shape(ctx.array("kernel"))[:n])
    return layout, window, as_list(attrs.get("strides", 1), n), as_list(attrs.get("dilation_rate", 1), n)


@LOWERINGS.register("Conv1D", "Conv2D", "Conv3D")
def conv(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    layout, window, strides, dilation = _window(ctx, attrs)
    pads = pad_attributes(layout.spatial(ctx.input_spec(0).shape), window, strides, dilation,
                          attrs.get("padding", "valid"))
    args = [layout.enter(inputs[0]), ctx.param("kernel", oihw, "oihw")]
    if attrs.get("use_bias", True) and "bias" in params:
        args.append(params["bias"])
    y = ctx.op("Conv", *args, kernel_shape=window, strides=strides, dilations=dilation, **pads)
    return [_activate_and_leave(ctx, layout, attrs.get("activation", "linear"), y)]


def _activate_and_leave(ctx: OnnxContext, layout: ChannelsFirst, act: str, y: str) -> str:
    """The activation on an NCHW result, back to the op's layout. Softmax runs over the last axis of
    the op's own layout, as Keras applies it: the channels for channels_last, the width for
    channels_first."""
    if act not in _LAST_AXIS_ACTIVATIONS:
        return layout.leave(activate(ctx, act, y))
    return activate(ctx, act, layout.leave(y))


@LOWERINGS.register("Conv1DTranspose", "Conv2DTranspose")
def conv_transpose(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """ConvTranspose with explicit pads (Keras' crop of the full result; they do not depend on the
    input size) and output_padding where Keras' output runs past the full result."""
    layout, window, strides, dilation = _window(ctx, attrs)
    before, after, extra = [], [], []
    # any input size gives the same crop; size 1 gives the full length `span` and output `length`
    for (crop, length), k, d in zip(transpose_geometry(attrs, [1] * len(window), window), window, dilation):
        tail = (k - 1) * d + 1 - crop - length
        before.append(crop)
        after.append(max(tail, 0))
        extra.append(max(-tail, 0))
    args = [layout.enter(inputs[0]), ctx.param("kernel", oihw, "iohw")]
    if attrs.get("use_bias", True) and "bias" in params:
        args.append(params["bias"])
    y = ctx.op("ConvTranspose", *args, kernel_shape=window, strides=strides, dilations=dilation,
               pads=before + after, output_padding=extra)
    return [_activate_and_leave(ctx, layout, attrs.get("activation", "linear"), y)]


def grouped_oihw(kernel: np.ndarray) -> np.ndarray:
    """Keras depthwise (*k, in, multiplier) -> ONNX grouped Conv weight (in*multiplier, 1, *k); output
    channel c*multiplier + m stays channel c's m-th filter, as Keras orders them."""
    n = kernel.ndim - 2
    return oihw(kernel.reshape(*kernel.shape[:n], 1, kernel.shape[-2] * kernel.shape[-1]))


def _depthwise(ctx: OnnxContext, attrs: Attrs, x: str, role: str, bias: str | None) -> tuple[ChannelsFirst, str]:
    """A Conv with group = input channels on the NCHW input: the layout helper and its result."""
    spec = ctx.input_spec(0)
    n = spec.rank - 2
    layout = ChannelsFirst(ctx, spec.rank, attrs.get("data_format") == "channels_first")
    kernel = ctx.array(role)
    window, strides = list(kernel.shape[:n]), as_list(attrs.get("strides", 1), n)
    dilation = as_list(attrs.get("dilation_rate", 1), n)
    pads = pad_attributes(layout.spatial(spec.shape), window, strides, dilation, attrs.get("padding", "valid"))
    args = [layout.enter(x), ctx.param(role, grouped_oihw, "grouped_oihw")] + ([bias] if bias else [])
    y = ctx.op("Conv", *args, suffix="depthwise", group=int(kernel.shape[-2]), kernel_shape=window,
               strides=strides, dilations=dilation, **pads)
    return layout, y


@LOWERINGS.register("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    bias = params["bias"] if attrs.get("use_bias", True) and "bias" in params else None
    layout, y = _depthwise(ctx, attrs, inputs[0], "kernel", bias)
    return [_activate_and_leave(ctx, layout, attrs.get("activation", "linear"), y)]


@LOWERINGS.register("SeparableConv1D", "SeparableConv2D")
def separable_conv(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """The grouped (depthwise) Conv, then a 1x1 Conv with the pointwise kernel and the bias."""
    layout, y = _depthwise(ctx, attrs, inputs[0], "depthwise_kernel", None)
    pointwise = ctx.array("pointwise_kernel")
    args = [y, ctx.param("pointwise_kernel", oihw, "oihw")]
    if attrs.get("use_bias", True) and "bias" in params:
        args.append(params["bias"])
    y = ctx.op("Conv", *args, suffix="pointwise", kernel_shape=[1] * (pointwise.ndim - 2))
    return [_activate_and_leave(ctx, layout, attrs.get("activation", "linear"), y)]
