"""ConvLSTM1D/2D/3D as a compiled loop (Keras 3's ConvLSTMCell, gates i, f, c, o, channels_last).

Each step convolves x_t with the kernel and h with the recurrent kernel (stride 1, 'same')
inside `tf.scan`, which TensorFlow differentiates through. Batch and time may be unknown. While
training, `dropout` and `recurrent_dropout` draw Keras' masks: one per gate, the same at every
step of a batch.
"""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.lowerings.activations import activate
from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops._checks import as_list, window_output_length


def _masks(ctx, attrs, like, rate: float, salt: int) -> list | None:
    """Four inverted-dropout masks shaped like `like` (one per gate), or None outside training."""
    if not ctx.training or rate <= 0.0:
        return None
    seed = ctx.seed(attrs.get("seed"))
    ones = tf.ones_like(like)
    return [tf.nn.experimental.stateless_dropout(ones, rate, seed=seed + tf.constant([salt * 4 + g + 1, 0], "int64"))
            for g in range(4)]


def _gate_conv(x, kernel, masks, conv):
    """conv(x, kernel) with all four gates at once, or gate by gate on x times its mask."""
    if masks is None:
        return conv(x, kernel)
    f = kernel.shape[-1] // 4
    return tf.concat([conv(x * m, kernel[..., g * f:(g + 1) * f]) for g, m in enumerate(masks)], axis=-1)


@LOWERINGS.register("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], ctx.compute_dtype)
    if attrs.get("go_backwards", False):
        x = tf.reverse(x, [1])
    n = x.shape.rank - 3
    f = int(attrs["filters"])
    act, rec_act = attrs.get("activation", "tanh"), attrs.get("recurrent_activation", "sigmoid")
    strides, dilation = as_list(attrs.get("strides", 1), n), as_list(attrs.get("dilation_rate", 1), n)
    padding = attrs.get("padding", "valid").upper()
    kernel, recurrent = params["kernel"], params["recurrent_kernel"]
    bias = params["bias"] if attrs.get("use_bias", True) and "bias" in params else None

    def input_conv(v, k):
        return tf.nn.convolution(v, k, strides=strides, padding=padding, dilations=dilation)

    def recurrent_conv(v, k):
        return tf.nn.convolution(v, k, padding="SAME")

    if len(inputs) > 1:
        h0, c0 = (tf.cast(s, ctx.compute_dtype) for s in inputs[1:3])
    else:
        sizes = [window_output_length(int(size), int(k), s, d, padding.lower())
                 for size, k, s, d in zip(x.shape[2:-1], kernel.shape[:n], strides, dilation)]
        h0 = c0 = tf.zeros(tf.concat([tf.shape(x)[:1], [*sizes, f]], 0), ctx.compute_dtype)
    masks = _masks(ctx, attrs, x[:, 0], float(attrs.get("dropout", 0.0)), 0)
    rec_masks = _masks(ctx, attrs, h0, float(attrs.get("recurrent_dropout", 0.0)), 1)

    def step(states, x_t):
        h, c = states
        z = _gate_conv(x_t, kernel, masks, input_conv)
        if bias is not None:
            z = tf.nn.bias_add(z, bias)
        z = z + _gate_conv(h, recurrent, rec_masks, recurrent_conv)
        i = activate(rec_act, z[..., :f])
        forget = activate(rec_act, z[..., f: 2 * f])
        g = activate(act, z[..., 2 * f: 3 * f])
        o = activate(rec_act, z[..., 3 * f:])
        c = forget * c + i * g
        return (o * activate(act, c), c)

    # the input convolution runs inside the loop: ~10% less CPU for forward + gradient than one
    # batched convolution of all steps, whose (t, b, *s', 4f) result is 4f/c times larger than x
    hs, cs = tf.scan(step, tf.transpose(x, [1, 0, *range(2, n + 3)]), initializer=(h0, c0))
    # with zero steps the scan's stack is empty: the last state is the initial one
    h_last = tf.cond(tf.shape(hs)[0] > 0, lambda: hs[-1], lambda: h0)
    c_last = tf.cond(tf.shape(cs)[0] > 0, lambda: cs[-1], lambda: c0)
    first = tf.transpose(hs, [1, 0, *range(2, n + 3)]) if attrs.get("return_sequences", False) else h_last
    return [first] + ([h_last, c_last] if attrs.get("return_state", False) else [])
