"""Numpy lowerings of the math primitives of traced code: Constant, Param, Unary, Binary, Cast,
Where, Clip, Reduce, MatMul, RandomNormal (the reference semantics; see kir/ir/ops/math.py).
Results keep their input dtype (float32 stays float32, an int32 sum stays int32)."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.lowerings.array import dims
from kir.backends.numpy.table import LOWERINGS


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


UNARY = {
    "negative": np.negative, "abs": np.abs, "square": np.square, "sqrt": np.sqrt, "exp": np.exp, "log": np.log,
    "log1p": np.log1p, "sign": np.sign, "round": np.round, "floor": np.floor, "ceil": np.ceil, "sin": np.sin,
    "cos": np.cos, "tanh": np.tanh, "sigmoid": _sigmoid, "softplus": lambda x: np.logaddexp(x.dtype.type(0), x),
    "relu": lambda x: np.maximum(x, x.dtype.type(0)), "softsign": lambda x: x / (1 + np.abs(x)),
    "logical_not": np.logical_not,
}
BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide, "power": np.power,
    "maximum": np.maximum, "minimum": np.minimum, "equal": np.equal, "not_equal": np.not_equal,
    "greater": np.greater, "greater_equal": np.greater_equal, "less": np.less, "less_equal": np.less_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or,
}
REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}


@LOWERINGS.register("Constant")
def constant(ctx, attrs, inputs, params):
    return [np.asarray(attrs["value"], dtype=attrs["dtype"]).reshape([int(d) for d in attrs["shape"]])]


@LOWERINGS.register("Param")
def param(ctx, attrs, inputs, params):
    return [np.asarray(params["value"])]


@LOWERINGS.register("Unary")
def unary(ctx, attrs, inputs, params):
    (x,) = inputs
    with np.errstate(divide="ignore", invalid="ignore"):
        out = UNARY[attrs["fn"]](x)
    return [np.asarray(out, dtype=bool if attrs["fn"] == "logical_not" else x.dtype)]


@LOWERINGS.register("Binary")
def binary(ctx, attrs, inputs, params):
    a, b = inputs
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.asarray(BINARY[attrs["fn"]](a, b))
    return [out if out.dtype == bool else out.astype(a.dtype, copy=False)]


@LOWERINGS.register("Cast")
def cast(ctx, attrs, inputs, params):
    return [np.asarray(inputs[0]).astype(attrs["dtype"])]


@LOWERINGS.register("Where")
def where(ctx, attrs, inputs, params):
    cond, x, y = inputs
    return [np.where(cond, x, y)]


@LOWERINGS.register("Clip")
def clip(ctx, attrs, inputs, params):
    (x,) = inputs
    return [np.clip(x, x.dtype.type(attrs["min"]), x.dtype.type(attrs["max"]))]


@LOWERINGS.register("Reduce")
def reduce(ctx, attrs, inputs, params):
    (x,) = inputs
    axis = attrs.get("axis")
    out = REDUCE[attrs["fn"]](x, axis=None if axis is None else tuple(int(a) for a in axis),
                              keepdims=bool(attrs.get("keepdims", False)))
    return [np.asarray(out, dtype=x.dtype)]


@LOWERINGS.register("MatMul")
def matmul(ctx, attrs, inputs, params):
    return [np.matmul(inputs[0], inputs[1])]


@LOWERINGS.register("RandomNormal")
def random_normal(ctx, attrs, inputs, params):
    """Fresh samples on every run, or the same ones for a given `seed` (as Keras' int seeds)."""
    rng = np.random.default_rng(attrs.get("seed"))
    dtype = attrs.get("dtype", "float32")
    sample = rng.standard_normal(dims(attrs["shape"], inputs), dtype=np.float32)
    return [(sample * np.float32(attrs.get("stddev", 1.0)) + np.float32(attrs.get("mean", 0.0))).astype(dtype)]
