"""Numpy lowerings of the merge ops (elementwise with size-1 broadcasting, Concatenate, Dot)."""

from __future__ import annotations

import functools

import numpy as np

from kir.backends.numpy.table import LOWERINGS

_FOLDS = {"Add": np.add, "Multiply": np.multiply, "Maximum": np.maximum, "Minimum": np.minimum}


def _fold(op: str):
    def lowering(ctx, attrs, inputs, params):
        xs = [np.asarray(x, dtype=np.float32) for x in inputs]
        return [functools.reduce(_FOLDS[op], xs)]

    return lowering


for _op in _FOLDS:
    LOWERINGS.register(_op)(_fold(_op))


@LOWERINGS.register("Subtract")
def subtract(ctx, attrs, inputs, params):
    a, b = (np.asarray(x, dtype=np.float32) for x in inputs)
    return [a - b]


@LOWERINGS.register("Average")
def average(ctx, attrs, inputs, params):
    xs = [np.asarray(x, dtype=np.float32) for x in inputs]
    return [(functools.reduce(np.add, xs) / np.float32(len(xs))).astype(np.float32)]


@LOWERINGS.register("Concatenate")
def concatenate(ctx, attrs, inputs, params):
    return [np.concatenate(inputs, axis=int(attrs.get("axis", -1)))]


def l2_normalize(x: np.ndarray, axis: int) -> np.ndarray:
    """Keras' normalize: x * min(rsqrt(sum(x^2)), 1/epsilon) with epsilon 1e-7."""
    inv = 1.0 / np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True))
    return x * np.minimum(inv, np.float32(1e7))


@LOWERINGS.register("Dot")
def dot(ctx, attrs, inputs, params):
    """Keras batch_dot over axes [a1, a2]: per-sample tensordot; a rank-1 result becomes (b, 1)."""
    x, y = (np.asarray(v, dtype=np.float32) for v in inputs)
    a1, a2 = (int(a) for a in attrs["axes"])
    if attrs.get("normalize"):
        with np.errstate(divide="ignore"):
            x, y = l2_normalize(x, a1), l2_normalize(y, a2)
    x = np.moveaxis(x, a1, -1)
    y = np.moveaxis(y, a2, 1)
    batch, n = x.shape[0], x.shape[-1]
    out = np.reshape(x, (batch, -1, n)) @ np.reshape(y, (batch, n, -1))
    shape = (batch, *x.shape[1:-1], *y.shape[2:])
    return [np.reshape(out, shape if len(shape) > 1 else (batch, 1)).astype(np.float32)]
