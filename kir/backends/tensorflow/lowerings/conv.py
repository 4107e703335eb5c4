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
    x = to_channels_last(attrs, tf.cast(inputs[0], ctx.compute_dtype))
    kernel = params["kernel"]
    n = x.shape.rank - 2
    strides = as_list(attrs.get("strides", 1), n)
    dilation = as_list(attrs.get("dilation_rate", 1), n)
    padding = attrs.get("padding", "valid")
    if padding == "causal":
        k = int(kernel.shape[0])
        x = tf.pad(x, [[0, 0], [(k - 1) * dilation[0], 0], [0, 0]])
        padding = "valid"
    x = _pad_channels_apart(x)
    if _onednn_affected(x, kernel, strides, dilation, padding):
        x, kernel = _zero_channel(x, kernel)
    y = tf.nn.convolution(x, kernel, strides=strides, padding=padding.upper(), dilations=dilation)
    if attrs.get("use_bias", True) and "bias" in params:
        y = tf.nn.bias_add(y, params["bias"])
    return [activate(attrs.get("activation"), from_channels_last(attrs, y))]


def _onednn_affected(x, kernel, strides, dilation, padding: str) -> bool:
    """Whether TensorFlow 2.21's oneDNN CPU conv2d/conv3d may compute this conv wrong: 1 input
    channel, a stride > 1 along the last spatial axis (the width) and an output width of 1 (off by
    ~0.5 for batches > 1; a sweep over batch, sizes, kernel, strides, dilation and padding found
    every wrong case inside this family; Conv1D is not affected). An unknown width counts as
    affected, as the batch (usually unknown) does."""
    rank = x.shape.rank
    if rank not in (4, 5) or int(kernel.shape[-2]) != 1 or strides[-1] < 2:
        return False
    width = x.shape[rank - 2]
    if width is None:
        return True
    span = (int(kernel.shape[rank - 3]) - 1) * dilation[-1] + 1
    out = -(-width // strides[-1]) if padding == "same" else (width - span) // strides[-1] + 1
    return out == 1


def _pad_channels_apart(x):
    """TensorFlow 2.21's oneDNN fuses a Pad into the Conv2D it feeds and drops the padding of the
    channel axis ('input depth must be evenly divisible by filter depth'; e.g. a channels_first
    ZeroPadding2D, which pads the last axis, before a channels_last Conv2D). Such a pad is redone
    with the channels padded by concatenation, which the fusion leaves alone."""
    op = getattr(x, "op", None) if not tf.executing_eagerly() else None
    if op is None or op.type != "Pad":
        return x
    pads = tf.get_static_value(op.inputs[1])
    if pads is None or not pads[-1].any():
        return x
    source = op.inputs[0]
    dims = tf.shape(source)

    def zeros(n: int):
        return tf.zeros(tf.concat([dims[:-1], [n]], 0), source.dtype)

    before, after = int(pads[-1][0]), int(pads[-1][1])
    y = tf.concat([zeros(before)] * bool(before) + [source] + [zeros(after)] * bool(after), axis=-1)
    rest = pads.copy()
    rest[-1] = [0, 0]
    return tf.pad(y, rest) if rest.any() else y


def _zero_channel(x, kernel):
    """The same convolution with a second, all-zero input channel (and zero kernel slice): the
    result is exactly equal (0 * 0 adds +0.0) and oneDNN takes its correct multi-channel path."""
    return (tf.concat([x, tf.zeros_like(x)], axis=-1),
            tf.concat([kernel, tf.zeros_like(kernel)], axis=-2))


@LOWERINGS.register("Conv1DTranspose", "Conv2DTranspose")
def conv_transpose(ctx, attrs, inputs, params):
    """The full transposed convolution (VALID), then Keras' crop (or zero extension) of it. Crop and
    extension do not depend on the input size, so spatial dims may be unknown."""
    x = to_channels_last(attrs, tf.cast(inputs[0], ctx.compute_dtype))
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
    return [activate(attrs.get("activation"), from_channels_last(attrs, y))]



def _same_pads(x, window: list[int], strides: list[int], dilation: list[int]):
    """x (NHWC) padded as 'same' would pad it (the odd pixel after), for a VALID conv."""
    sizes = tf.shape(x)[1:-1]
    pads = [[0, 0]]
    for i, (k, s, d) in enumerate(zip(window, strides, dilation)):
        total = tf.maximum(((sizes[i] + s - 1) // s - 1) * s + (k - 1) * d + 1 - sizes[i], 0)
        pads.append([total // 2, total - total // 2])
    return tf.pad(x, [*pads, [0, 0]])


def depthwise_2d(x, kernel, strides: list[int], dilation: list[int], padding: str):
    """tf.nn.depthwise_conv2d on NHWC x; strides and dilation both > 1 (which it refuses) run as
    the dilated conv at stride 1, subsampled, as Keras' TensorFlow backend does."""
    if max(strides) > 1 and max(dilation) > 1:
        if padding == "same":
            x = _same_pads(x, [int(k) for k in kernel.shape[:2]], strides, dilation)
        y = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "VALID", dilations=dilation)
        return y[:, :: strides[0], :: strides[1], :]
    return tf.nn.depthwise_conv2d(x, kernel, [1, *strides, 1], padding.upper(), dilations=dilation)


def _depthwise_part(attrs, x, kernel):
    """The depthwise convolution of channels_last x (1-D through a unit height axis, as Keras)."""
    n = x.shape.rank - 2
    strides, dilation = as_list(attrs.get("strides", 1), n), as_list(attrs.get("dilation_rate", 1), n)
    padding = attrs.get("padding", "valid")
    if n == 1:
        y = depthwise_2d(tf.expand_dims(x, 1), tf.expand_dims(kernel, 0), strides * 2, [1, *dilation], padding)
        return tf.squeeze(y, 1)
    return depthwise_2d(x, kernel, strides, dilation, padding)


def _finish(attrs, params, y):
    if attrs.get("use_bias", True) and "bias" in params:
        y = tf.nn.bias_add(y, params["bias"])
    return [activate(attrs.get("activation"), from_channels_last(attrs, y))]


@LOWERINGS.register("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(ctx, attrs, inputs, params):
    x = to_channels_last(attrs, tf.cast(inputs[0], ctx.compute_dtype))
    return _finish(attrs, params, _depthwise_part(attrs, x, params["kernel"]))


@LOWERINGS.register("SeparableConv1D", "SeparableConv2D")
def separable_conv(ctx, attrs, inputs, params):
    """The depthwise convolution, then the 1x1 pointwise one (what tf.nn.separable_conv2d runs)."""
    x = to_channels_last(attrs, tf.cast(inputs[0], ctx.compute_dtype))
    y = _depthwise_part(attrs, x, params["depthwise_kernel"])
    pointwise = params["pointwise_kernel"]
    y = tf.nn.convolution(y, pointwise, padding="VALID")
    return _finish(attrs, params, y)
