"""Keras-style backend ops (`import kir.backend as K`) that work on numpy and TensorFlow.

User losses and metrics such as ``def mean_pred(y_true, y_pred): return K.mean(y_pred)`` run
eagerly on numpy arrays and inside kir's TensorFlow training program on ``tf.Tensor``s. Each
op dispatches on its arguments: if any is a ``tf.Tensor``/``tf.Variable`` the TensorFlow
implementation runs, otherwise numpy. TensorFlow is never imported here: a TF tensor can only
exist once TensorFlow is already in ``sys.modules``.

The same ops work on kir's symbolic tensors (a layer output in a functional model, a value
inside a traced ``Lambda`` or ``call()``): an argument with a ``__kir_op__(name, args, kwargs,
env)`` method gets the call, by name, and records it in the graph (kir/layers/kops.py; see
docs/tracing.md). This module imports nothing of kir.layers for that: it is duck typing.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

_EPSILON = 1e-7
_FLOATX = "float32"
_IMAGE_DATA_FORMAT = "channels_last"

Axis = int | Sequence[int] | None


def epsilon() -> float:
    """The fuzz factor used to avoid division by zero and log(0) (Keras default 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def floatx() -> str:
    """The default float dtype, 'float32'."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    _FLOATX = str(value)


def backend() -> str:
    return "kir"


def image_data_format() -> str:
    """'channels_last' (kir's layers default to it, as Keras' do)."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        from kir.errors import ConfigError

        raise ConfigError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    _IMAGE_DATA_FORMAT = data_format


# ----------------------------------------------------------------------------- dispatch


def _tf_of(*xs: Any):
    """The tensorflow module if any argument is a TF tensor/variable, else None."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    types = (tf.Tensor, tf.Variable)
    for x in xs:
        if isinstance(x, types):
            return tf
        if isinstance(x, (list, tuple)) and builtins.any(isinstance(e, types) for e in x):
            return tf
    return None


def is_tensor(x: Any) -> bool:
    """True for a TensorFlow tensor or variable."""
    return _tf_of(x) is not None


def _np(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    a = np.asarray(x)
    if a.dtype == np.float64 and not isinstance(x, np.generic):
        a = a.astype(_FLOATX)
    return a


def _axis(axis: Axis):
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _tfx(tf, x: Any, like: Any = None):
    """Converts a python/numpy value for TF, matching the float dtype of `like`."""
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return x
    dtype = None
    if like is not None and isinstance(like, (tf.Tensor, tf.Variable)):
        dtype = like.dtype
    elif isinstance(x, float) or (isinstance(x, np.ndarray) and x.dtype == np.float64):
        dtype = _FLOATX
    return tf.convert_to_tensor(x, dtype=dtype)


def _pair(x: Any, y: Any):
    tf = _tf_of(x, y)
    if tf is None:
        return None, _np(x), _np(y)
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return tf, x, _tfx(tf, y, x)
    return tf, _tfx(tf, x, y), y


# ----------------------------------------------------------------------------- reductions


def _reduce(np_fn, tf_name: str):
    def op(x: Any, axis: Axis = None, keepdims: bool = False):
        tf = _tf_of(x)
        if tf is None:
            x = _np(x)
            if x.dtype == bool and np_fn in (np.mean,):
                x = x.astype(_FLOATX)
            return np_fn(x, axis=_axis(axis), keepdims=keepdims)
        if tf_name == "reduce_mean" and not x.dtype.is_floating:
            x = tf.cast(x, _FLOATX)
        return getattr(tf, tf_name)(x, axis=_axis(axis), keepdims=keepdims)

    return op


mean = _reduce(np.mean, "reduce_mean")
mean.__doc__ = "Mean of a tensor along `axis` (all axes when None)."
sum = _reduce(np.sum, "reduce_sum")  # noqa: A001 - Keras' name
max = _reduce(np.max, "reduce_max")  # noqa: A001
min = _reduce(np.min, "reduce_min")  # noqa: A001
prod = _reduce(np.prod, "reduce_prod")


def var(x: Any, axis: Axis = None, keepdims: bool = False):
    """Variance along `axis` (population variance, like Keras)."""
    tf = _tf_of(x)
    if tf is None:
        return np.var(_np(x), axis=_axis(axis), keepdims=keepdims)
    return tf.math.reduce_variance(x, axis=_axis(axis), keepdims=keepdims)


def std(x: Any, axis: Axis = None, keepdims: bool = False):
    """Standard deviation along `axis`."""
    tf = _tf_of(x)
    if tf is None:
        return np.std(_np(x), axis=_axis(axis), keepdims=keepdims)
    return tf.math.reduce_std(x, axis=_axis(axis), keepdims=keepdims)


def any(x: Any, axis: Axis = None, keepdims: bool = False):  # noqa: A001
    tf = _tf_of(x)
    if tf is None:
        return np.any(_np(x), axis=_axis(axis), keepdims=keepdims)
    return tf.reduce_any(tf.cast(x, "bool"), axis=_axis(axis), keepdims=keepdims)


def all(x: Any, axis: Axis = None, keepdims: bool = False):  # noqa: A001
    tf = _tf_of(x)
    if tf is None:
        return np.all(_np(x), axis=_axis(axis), keepdims=keepdims)
    return tf.reduce_all(tf.cast(x, "bool"), axis=_axis(axis), keepdims=keepdims)


def argmax(x: Any, axis: int = -1):
    tf = _tf_of(x)
    if tf is None:
        return np.argmax(_np(x), axis=axis)
    return tf.argmax(x, axis=axis)


def argmin(x: Any, axis: int = -1):
    tf = _tf_of(x)
    if tf is None:
        return np.argmin(_np(x), axis=axis)
    return tf.argmin(x, axis=axis)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False):
    tf = _tf_of(x)
    if tf is None:
        x = _np(x)
        m = np.max(x, axis=_axis(axis), keepdims=True)
        out = np.log(np.sum(np.exp(x - m), axis=_axis(axis), keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=_axis(axis))
    return tf.reduce_logsumexp(x, axis=_axis(axis), keepdims=keepdims)


# ----------------------------------------------------------------------------- elementwise


def _unary(np_fn, tf_path: str):
    def op(x: Any):
        tf = _tf_of(x)
        if tf is None:
            return np_fn(_np(x))
        fn = tf
        for part in tf_path.split("."):
            fn = getattr(fn, part)
        return fn(x)

    return op


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype if x.dtype.kind == "f" else _FLOATX)


def _np_softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x).astype(x.dtype if x.dtype.kind == "f" else _FLOATX)


square = _unary(np.square, "math.square")
sqrt = _unary(np.sqrt, "math.sqrt")
abs = _unary(np.abs, "math.abs")  # noqa: A001
exp = _unary(np.exp, "math.exp")
log = _unary(np.log, "math.log")
log1p = _unary(np.log1p, "math.log1p")
sign = _unary(np.sign, "math.sign")
round = _unary(np.round, "math.round")  # noqa: A001  (half to even, like Keras)
floor = _unary(np.floor, "math.floor")
ceil = _unary(np.ceil, "math.ceil")
negative = _unary(np.negative, "math.negative")
sin = _unary(np.sin, "math.sin")
cos = _unary(np.cos, "math.cos")
tanh = _unary(np.tanh, "math.tanh")
sigmoid = _unary(_np_sigmoid, "math.sigmoid")
softplus = _unary(_np_softplus, "math.softplus")
relu = _unary(lambda x: np.maximum(x, 0).astype(x.dtype), "nn.relu")
logical_not = _unary(np.logical_not, "math.logical_not")


def softsign(x: Any):
    tf = _tf_of(x)
    if tf is None:
        x = _np(x)
        return x / (1 + np.abs(x))
    return tf.math.softsign(x)


def softmax(x: Any, axis: int = -1):
    """Softmax along `axis`."""
    tf = _tf_of(x)
    if tf is None:
        x = _np(x)
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)
    return tf.nn.softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1):
    tf = _tf_of(x)
    if tf is None:
        x = _np(x)
        s = x - np.max(x, axis=axis, keepdims=True)
        return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
    return tf.nn.log_softmax(x, axis=axis)


def clip(x: Any, min_value: Any, max_value: Any):
    """Elementwise clip into [min_value, max_value]."""
    tf = _tf_of(x, min_value, max_value)
    if tf is None:
        return np.clip(_np(x), min_value, max_value)
    x = _tfx(tf, x)
    return tf.clip_by_value(x, tf.cast(min_value, x.dtype), tf.cast(max_value, x.dtype))


def _binary(np_fn, tf_path: str):
    def op(x: Any, y: Any):
        tf, x, y = _pair(x, y)
        if tf is None:
            return np_fn(x, y)
        fn = tf
        for part in tf_path.split("."):
            fn = getattr(fn, part)
        return fn(x, y)

    return op


maximum = _binary(np.maximum, "math.maximum")
minimum = _binary(np.minimum, "math.minimum")
equal = _binary(np.equal, "math.equal")
not_equal = _binary(np.not_equal, "math.not_equal")
greater = _binary(np.greater, "math.greater")
greater_equal = _binary(np.greater_equal, "math.greater_equal")
less = _binary(np.less, "math.less")
less_equal = _binary(np.less_equal, "math.less_equal")
add = _binary(np.add, "math.add")
subtract = _binary(np.subtract, "math.subtract")
multiply = _binary(np.multiply, "math.multiply")
divide = _binary(np.divide, "math.divide")
logical_and = _binary(np.logical_and, "math.logical_and")
logical_or = _binary(np.logical_or, "math.logical_or")


def pow(x: Any, a: Any):  # noqa: A001 - Keras' name
    """x ** a elementwise."""
    tf, x, a = _pair(x, a)
    if tf is None:
        return np.power(x, a)
    return tf.math.pow(x, a)


def where(condition: Any, x: Any, y: Any):
    tf = _tf_of(condition, x, y)
    if tf is None:
        return np.where(_np(condition), _np(x), _np(y))
    like = x if isinstance(x, (tf.Tensor, tf.Variable)) else y
    return tf.where(tf.cast(condition, "bool"), _tfx(tf, x, like), _tfx(tf, y, like))


def l2_normalize(x: Any, axis: Axis = -1):
    """x / max(||x||, epsilon) computed as Keras does (x * min(rsqrt(sum x^2), 1/eps))."""
    tf = _tf_of(x)
    if tf is None:
        x = _np(x)
        sq = np.sum(np.square(x), axis=_axis(axis), keepdims=True)
        with np.errstate(divide="ignore"):
            inv = np.minimum(1.0 / np.sqrt(sq), 1.0 / _EPSILON).astype(x.dtype)
        return x * inv
    sq = tf.reduce_sum(tf.square(x), axis=_axis(axis), keepdims=True)
    return x * tf.minimum(tf.math.rsqrt(sq), 1.0 / _EPSILON)


# ----------------------------------------------------------------------------- dtype / shape


def cast(x: Any, dtype: str):
    """x converted to `dtype` ('float32', 'int32', 'bool', ...)."""
    tf = _tf_of(x)
    if tf is None:
        return np.asarray(x).astype(dtype)
    return tf.cast(x, dtype)


def dtype(x: Any) -> str:
    tf = _tf_of(x)
    if tf is None:
        return str(np.asarray(x).dtype)
    return x.dtype.name


def int_shape(x: Any) -> tuple:
    """The static shape as a tuple (None for unknown dims)."""
    tf = _tf_of(x)
    if tf is None:
        return tuple(np.shape(x))
    return tuple(x.shape.as_list()) if x.shape.rank is not None else None


def shape(x: Any):
    """The dynamic shape (a TF tensor for TF inputs, a tuple for numpy)."""
    tf = _tf_of(x)
    if tf is None:
        return np.shape(x)
    return tf.shape(x)


def ndim(x: Any) -> int:
    tf = _tf_of(x)
    if tf is None:
        return np.ndim(x)
    return x.shape.rank


def reshape(x: Any, shape: Sequence[int]):
    tf = _tf_of(x, shape)
    if tf is None:
        return np.reshape(_np(x), tuple(shape))
    return tf.reshape(x, shape)


def transpose(x: Any, axes: Sequence[int] | None = None):
    tf = _tf_of(x)
    if tf is None:
        return np.transpose(_np(x), axes)
    return tf.transpose(x, perm=axes)


def permute_dimensions(x: Any, pattern: Sequence[int]):
    return transpose(x, pattern)


def expand_dims(x: Any, axis: int = -1):
    tf = _tf_of(x)
    if tf is None:
        return np.expand_dims(_np(x), axis)
    return tf.expand_dims(x, axis)


def squeeze(x: Any, axis: Axis = None):
    tf = _tf_of(x)
    if tf is None:
        return np.squeeze(_np(x), axis=_axis(axis))
    return tf.squeeze(x, axis=axis)


def flatten(x: Any):
    return reshape(x, [-1])


def batch_flatten(x: Any):
    tf = _tf_of(x)
    if tf is None:
        x = _np(x)
        return x.reshape(x.shape[0], -1)
    return tf.reshape(x, [tf.shape(x)[0], -1])


def concatenate(tensors: Sequence[Any], axis: int = -1):
    tf = _tf_of(*tensors)
    if tf is None:
        return np.concatenate([_np(t) for t in tensors], axis=axis)
    return tf.concat([_tfx(tf, t) for t in tensors], axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0):
    tf = _tf_of(*tensors)
    if tf is None:
        return np.stack([_np(t) for t in tensors], axis=axis)
    return tf.stack([_tfx(tf, t) for t in tensors], axis=axis)


def tile(x: Any, n: Sequence[int]):
    tf = _tf_of(x)
    if tf is None:
        return np.tile(_np(x), n)
    return tf.tile(x, n)


def repeat_elements(x: Any, rep: int, axis: int):
    tf = _tf_of(x)
    if tf is None:
        return np.repeat(_np(x), rep, axis=axis)
    return tf.repeat(x, rep, axis=axis)


def gather(reference: Any, indices: Any):
    tf = _tf_of(reference, indices)
    if tf is None:
        return np.take(_np(reference), _np(indices), axis=0)
    return tf.gather(reference, indices)


def one_hot(indices: Any, num_classes: int):
    tf = _tf_of(indices)
    if tf is None:
        idx = _np(indices).astype(np.int64)
        return np.eye(num_classes, dtype=_FLOATX)[idx]
    return tf.one_hot(tf.cast(indices, "int32"), num_classes, dtype=_FLOATX)


def ones_like(x: Any, dtype: str | None = None):
    tf = _tf_of(x)
    if tf is None:
        return np.ones_like(_np(x), dtype=dtype)
    return tf.ones_like(x, dtype=dtype)


def zeros_like(x: Any, dtype: str | None = None):
    tf = _tf_of(x)
    if tf is None:
        return np.zeros_like(_np(x), dtype=dtype)
    return tf.zeros_like(x, dtype=dtype)


def ones(shape: Sequence[int], dtype: str | None = None):
    return np.ones(tuple(shape), dtype=dtype or _FLOATX)


def zeros(shape: Sequence[int], dtype: str | None = None):
    return np.zeros(tuple(shape), dtype=dtype or _FLOATX)


def constant(value: Any, dtype: str | None = None, shape: Sequence[int] | None = None):
    a = np.asarray(value, dtype=dtype or _FLOATX)
    return np.broadcast_to(a, tuple(shape)).copy() if shape is not None else a


def eval(x: Any) -> np.ndarray:  # noqa: A001 - Keras' name
    """The value of a tensor as a numpy array."""
    return get_value(x)


def get_value(x: Any) -> np.ndarray:
    tf = _tf_of(x)
    if tf is None:
        return np.asarray(x)
    return x.numpy()


# ----------------------------------------------------------------------------- linear algebra


def dot(x: Any, y: Any):
    """Matrix product; for N-D inputs contracts x's last axis with y's second-to-last (np.dot)."""
    tf, x, y = _pair(x, y)
    if tf is None:
        return np.dot(x, y)
    if x.shape.rank <= 2 and y.shape.rank <= 2:
        return tf.matmul(x, y)
    return tf.tensordot(x, y, [[x.shape.rank - 1], [builtins.max(y.shape.rank - 2, 0)]])


def batch_dot(x: Any, y: Any, axes: int | Sequence[int] | None = None):
    """Batchwise dot product of 2-D or 3-D inputs (Keras' common uses)."""
    tf, x, y = _pair(x, y)
    rx, ry = len(x.shape), len(y.shape)
    if axes is None:
        axes = [rx - 1, ry - 2] if ry > 2 else [1, 1]
    if isinstance(axes, int):
        axes = [axes, axes]
    a0, a1 = axes
    mod = np if tf is None else tf
    if rx == 2 and ry == 2:
        return mod.reduce_sum(x * y, axis=1, keepdims=True) if tf else np.sum(x * y, 1, keepdims=True)
    if tf is None:
        return np.matmul(np.swapaxes(x, 1, 2) if a0 == 1 else x, np.swapaxes(y, 1, 2) if a1 == 2 else y)
    return tf.linalg.matmul(x, y, transpose_a=(a0 == 1), transpose_b=(a1 == 2))


def in_top_k(targets: Any, predictions: Any, k: int):
    """Whether each target index is among the top `k` predictions (ties count as in)."""
    tf = _tf_of(targets, predictions)
    if tf is None:
        p = _np(predictions)
        t = _np(targets).astype(np.int64)
        target_score = np.take_along_axis(p, t[:, None], axis=-1)
        return np.sum(p > target_score, axis=-1) < k
    return tf.math.in_top_k(tf.cast(targets, "int32"), predictions, k)


# ----------------------------------------------------------------------------- cross entropies


def _tf_logits(tf, output, from_logits: bool, op_type: str):
    """Keras' _get_logits: a graph tensor made by Softmax/Sigmoid is replaced by its logits."""
    if hasattr(output, "_keras_logits"):
        return output._keras_logits, True
    eager = getattr(getattr(tf, "__internal__", None), "EagerTensor", ())
    if (
        hasattr(output, "op")
        and not isinstance(output, (eager, tf.Variable))
        and output.op is not None
        and output.op.type == op_type
    ):
        return output.op.inputs[0], True
    return output, from_logits


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False):
    """Elementwise binary crossentropy (not reduced), Keras 3 formula."""
    tf = _tf_of(target, output)
    eps = _EPSILON
    if tf is None:
        t, o = _np(target).astype(_FLOATX), _np(output).astype(_FLOATX)
        if from_logits:
            return (np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o)))).astype(_FLOATX)
        o = np.clip(o, eps, 1 - eps)
        return -(t * np.log(o) + (1 - t) * np.log(1 - o))
    output = _tfx(tf, output)
    target = tf.cast(target, output.dtype)
    output, from_logits = _tf_logits(tf, output, from_logits, "Sigmoid")
    if from_logits:
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    output = tf.clip_by_value(output, eps, 1.0 - eps)
    bce = target * tf.math.log(output)
    bce += (1 - target) * tf.math.log(1 - output)
    return -bce


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1):
    """Categorical crossentropy reduced over `axis`, Keras 3 formula."""
    tf = _tf_of(target, output)
    eps = _EPSILON
    if tf is None:
        t, o = _np(target).astype(_FLOATX), _np(output).astype(_FLOATX)
        if from_logits:
            return -np.sum(t * log_softmax(o, axis=axis), axis=axis)
        o = o / np.sum(o, axis=axis, keepdims=True)
        o = np.clip(o, eps, 1 - eps)
        return -np.sum(t * np.log(o), axis=axis)
    output = _tfx(tf, output)
    target = tf.cast(target, output.dtype)
    output, from_logits = _tf_logits(tf, output, from_logits, "Softmax")
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=output, axis=axis)
    output = output / tf.reduce_sum(output, axis, keepdims=True)
    output = tf.clip_by_value(output, eps, 1.0 - eps)
    return -tf.reduce_sum(target * tf.math.log(output), axis)


def sparse_categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
):
    """Crossentropy with integer targets, Keras 3 formula (targets (b,) or (b, 1))."""
    tf = _tf_of(target, output)
    eps = _EPSILON
    if tf is None:
        t, o = _np(target).astype(np.int64), _np(output).astype(_FLOATX)
        if t.ndim == o.ndim and t.shape[-1] == 1:
            t = np.squeeze(t, -1)
        logp = log_softmax(o if from_logits else np.log(np.clip(o, eps, 1 - eps)), axis=-1)
        return -np.take_along_axis(logp, t[..., None], axis=-1)[..., 0]
    output = _tfx(tf, output)
    target = tf.cast(target, "int64")
    if target.shape.rank == output.shape.rank and target.shape[-1] == 1:
        target = tf.squeeze(target, axis=-1)
    output, from_logits = _tf_logits(tf, output, from_logits, "Softmax")
    if not from_logits:
        output = tf.math.log(tf.clip_by_value(output, eps, 1 - eps))
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=output)


# ----------------------------------------------------------------------------- random, ranges


def random_normal(shape: Sequence[int], mean: float = 0.0, stddev: float = 1.0, dtype: str | None = None,
                  seed: int | None = None):
    """Normal samples of `shape`; inside traced code, a graph op drawing on every run."""
    rng = np.random.default_rng(seed)
    return rng.normal(mean, stddev, tuple(int(d) for d in shape)).astype(dtype or _FLOATX)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: str = "int32"):
    """[start, stop) by step, like np.arange (Keras' argument order); `stop` may be K.shape(t)[i]."""
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, step).astype(dtype)


# ----------------------------------------------------------------------------- symbolic dispatch


def _symbolic(values: Any, depth: int = 0):
    """The arguments (in lists and tuples too) that are kir symbolic values, in order."""
    for x in values:
        if hasattr(type(x), "__kir_op__"):
            yield x
        elif depth < 3 and isinstance(x, (list, tuple)):
            yield from _symbolic(x, depth + 1)


def _tracing():
    """The tracer recording kir layer code right now, if any (kir.layers loaded it; not imported
    here): what `random_normal` with a static shape records into."""
    trace = sys.modules.get("kir.layers.trace")
    return None if trace is None else trace.active()


def _dispatching(name: str, fn):
    def op(*args: Any, **kwargs: Any):
        candidates = [*_symbolic(args), *_symbolic(kwargs.values())]
        if not candidates and name == "random_normal":
            candidates = [t for t in [_tracing()] if t is not None]
        for sym in candidates:  # a weight outside traced code declines: its numpy value is used
            out = sym.__kir_op__(name, args, kwargs, {"epsilon": _EPSILON, "floatx": _FLOATX})
            if out is not NotImplemented:
                return out
        return fn(*args, **kwargs)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = fn.__doc__
    op.__wrapped__ = fn
    return op


_NOT_DISPATCHED = ("epsilon", "set_epsilon", "floatx", "set_floatx", "backend", "image_data_format",
                   "set_image_data_format")
for _name, _fn in list(globals().items()):
    if callable(_fn) and not _name.startswith("_") and getattr(_fn, "__module__", None) == __name__ \
            and _name not in _NOT_DISPATCHED and not isinstance(_fn, type):
        globals()[_name] = _dispatching(_name, _fn)

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("annotations", "sys", "np", "builtins",
                                                                    "Any", "Sequence", "Axis")]
