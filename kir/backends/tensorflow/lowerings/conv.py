"""Conv1D / Conv2D / Conv3D (causal padding for 1-D; channels_first run through NHWC) and their transposes."""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.lowerings.activations import activate
from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops._checks import as_list
from kir.ir.ops.conv import transpose_geometry


def to_channels_last(attrs, x):
    if attrs.get("data_format") == "channels_first":
        return tf.transpose(x, [0, *range(2, x.shape.rank), 1])
    return x


def from_channels_last(attrs, y):
    if attrs.get("data_format") == "channels_first":
        r = y.shape.rank
        return tf.transpose(y, [0, r - 1, *range(1, r - 1)])
    return y


@LOWERINGS.register("Conv1D", "Conv2D", "Conv3D")
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


@LOWERINGS.register("Conv1DTranspose", "Conv2DTranspose")
def conv_transpose(ctx, attrs, inputs, params):
    """The full transposed convolution (VALID), then Keras' crop (or zero extension) of it. Crop and
    extension do not depend on the input size, so spatial dims may be unknown."""
    x = to_channels_last(attrs, tf.cast(inputs[0], "float32"))
    kernel = params["kernel"]  # (*k, out, in)
    n = x.shape.rank - 2
    strides = as_list(attrs.get("strides", 1), n)
    dilation = as_list(attrs.get("dilation_rate", 1), n)
    window = [int(k) for k in kernel.shape[:n]]
    dims = tf.shape(x)
    shape, pads, crops = [dims[0]], [[0, 0]], [slice(None)]
    # on an input of size 1 the full result is the kernel's span and the output `length` long
    for i, ((crop, length), k, s, d) in enumerate(zip(transpose_geometry(attrs, [1] * n, window), window,
                                                      strides, dilation)):
        span = (k - 1) * d + 1
        shape.append((dims[1 + i] - 1) * s + span)
        extend = max(crop + length - span, 0)
        pads.append([0, extend])
        tail = span + extend - crop - length  # positions cropped at the end, the same for every size
        crops.append(slice(crop, -tail if tail else None))
    shape.append(tf.constant(int(kernel.shape[-2]), dims.dtype))
    y = tf.nn.conv_transpose(x, kernel, tf.stack(shape), strides=strides, padding="VALID", dilations=dilation)
    y = tf.pad(y, [*pads, [0, 0]])[tuple(crops)]
    if attrs.get("use_bias", True) and "bias" in params:
        y = tf.nn.bias_add(y, params["bias"])
    return [from_channels_last(attrs, activate(attrs.get("activation"), y))]
