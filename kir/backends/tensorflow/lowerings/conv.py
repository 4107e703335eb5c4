"""Conv1D / Conv2D (causal padding for 1-D; channels_first run through NHWC)."""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.lowerings.activations import activate
from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops._checks import as_list


def to_channels_last(attrs, x):
    if attrs.get("data_format") == "channels_first":
        return tf.transpose(x, [0, *range(2, x.shape.rank), 1])
    return x


def from_channels_last(attrs, y):
    if attrs.get("data_format") == "channels_first":
        r = y.shape.rank
        return tf.transpose(y, [0, r - 1, *range(1, r - 1)])
    return y


@LOWERINGS.register("Conv1D", "Conv2D")
def conv(ctx, attrs, inputs, params):
    x = to_channels_last(attrs, tf.cast(inputs[0], "float32"))
    kernel = params["kernel"]
    n = x.shape.rank - 2
    strides = as_list(attrs.get("strides", 1), n)
    dilation = as_list(attrs.get("dilation_rate", 1), n)
    padding = attrs.get("padding", "valid")
    if padding == "causal":
        k = int(kernel.shape[0])
        x = tf.pad(x, [[0, 0], [(k - 1) * dilation[0], 0], [0, 0]])
        padding = "valid"
    y = tf.nn.convolution(x, kernel, strides=strides, padding=padding.upper(), dilations=dilation)
    if attrs.get("use_bias", True) and "bias" in params:
        y = tf.nn.bias_add(y, params["bias"])
    return [from_channels_last(attrs, activate(attrs.get("activation"), y))]
