"""Math primitives of traced code: Constant, Param (the variable, so traced weights train),
Unary, Binary, Cast, Where, Clip, Reduce, MatMul, RandomNormal (while training stateless: the
vertex's seed, or a hash of its path, plus the training step)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kir.backends.tensorflow.lowerings.array import dims
from kir.backends.tensorflow.table import LOWERINGS

UNARY = {
    "negative": tf.negative, "abs": tf.abs, "square": tf.square, "sqrt": tf.sqrt, "exp": tf.exp, "log": tf.math.log,
    "log1p": tf.math.log1p, "sign": tf.sign, "round": tf.round, "floor": tf.floor, "ceil": tf.math.ceil,
    "sin": tf.sin, "cos": tf.cos, "tanh": tf.tanh, "sigmoid": tf.sigmoid, "softplus": tf.nn.softplus,
    "relu": tf.nn.relu, "softsign": tf.nn.softsign, "logical_not": tf.logical_not,
}
BINARY = {
    "add": tf.add, "subtract": tf.subtract, "multiply": tf.multiply, "divide": tf.divide, "power": tf.pow,
    "maximum": tf.maximum, "minimum": tf.minimum, "equal": tf.equal, "not_equal": tf.not_equal,
    "greater": tf.greater, "greater_equal": tf.greater_equal, "less": tf.less, "less_equal": tf.less_equal,
    "logical_and": tf.logical_and, "logical_or": tf.logical_or,
}
REDUCE = {"sum": tf.reduce_sum, "mean": tf.reduce_mean, "max": tf.reduce_max, "min": tf.reduce_min,
          "prod": tf.reduce_prod}


@LOWERINGS.register("Constant")
def constant(ctx, attrs, inputs, params):
    value = np.asarray(attrs["value"], dtype=attrs["dtype"]).reshape([int(d) for d in attrs["shape"]])
    return [tf.constant(value)]


@LOWERINGS.register("Param")
def param(ctx, attrs, inputs, params):
    return [tf.convert_to_tensor(params["value"])]


@LOWERINGS.register("Unary")
def unary(ctx, attrs, inputs, params):
    return [UNARY[attrs["fn"]](inputs[0])]


@LOWERINGS.register("Binary")
def binary(ctx, attrs, inputs, params):
    return [BINARY[attrs["fn"]](inputs[0], inputs[1])]


@LOWERINGS.register("Cast")
def cast(ctx, attrs, inputs, params):
    return [tf.cast(inputs[0], attrs["dtype"])]


@LOWERINGS.register("Where")
def where(ctx, attrs, inputs, params):
    return [tf.where(*inputs)]


@LOWERINGS.register("Clip")
def clip(ctx, attrs, inputs, params):
    x = inputs[0]
    return [tf.clip_by_value(x, tf.cast(attrs["min"], x.dtype), tf.cast(attrs["max"], x.dtype))]


@LOWERINGS.register("Reduce")
def reduce(ctx, attrs, inputs, params):
    axis = attrs.get("axis")
    return [REDUCE[attrs["fn"]](inputs[0], axis=None if axis is None else [int(a) for a in axis],
                                keepdims=bool(attrs.get("keepdims", False)))]


@LOWERINGS.register("MatMul")
def matmul(ctx, attrs, inputs, params):
    return [tf.linalg.matmul(inputs[0], inputs[1])]


@LOWERINGS.register("RandomNormal")
def random_normal(ctx, attrs, inputs, params):
    """Training: stateless draws seeded by the vertex (its seed, or its path) and the step.
    Predicting: fresh draws on every run (every batch), or the seed's, always the same."""
    shape = dims(attrs["shape"], inputs, ctx.vertex.outputs[0].shape)
    seed = attrs.get("seed")
    options = {"mean": float(attrs.get("mean", 0.0)), "stddev": float(attrs.get("stddev", 1.0)),
               "dtype": attrs.get("dtype", "float32")}
    if ctx.training or seed is not None:
        return [tf.random.stateless_normal(shape, ctx.seed(seed), **options)]
    return [tf.random.normal(shape, **options)]
