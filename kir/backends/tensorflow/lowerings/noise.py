"""GaussianNoise, GaussianDropout, AlphaDropout: Keras 3's formulas while training, with stateless
draws seeded like Dropout's (layer seed + step counter); identities otherwise."""

from __future__ import annotations

import math

import tensorflow as tf

from kir.backends.tensorflow.lowerings.core import concrete_noise_shape
from kir.backends.tensorflow.table import LOWERINGS

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def training_only(op: str, amount: str):
    """Register `fn(ctx, attrs, x, amount)` for `op`, run only while training with a positive
    `attrs[amount]`; the op is the identity otherwise."""

    def register(fn):
        @LOWERINGS.register(op)
        def lowering(ctx, attrs, inputs, params):
            value = float(attrs.get(amount, 0.0))
            if not ctx.training or value <= 0.0:
                return [inputs[0]]
            return [fn(ctx, attrs, inputs[0], value)]

        return fn

    return register


@training_only("GaussianNoise", "stddev")
def gaussian_noise(ctx, attrs, x, stddev):
    """x + N(0, stddev)."""
    return x + tf.random.stateless_normal(tf.shape(x), ctx.seed(attrs.get("seed")), stddev=stddev, dtype=x.dtype)


@training_only("GaussianDropout", "rate")
def gaussian_dropout(ctx, attrs, x, rate):
    """x * N(1, sqrt(rate / (1 - rate)))."""
    stddev = math.sqrt(rate / (1.0 - rate))
    return x * tf.random.stateless_normal(tf.shape(x), ctx.seed(attrs.get("seed")), mean=1.0, stddev=stddev,
                                          dtype=x.dtype)


@training_only("AlphaDropout", "rate")
def alpha_dropout(ctx, attrs, x, rate):
    """Dropped units set to SELU's negative saturation, then the affine map that keeps SELU's mean
    and variance: a * (x * keep + alpha_p * (1 - keep)) + b."""
    alpha_p = -SELU_ALPHA * SELU_SCALE
    shape = concrete_noise_shape(x, attrs.get("noise_shape"))
    uniform = tf.random.stateless_uniform(shape, ctx.seed(attrs.get("seed")), dtype=x.dtype)
    keep = tf.cast(uniform >= rate, x.dtype)
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    return a * (x * keep + alpha_p * (1 - keep)) + b
