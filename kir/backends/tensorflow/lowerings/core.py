"""Core ops: Dense, Dropout (seeded, training only), Identity, Flatten, Reshape, ReshapeFull,
Permute, Transpose, RepeatVector, Embedding."""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.lowerings.activations import activate
from kir.backends.tensorflow.table import LOWERINGS


def matmul_last(x, kernel):
    """x (..., in) @ kernel (in, out): a plain matmul for rank 2, tensordot for higher ranks."""
    if x.shape.rank == 2:
        return tf.matmul(x, kernel)
    return tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]])


@LOWERINGS.register("Dense")
def dense(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], ctx.compute_dtype)
    y = matmul_last(x, params["kernel"])
    if attrs.get("use_bias", True) and "bias" in params:
        y = tf.nn.bias_add(y, params["bias"])
    return [activate(attrs.get("activation"), y)]


@LOWERINGS.register("Identity")
def identity(ctx, attrs, inputs, params):
    return [inputs[0]]


@LOWERINGS.register("Dropout")
def dropout(ctx, attrs, inputs, params):
    """Inverted dropout with a stateless seed (layer seed + step counter) while training."""
    x = inputs[0]
    rate = float(attrs.get("rate", 0.0))
    if not ctx.training or rate <= 0.0:
        return [x]
    noise_shape = attrs.get("noise_shape")
    if noise_shape is not None:
        noise_shape = concrete_noise_shape(x, noise_shape)
    return [tf.nn.experimental.stateless_dropout(x, rate, seed=ctx.seed(attrs.get("seed")),
                                                 noise_shape=noise_shape)]


def concrete_noise_shape(x, noise_shape):
    """A noise_shape attr (None entries: x's dims there; None: x's shape) as a shape tensor."""
    dyn = tf.shape(x)
    if noise_shape is None:
        return dyn
    return tf.stack([dyn[i] if d is None else tf.constant(int(d), dyn.dtype) for i, d in enumerate(noise_shape)])


@LOWERINGS.register("ByMode")
def by_mode(ctx, attrs, inputs, params):
    """A traced `if training:`: the training value while training, else the inference value."""
    return [inputs[1] if ctx.training else inputs[0]]


@LOWERINGS.register("Flatten")
def flatten(ctx, attrs, inputs, params):
    x = inputs[0]
    if attrs.get("data_format") == "channels_first" and x.shape.rank > 2:
        x = tf.transpose(x, [0, *range(2, x.shape.rank), 1])
    size = 1
    for d in x.shape[1:]:
        size *= int(d)
    return [tf.reshape(x, [-1, size])]


@LOWERINGS.register("ReshapeFull")
def reshape_full(ctx, attrs, inputs, params):
    """0 copies the input dim at that index, one -1 is inferred (ONNX Reshape semantics)."""
    x = inputs[0]
    target = [int(d) for d in attrs["shape"]]
    if 0 not in target:
        return [tf.reshape(x, target)]
    dims = tf.shape(x)
    return [tf.reshape(x, tf.stack([dims[i] if d == 0 else tf.constant(d, tf.int32) for i, d in enumerate(target)]))]


@LOWERINGS.register("Reshape")
def reshape(ctx, attrs, inputs, params):
    x = inputs[0]
    target = [int(d) for d in attrs["target_shape"]]
    if -1 in target:
        return [tf.reshape(x, tf.concat([tf.shape(x)[:1], tf.constant(target, tf.int32)], 0))]
    return [tf.reshape(x, [-1, *target])]


@LOWERINGS.register("Permute")
def permute(ctx, attrs, inputs, params):
    return [tf.transpose(inputs[0], [0, *(int(d) for d in attrs["dims"])])]


@LOWERINGS.register("Transpose")
def transpose(ctx, attrs, inputs, params):
    return [tf.transpose(inputs[0], [int(p) for p in attrs["perm"]])]


@LOWERINGS.register("RepeatVector")
def repeat_vector(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], ctx.compute_dtype)
    return [tf.repeat(tf.expand_dims(x, 1), int(attrs["n"]), axis=1)]


@LOWERINGS.register("Embedding")
def embedding(ctx, attrs, inputs, params):
    ids = inputs[0]
    if ids.dtype not in (tf.int32, tf.int64):
        ids = tf.cast(ids, "int32")
    return [tf.gather(params["embeddings"], ids)]
