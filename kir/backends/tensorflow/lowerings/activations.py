"""Activation functions as TensorFlow ops (the functions Keras 3's TF backend calls)."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops.activations import softmax_axes


def _mish(x):
    return x * tf.math.tanh(tf.math.softplus(x))


def _hard_sigmoid(x):
    return tf.nn.relu6(x + 3.0) / 6.0


ACTIVATIONS: dict[str, Callable] = {
    "linear": lambda x: x,
    "relu": tf.nn.relu,
    "relu6": tf.nn.relu6,
    "sigmoid": tf.nn.sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "softmax": lambda x: tf.nn.softmax(x, axis=-1),
    "log_softmax": lambda x: tf.nn.log_softmax(x, axis=-1),
    "tanh": tf.nn.tanh,
    "elu": tf.nn.elu,
    "selu": tf.nn.selu,
    "softplus": tf.math.softplus,
    "softsign": tf.nn.softsign,
    "exponential": tf.math.exp,
    "swish": tf.nn.silu,
    "silu": tf.nn.silu,
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),
    "leaky_relu": lambda x: tf.nn.leaky_relu(x, alpha=0.2),
    "mish": _mish,
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "log_sigmoid": tf.math.log_sigmoid,
    "hard_tanh": lambda x: tf.clip_by_value(x, -1.0, 1.0),
    "celu": lambda x: tf.maximum(x, 0.0) + tf.math.expm1(tf.minimum(x, 0.0)),
    "tanh_shrink": lambda x: x - tf.math.tanh(x),
    "squareplus": lambda x: (x + tf.sqrt(tf.square(x) + 4.0)) / 2,
    "sparse_plus": lambda x: tf.where(x <= -1, tf.zeros_like(x), tf.where(x < 1, 0.25 * tf.square(x + 1), x)),
    "soft_shrink": lambda x: tf.where(x > 0.5, x - 0.5, tf.where(x < -0.5, x + 0.5, tf.zeros_like(x))),
    "hard_shrink": lambda x: tf.where(tf.abs(x) > 0.5, x, tf.zeros_like(x)),
}


def activate(name: str | None, x):
    """Apply a named Keras activation. Softmax/Sigmoid stay the last op so crossentropy losses
    can use the logits exactly as Keras does."""
    return ACTIVATIONS[name or "linear"](x)


@LOWERINGS.register("Activation")
def activation(ctx, attrs, inputs, params):
    return [activate(attrs["activation"], inputs[0])]


@LOWERINGS.register("ELU")
def elu(ctx, attrs, inputs, params):
    """Keras 3's TensorFlow elu: tf.nn.elu, its negative part scaled by alpha."""
    y = tf.nn.elu(inputs[0])
    alpha = float(attrs.get("alpha", 1.0))
    return [y if alpha == 1.0 else tf.where(inputs[0] > 0, y, alpha * y)]


def relu_with(x, negative_slope: float, max_value: float | None, threshold: float):
    """Keras' relu(x, negative_slope, max_value, threshold) (its TensorFlow backend's ops)."""
    if threshold == 0.0 and max_value is None:
        return tf.nn.relu(x) if negative_slope == 0.0 else tf.nn.leaky_relu(x, alpha=negative_slope)
    above = x if max_value is None else tf.minimum(x, max_value)
    return tf.where(x > threshold, above, negative_slope * (x - threshold))


@LOWERINGS.register("ReLU")
def relu(ctx, attrs, inputs, params):
    return [relu_with(inputs[0], float(attrs.get("negative_slope", 0.0)), attrs.get("max_value"),
                      float(attrs.get("threshold", 0.0)))]


@LOWERINGS.register("PReLU")
def prelu(ctx, attrs, inputs, params):
    """relu(x) - alpha * relu(-x), as Keras' PReLU.call."""
    x = inputs[0]
    return [tf.nn.relu(x) - params["alpha"] * tf.nn.relu(-x)]


@LOWERINGS.register("Softmax")
def softmax(ctx, attrs, inputs, params):
    """tf.nn.softmax on one axis; exp(x - logsumexp) over several, as Keras' Softmax layer."""
    x = inputs[0]
    axes = softmax_axes(attrs, x.shape.rank)
    if len(axes) == 1:
        return [tf.nn.softmax(x, axis=axes[0])]
    return [tf.exp(x - tf.reduce_logsumexp(x, axis=axes, keepdims=True))]
