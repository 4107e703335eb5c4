"""Conv1D / Conv2D -> ONNX Conv (NCHW), with Transposes around it for channels_last inputs."""

from __future__ import annotations

import numpy as np

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings._windows import ChannelsFirst, pad_attributes
from kir.backends.onnx.lowerings.activations import activate
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops._checks import as_list

_LAST_AXIS_ACTIVATIONS = {"softmax", "log_softmax"}


def oihw(kernel: np.ndarray) -> np.ndarray:
    """Keras (*k, in, out) -> ONNX (out, in, *k)."""
    n = kernel.ndim - 2
    return np.transpose(kernel, [n + 1, n, *range(n)])


@LOWERINGS.register("Conv1D", "Conv2D")
def conv(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    spec = ctx.input_spec(0)
    n = spec.rank - 2
    layout = ChannelsFirst(ctx, spec.rank, attrs.get("data_format") == "channels_first")
    window = list(np.shape(ctx.array("kernel"))[:n])
    strides = as_list(attrs.get("strides", 1), n)
    dilation = as_list(attrs.get("dilation_rate", 1), n)
    pads = pad_attributes(layout.spatial(spec.shape), window, strides, dilation, attrs.get("padding", "valid"))
    args = [layout.enter(inputs[0]), ctx.param("kernel", oihw, "oihw")]
    if attrs.get("use_bias", True) and "bias" in params:
        args.append(params["bias"])
    y = ctx.op("Conv", *args, kernel_shape=window, strides=strides, dilations=dilation, **pads)
    act = attrs.get("activation", "linear")
    if act not in _LAST_AXIS_ACTIVATIONS:
        return [layout.leave(activate(ctx, act, y))]
    if layout.first:
        return [_channel_softmax(ctx, act, y)]
    return [activate(ctx, act, layout.leave(y))]


def _channel_softmax(ctx: OnnxContext, act: str, y: str) -> str:
    """softmax over channels of an NCHW tensor (Keras' 'last axis' is channels)."""
    op = "Softmax" if act == "softmax" else "LogSoftmax"
    return ctx.op(op, y, suffix=act, axis=1)
