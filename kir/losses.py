"""Keras 3 losses, by name, class or function, written with `kir.backend` ops.

Every function here takes ``(y_true, y_pred)`` and returns one loss value per sample (the last
axis reduced); a `Loss` object applies sample weights and the ``sum_over_batch_size``
reduction. Because they are written with `K`, the same code runs on numpy arrays (tests,
eager checks) and on TensorFlow tensors inside the training program.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import kir.backend as K
from kir.errors import ConfigError, unknown_name

LossFn = Callable[[Any, Any], Any]

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def squeeze_or_expand_to_same_rank(x1: Any, x2: Any, expand_rank_1: bool = True):
    """Keras' rank alignment: squeeze (or expand) a trailing dim of 1 when ranks differ by one."""
    r1, r2 = K.ndim(x1), K.ndim(x2)
    if r1 == r2:
        return x1, x2
    s1, s2 = K.int_shape(x1), K.int_shape(x2)
    if r1 == r2 + 1 and s1[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = K.expand_dims(x2, -1)
        else:
            x1 = K.squeeze(x1, -1)
    if r2 == r1 + 1 and s2[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = K.expand_dims(x1, -1)
        else:
            x2 = K.squeeze(x2, -1)
    return x1, x2


def _prep(y_true: Any, y_pred: Any):
    y_true = K.cast(y_true, K.floatx())
    y_pred = K.cast(y_pred, K.floatx()) if K.dtype(y_pred) != K.floatx() else y_pred
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


# ----------------------------------------------------------------------------- functions


def mean_squared_error(y_true: Any, y_pred: Any):
    """mean(square(y_true - y_pred), axis=-1)"""
    y_true, y_pred = _prep(y_true, y_pred)
    return K.mean(K.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any):
    """mean(abs(y_true - y_pred), axis=-1)"""
    y_true, y_pred = _prep(y_true, y_pred)
    return K.mean(K.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any):
    """100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)), axis=-1)"""
    y_true, y_pred = _prep(y_true, y_pred)
    diff = K.abs((y_true - y_pred) / K.maximum(K.abs(y_true), K.epsilon()))
    return 100.0 * K.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any):
    """mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)"""
    y_true, y_pred = _prep(y_true, y_pred)
    first = K.log(K.maximum(y_pred, K.epsilon()) + 1.0)
    second = K.log(K.maximum(y_true, K.epsilon()) + 1.0)
    return K.mean(K.square(first - second), axis=-1)


def _hinge_labels(y_true: Any):
    """Binary {0, 1} labels become {-1, 1}; other labels are left alone (Keras)."""
    is_binary = K.all(K.logical_or(K.equal(y_true, 0.0), K.equal(y_true, 1.0)))
    return K.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true: Any, y_pred: Any):
    """mean(maximum(1 - y_true * y_pred, 0), axis=-1), {0,1} labels mapped to {-1,1}."""
    y_true, y_pred = _prep(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return K.mean(K.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any):
    """mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)"""
    y_true, y_pred = _prep(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return K.mean(K.square(K.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any):
    """maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)"""
    y_true, y_pred = _prep(y_true, y_pred)
    pos = K.sum(y_true * y_pred, axis=-1)
    neg = K.max((1.0 - y_true) * y_pred, axis=-1)
    return K.maximum(neg - pos + 1.0, 0.0)


def kl_divergence(y_true: Any, y_pred: Any):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [eps, 1]."""
    y_pred = K.cast(y_pred, K.floatx())
    y_true = K.cast(y_true, K.floatx())
    y_true = K.clip(y_true, K.epsilon(), 1.0)
    y_pred = K.clip(y_pred, K.epsilon(), 1.0)
    return K.sum(y_true * K.log(y_true / y_pred), axis=-1)


def poisson(y_true: Any, y_pred: Any):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1)"""
    y_pred = K.cast(y_pred, K.floatx())
    y_true = K.cast(y_true, K.floatx())
    return K.mean(y_pred - y_true * K.log(y_pred + K.epsilon()), axis=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)"""
    y_true, y_pred = _prep(y_true, y_pred)
    return -K.sum(K.l2_normalize(y_true, axis=axis) * K.l2_normalize(y_pred, axis=axis), axis=axis)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0):
    """mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1)"""
    y_true, y_pred = _prep(y_true, y_pred)
    error = y_pred - y_true
    abs_error = K.abs(error)
    return K.mean(
        K.where(
            K.less_equal(abs_error, delta),
            0.5 * K.square(error),
            delta * abs_error - 0.5 * delta * delta,
        ),
        axis=-1,
    )


def log_cosh(y_true: Any, y_pred: Any):
    """mean(x + softplus(-2x) - log(2), axis=-1) with x = y_pred - y_true."""
    y_true, y_pred = _prep(y_true, y_pred)
    x = y_pred - y_true
    return K.mean(x + K.softplus(x * -2.0) - math.log(2.0), axis=-1)


def binary_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
):
    """mean(bce(y_true, clip(y_pred, eps, 1 - eps)), axis)"""
    y_pred = K.cast(y_pred, K.floatx()) if not K.is_tensor(y_pred) else y_pred
    y_true = K.cast(y_true, K.floatx())
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return K.mean(K.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
):
    """-sum(y_true * log(clip(y_pred / sum(y_pred), eps, 1 - eps)), axis)"""
    y_pred = K.cast(y_pred, K.floatx()) if not K.is_tensor(y_pred) else y_pred
    y_true = K.cast(y_true, K.floatx())
    if label_smoothing:
        num_classes = K.int_shape(y_true)[-1]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    return K.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, axis: int = -1
):
    """Crossentropy with integer class ids as targets, shape (b,) or (b, 1)."""
    return K.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


# Keras' short names.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh


# ----------------------------------------------------------------------------- Loss objects


class Loss:
    """Base of loss objects: `call` gives per-sample losses, `__call__` weights and reduces them."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size") -> None:
        if reduction not in REDUCTIONS:
            raise ConfigError(
                f"loss reduction {reduction!r} is not supported; use one of "
                f"{', '.join(repr(r) for r in REDUCTIONS)}"
            )
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true: Any, y_pred: Any):
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        values = self.call(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}


def reduce_weighted_values(values: Any, sample_weight: Any = None, reduction: str | None = "sum_over_batch_size"):
    """Keras' reduction: sum(values * w) / number of values (or / sum(w), or the plain sum)."""
    if sample_weight is not None:
        sample_weight = K.cast(sample_weight, K.floatx())
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    if reduction in (None, "none") or K.ndim(values) == 0:
        return values
    total = K.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = K.sum(sample_weight)
    else:
        divisor = _size(values)
    return _divide_no_nan(total, divisor)


def _size(x: Any):
    if K.is_tensor(x):
        import tensorflow as tf

        return tf.cast(tf.size(x), x.dtype)
    return K.cast(x.size, K.floatx())


def _divide_no_nan(a: Any, b: Any):
    if K.is_tensor(a) or K.is_tensor(b):
        import tensorflow as tf

        return tf.math.divide_no_nan(a, tf.cast(b, a.dtype))
    return a / b if b != 0 else a * 0


class LossFunctionWrapper(Loss):
    """A loss object around a function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(
        self, fn: LossFn, reduction: str | None = "sum_over_batch_size", name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self.fn_kwargs}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.fn_kwargs}>"


def _wrapper(fn: LossFn, default_name: str, **defaults: Any):
    """Defines a Keras loss class around `fn` whose keyword arguments are `defaults`."""

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None, **kwargs: Any):
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} got unknown argument(s) {sorted(unknown)}; "
                f"it accepts {sorted(defaults) + ['name', 'reduction']}"
            )
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name or default_name,
                                     **{**defaults, **kwargs})

    return __init__


class MeanSquaredError(LossFunctionWrapper):
    __init__ = _wrapper(mean_squared_error, "mean_squared_error")


class MeanAbsoluteError(LossFunctionWrapper):
    __init__ = _wrapper(mean_absolute_error, "mean_absolute_error")


class MeanAbsolutePercentageError(LossFunctionWrapper):
    __init__ = _wrapper(mean_absolute_percentage_error, "mean_absolute_percentage_error")


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    __init__ = _wrapper(mean_squared_logarithmic_error, "mean_squared_logarithmic_error")


class Hinge(LossFunctionWrapper):
    __init__ = _wrapper(hinge, "hinge")


class SquaredHinge(LossFunctionWrapper):
    __init__ = _wrapper(squared_hinge, "squared_hinge")


class CategoricalHinge(LossFunctionWrapper):
    __init__ = _wrapper(categorical_hinge, "categorical_hinge")


class KLDivergence(LossFunctionWrapper):
    __init__ = _wrapper(kl_divergence, "kl_divergence")


class Poisson(LossFunctionWrapper):
    __init__ = _wrapper(poisson, "poisson")


class CosineSimilarity(LossFunctionWrapper):
    __init__ = _wrapper(cosine_similarity, "cosine_similarity", axis=-1)


class Huber(LossFunctionWrapper):
    __init__ = _wrapper(huber, "huber_loss", delta=1.0)


class LogCosh(LossFunctionWrapper):
    __init__ = _wrapper(log_cosh, "log_cosh")


class BinaryCrossentropy(LossFunctionWrapper):
    __init__ = _wrapper(binary_crossentropy, "binary_crossentropy", from_logits=False,
                        label_smoothing=0.0, axis=-1)


class CategoricalCrossentropy(LossFunctionWrapper):
    __init__ = _wrapper(categorical_crossentropy, "categorical_crossentropy", from_logits=False,
                        label_smoothing=0.0, axis=-1)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    __init__ = _wrapper(sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
                        from_logits=False, axis=-1)


# ----------------------------------------------------------------------------- lookup

FUNCTIONS: dict[str, LossFn] = {
    "mean_squared_error": mean_squared_error, "mse": mse, "MSE": mse,
    "mean_absolute_error": mean_absolute_error, "mae": mae, "MAE": mae,
    "mean_absolute_percentage_error": mean_absolute_percentage_error, "mape": mape, "MAPE": mape,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error, "msle": msle, "MSLE": msle,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "hinge": hinge, "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge,
    "kl_divergence": kl_divergence, "kld": kld, "KLD": kld,
    "kullback_leibler_divergence": kl_divergence,
    "poisson": poisson, "cosine_similarity": cosine_similarity, "huber": huber,
    "log_cosh": log_cosh, "logcosh": log_cosh,
}

CLASSES: dict[str, type[Loss]] = {
    c.__name__: c
    for c in (
        MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
        Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson, CosineSimilarity, Huber, LogCosh,
        BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    )
}


def get(identifier: Any) -> Loss:
    """A `Loss` object for a name ('mse', 'binary_crossentropy', 'Huber'), a Loss, or a function."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in FUNCTIONS:
            return LossFunctionWrapper(FUNCTIONS[identifier], name=identifier)
        if identifier in CLASSES:
            return CLASSES[identifier]()
        raise unknown_name("loss", identifier, list(FUNCTIONS) + list(CLASSES))
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", "loss"))
    raise ConfigError(
        f"loss {identifier!r} is neither a loss name, a kir.losses.Loss nor a function "
        f"f(y_true, y_pred); pass e.g. loss='mse'"
    )


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


__all__ = [
    "Loss", "LossFunctionWrapper", "get", "reduce_weighted_values", *FUNCTIONS, *CLASSES,
]
