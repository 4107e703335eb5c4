"""Merge ops: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot."""

from __future__ import annotations

import functools

import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS

_FOLDS = {"Add": tf.add, "Multiply": tf.multiply, "Maximum": tf.maximum, "Minimum": tf.minimum}


def _fold(op: str):
    def lowering(ctx, attrs, inputs, params):
        return [functools.reduce(_FOLDS[op], [tf.cast(x, ctx.compute_dtype) for x in inputs])]

    return lowering


for _op in _FOLDS:
    LOWERINGS.register(_op)(_fold(_op))


@LOWERINGS.register("Subtract")
def subtract(ctx, attrs, inputs, params):
    return [inputs[0] - inputs[1]]


@LOWERINGS.register("Average")
def average(ctx, attrs, inputs, params):
    return [functools.reduce(tf.add, inputs) / float(len(inputs))]


@LOWERINGS.register("Concatenate")
def concatenate(ctx, attrs, inputs, params):
    return [tf.concat(list(inputs), axis=int(attrs.get("axis", -1)))]


def _l2_normalize(x, axis: int):
    sq = tf.reduce_sum(tf.square(x), axis=axis, keepdims=True)
    return x * tf.minimum(tf.math.rsqrt(sq), 1e7)


@LOWERINGS.register("Dot")
def dot(ctx, attrs, inputs, params):
    """Per-sample contraction of x's axis a1 with y's axis a2 (Keras batch_dot)."""
    x, y = inputs
    a1, a2 = (int(a) for a in attrs["axes"])
    if attrs.get("normalize"):
        x, y = _l2_normalize(x, a1), _l2_normalize(y, a2)
    rx, ry = x.shape.rank, y.shape.rank
    x = tf.transpose(x, [i for i in range(rx) if i != a1] + [a1])
    y = tf.transpose(y, [0, a2] + [i for i in range(1, ry) if i != a2])
    xs, ys = x.shape.as_list(), y.shape.as_list()
    n = xs[-1]
    out = tf.matmul(tf.reshape(x, [-1, _prod(xs[1:-1]), n]), tf.reshape(y, [-1, n, _prod(ys[2:])]))
    shape = [*xs[1:-1], *ys[2:]]
    return [tf.reshape(out, [-1, *shape] if shape else [-1, 1])]


def _prod(dims) -> int:
    out = 1
    for d in dims:
        out *= int(d)
    return out
