"""BatchNormalization (batch statistics and Keras moving-average updates while training) and
LayerNormalization (Keras 3's formula)."""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS


def _shape_for(x, axes: list[int], v):
    shape = [1] * x.shape.rank
    for a, size in zip(axes, v.shape):
        shape[a] = int(size)
    return shape


@LOWERINGS.register("BatchNormalization")
def batch_norm(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], "float32")
    axis = int(attrs.get("axis", x.shape.rank - 1))
    eps = float(attrs.get("epsilon", 1e-3))
    momentum = float(attrs.get("momentum", 0.99))
    moving_mean, moving_var = params["moving_mean"], params["moving_variance"]
    gamma = params.get("gamma") if attrs.get("scale", True) else None
    beta = params.get("beta") if attrs.get("center", True) else None
    if ctx.training and ctx.layer_trainable:
        reduce_axes = [i for i in range(x.shape.rank) if i != axis]
        mean, var = tf.nn.moments(x, reduce_axes)
        moving_mean.assign(moving_mean * momentum + mean * (1.0 - momentum))
        moving_var.assign(moving_var * momentum + var * (1.0 - momentum))
    else:
        mean, var = tf.convert_to_tensor(moving_mean), tf.convert_to_tensor(moving_var)
    if axis != x.shape.rank - 1:
        shape = _shape_for(x, [axis], mean)
        mean, var = tf.reshape(mean, shape), tf.reshape(var, shape)
        gamma = None if gamma is None else tf.reshape(gamma, shape)
        beta = None if beta is None else tf.reshape(beta, shape)
    # Keras computes BatchNormalization in float32 under a mixed policy, output in the compute dtype
    return [tf.cast(tf.nn.batch_normalization(x, mean, var, beta, gamma, eps), ctx.compute_dtype)]


@LOWERINGS.register("LayerNormalization")
def layer_norm(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], "float32")
    raw = attrs.get("axis", [x.shape.rank - 1])
    axes = sorted(int(a) for a in ([raw] if isinstance(raw, int) else raw))
    eps = float(attrs.get("epsilon", 1e-3))
    mean, var = tf.nn.moments(x, axes, keepdims=True)
    inv = tf.math.rsqrt(var + eps)
    bshape = [1] * x.shape.rank
    for a in axes:
        bshape[a] = int(x.shape[a])
    if attrs.get("scale", True) and "gamma" in params:
        inv = inv * tf.reshape(params["gamma"], bshape)
    res = -mean * inv
    if attrs.get("center", True) and "beta" in params:
        res = res + tf.reshape(params["beta"], bshape)
    return [tf.cast(x * inv + res, ctx.compute_dtype)]  # float32 inside, as Keras
