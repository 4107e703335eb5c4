"""Activation functions as TensorFlow ops (the functions Keras 3's TF backend calls)."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS


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
