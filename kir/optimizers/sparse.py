"""Keras 3's arithmetic on sparse gradients (tf.IndexedSlices), for the optimizer update rules.

An Embedding lookup's gradient is an IndexedSlices with one slice per looked-up token, repeated
tokens included. Keras 3 (keras/src/backend/tensorflow/sparse.py) keeps it sparse through the
update rule: element-wise unary ops (square, sqrt, abs) act on each slice *before* repeated rows
are summed, so Adam's, RMSprop's, Adagrad's, ... second moments get the sum of the squared
slices rather than the square of their sum; products and quotients with dense tensors gather the
dense rows; sums, differences and maxima with dense tensors densify; assignments of slices scatter
(rows absent from the batch are left alone). Densifying the gradient first gives different
numbers whenever a token occurs twice in a batch, so the rules use these helpers instead.
Every helper is the plain TensorFlow op on dense tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kir.optimizers.base import _tf


def is_slices(x: Any) -> bool:
    """True for a tf.IndexedSlices (a sparse gradient)."""
    return isinstance(x, _tf().IndexedSlices)


def _scalar(x: Any) -> bool:
    return not hasattr(x, "shape") or len(x.shape) == 0


def _slices(values: Any, like: Any):
    return _tf().IndexedSlices(values, like.indices, like.dense_shape)


def dense(x: Any):
    """The dense tensor of `x` (repeated rows of slices summed)."""
    return _tf().convert_to_tensor(x) if is_slices(x) else x


def unary(fn: Callable[[Any], Any], x: Any):
    """`fn` element-wise; on slices, applied to each slice (before repeated rows are summed)."""
    return _slices(fn(x.values), x) if is_slices(x) else fn(x)


def square(x: Any):
    return unary(_tf().square, x)


def sqrt(x: Any):
    return unary(_tf().sqrt, x)


def abs(x: Any):  # noqa: A001 - the op's name, as in keras.ops
    return unary(_tf().abs, x)


def negative(x: Any):
    return unary(_tf().negative, x)


def multiply(a: Any, b: Any):
    """a * b; slices times a scalar or dense tensor stay slices (the dense rows are gathered)."""
    tf = _tf()
    if is_slices(a) and is_slices(b):
        if a.indices is b.indices:
            return _slices(a.values * b.values, a)
        return dense(a) * dense(b)
    if is_slices(a):
        return _slices(a.values * (b if _scalar(b) else tf.gather(b, a.indices)), a)
    if is_slices(b):
        return _slices((a if _scalar(a) else tf.gather(a, b.indices)) * b.values, b)
    return a * b


def divide(a: Any, b: Any):
    """a / b; slices over a scalar or a dense divisor stay slices (the optimizers' divisors are
    positive, so Keras' extra rows for zero or NaN divisors never arise); a sparse divisor densifies."""
    tf = _tf()
    if is_slices(b):
        return dense(a) / dense(b)
    if is_slices(a):
        return _slices(a.values / (b if _scalar(b) else tf.gather(b, a.indices)), a)
    return a / b


def _union(fn: Callable[[Any, Any], Any], a: Any, b: Any):
    if is_slices(a) and is_slices(b) and a.indices is b.indices:
        return _slices(fn(a.values, b.values), a)
    return fn(dense(a), dense(b))


def add(a: Any, b: Any):
    """a + b; slices with anything but the same slices densify."""
    return _union(lambda x, y: x + y, a, b)


def subtract(a: Any, b: Any):
    """a - b; slices with anything but the same slices densify."""
    return _union(lambda x, y: x - y, a, b)


def maximum(a: Any, b: Any):
    """max(a, b), densifying slices (Keras' densify_mixed)."""
    return _tf().maximum(dense(a), dense(b))


def assign(variable: Any, value: Any) -> None:
    """variable = value; slices overwrite only their rows (scatter_update)."""
    if is_slices(value):
        variable.scatter_update(value)
    else:
        variable.assign(value)


def assign_add(variable: Any, value: Any) -> None:
    """variable += value; slices add into their rows (scatter_add, repeated rows each added)."""
    if is_slices(value):
        variable.scatter_add(value)
    else:
        variable.assign_add(value)


def assign_sub(variable: Any, value: Any) -> None:
    """variable -= value; slices subtract from their rows (scatter_sub)."""
    if is_slices(value):
        variable.scatter_sub(value)
    else:
        variable.assign_sub(value)


def cast(x: Any, dtype: Any):
    """tf.cast, keeping slices sparse."""
    return unary(lambda v: _tf().cast(v, dtype), x)
