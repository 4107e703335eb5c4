"""Rescaling and Normalization as TensorFlow ops (Keras 3's formulas; the statistics are
non-trainable variables when adapted)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops.preprocessing import NORMALIZATION_EPSILON, broadcast_shape


@LOWERINGS.register("Rescaling")
def rescaling(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], ctx.compute_dtype)
    scale = tf.constant(np.asarray(attrs.get("scale", 1.0)), ctx.compute_dtype)
    offset = tf.constant(np.asarray(attrs.get("offset", 0.0)), ctx.compute_dtype)
    return [x * scale + offset]


@LOWERINGS.register("Normalization")
def normalization(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], "float32")
    shape = broadcast_shape(attrs)
    if "mean" in params:
        mean = tf.reshape(tf.cast(params["mean"], "float32"), shape)
        variance = tf.reshape(tf.cast(params["variance"], "float32"), shape)
    else:
        mean = tf.constant(np.asarray(attrs["mean"], np.float32).reshape(shape))
        variance = tf.constant(np.asarray(attrs["variance"], np.float32).reshape(shape))
    std = tf.maximum(tf.sqrt(variance), NORMALIZATION_EPSILON)
    y = mean + x * std if attrs.get("invert") else (x - mean) / std
    return [tf.cast(y, ctx.compute_dtype)]  # float32 inside (FLOAT32_OPS), output in the compute dtype
