"""Keras 3 metrics: per-sample metric functions and running means over batches.

A metric's value over an epoch is Keras' weighted mean: ``sum(values * w) / sum(w)`` over all
samples seen. `Metric.batch_stats` returns that batch's ``(total, count)`` using `kir.backend`
ops, so the training program computes it in TensorFlow and kir only adds up two numbers per
batch; `update_state`/`result` give the same running mean eagerly on numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import kir.backend as K
from kir import losses as _losses
from kir.errors import ConfigError, unknown_name
from kir.losses import squeeze_or_expand_to_same_rank

MetricFn = Callable[..., Any]


# ----------------------------------------------------------------------------- functions


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5):
    """1.0 where (y_pred > threshold) equals y_true."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_pred = K.cast(K.greater(y_pred, threshold), K.dtype(y_true))
    return K.cast(K.equal(y_true, y_pred), K.floatx())


def categorical_accuracy(y_true: Any, y_pred: Any):
    """1.0 where argmax(y_true) equals argmax(y_pred)."""
    y_true = K.argmax(y_true, axis=-1)
    reshape = None
    if K.ndim(y_true) == K.ndim(y_pred):
        reshape = K.shape(y_true)
        y_true = K.squeeze(y_true, -1)
    matches = K.cast(K.equal(y_true, K.cast(K.argmax(y_pred, axis=-1), K.dtype(y_true))), K.floatx())
    return K.reshape(matches, reshape) if reshape is not None else matches


def sparse_categorical_accuracy(y_true: Any, y_pred: Any):
    """1.0 where the integer label equals argmax(y_pred); labels (b,) or (b, 1)."""
    y_true = K.cast(y_true, K.floatx())
    if K.ndim(y_true) == K.ndim(y_pred) and K.int_shape(y_true)[-1] == 1:
        y_true = K.squeeze(y_true, -1)
    y_pred = K.cast(K.argmax(y_pred, axis=-1), K.floatx())
    return K.cast(K.equal(y_true, y_pred), K.floatx())


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5):
    """1.0 where argmax(y_true) is among the k highest predictions."""
    y_true = K.argmax(y_true, axis=-1)
    if K.ndim(y_pred) > 2:
        y_pred = K.reshape(y_pred, [-1, K.int_shape(y_pred)[-1]])
        y_true = K.reshape(y_true, [-1])
    return K.cast(K.in_top_k(K.cast(y_true, "int32"), y_pred, k), K.floatx())


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5):
    """1.0 where the integer label is among the k highest predictions."""
    if K.ndim(y_true) == K.ndim(y_pred) and K.int_shape(y_true)[-1] == 1:
        y_true = K.squeeze(y_true, -1)
    return K.cast(K.in_top_k(K.cast(y_true, "int32"), y_pred, k), K.floatx())


_NOT_METRICS = frozenset({"categorical_hinge", "kullback_leibler_divergence", "cosine_similarity", "huber"})
"""Loss names that are not metric names (Keras' cosine_similarity metric is not the loss)."""

LOSS_FUNCTIONS: dict[str, MetricFn] = {
    name: fn for name, fn in _losses.FUNCTIONS.items() if name not in _NOT_METRICS
}
"""The loss functions that are metrics too ('mse', 'binary_crossentropy', ...): kir.losses' objects."""

globals().update(LOSS_FUNCTIONS)  # kir.metrics.mse, kir.metrics.KLD, ... as in keras.metrics


# ----------------------------------------------------------------------------- Metric objects


class Metric:
    """A running weighted mean of a per-sample function over all batches of an epoch."""

    def __init__(self, fn: MetricFn, name: str | None = None, **kwargs: Any) -> None:
        self.fn = fn
        self.fn_kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "metric")
        self.reset_state()

    def batch_stats(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        """(weighted sum of values, weight) for one batch, as Keras' Mean metric counts them.

        A function returning a scalar (``K.mean(y_pred)``) counts as one value per batch, like
        Keras; per-sample values count once per sample (times its weight).
        """
        values = K.cast(self.fn(y_true, y_pred, **self.fn_kwargs), K.floatx())
        if sample_weight is not None:
            sample_weight = K.cast(sample_weight, K.floatx())
            values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
            w_nd, v_nd = K.ndim(sample_weight), K.ndim(values)
            if v_nd > w_nd:
                values = K.mean(values, axis=list(range(w_nd, v_nd)))
            sample_weight = sample_weight + K.zeros_like(values)
            values = values * sample_weight
            if w_nd > 1:
                sample_weight = K.mean(sample_weight, axis=list(range(1, w_nd)))
        if K.ndim(values) > 1:
            values = K.mean(values, axis=list(range(1, K.ndim(values))))
        total = K.sum(values)
        if sample_weight is not None:
            count = K.sum(sample_weight)
        elif K.ndim(values) >= 1:
            count = K.cast(K.shape(values)[0], K.floatx())
        else:
            count = K.cast(1.0, K.floatx())
        return total, count

    # eager (numpy) API, mirroring keras.metrics.Metric
    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        total, count = self.batch_stats(y_true, y_pred, sample_weight)
        self.total += float(np.asarray(K.get_value(total)))
        self.count += float(np.asarray(K.get_value(count)))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def __repr__(self) -> str:
        return f"<Metric {self.name}>"


MeanMetricWrapper = Metric


def _cls(fn: MetricFn, default_name: str, **defaults: Any) -> type[Metric]:
    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        Metric.__init__(self, fn, name=name or default_name, **{**defaults, **kwargs})

    return type(default_name.title().replace("_", ""), (Metric,), {"__init__": __init__})


BinaryAccuracy = _cls(binary_accuracy, "binary_accuracy", threshold=0.5)
CategoricalAccuracy = _cls(categorical_accuracy, "categorical_accuracy")
SparseCategoricalAccuracy = _cls(sparse_categorical_accuracy, "sparse_categorical_accuracy")
TopKCategoricalAccuracy = _cls(top_k_categorical_accuracy, "top_k_categorical_accuracy", k=5)
SparseTopKCategoricalAccuracy = _cls(
    sparse_top_k_categorical_accuracy, "sparse_top_k_categorical_accuracy", k=5
)
MeanSquaredError = _cls(_losses.mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _cls(_losses.mean_absolute_error, "mean_absolute_error")


FUNCTIONS: dict[str, MetricFn] = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    **LOSS_FUNCTIONS,
}

ACCURACY_NAMES = ("accuracy", "acc")


def accuracy_kind(y_true_shape: tuple, y_pred_shape: tuple) -> str:
    """Keras' choice for 'accuracy': 'binary', 'sparse_categorical' or 'categorical'.

    Binary when the output has one unit; sparse when the labels have lower rank than the
    output or one column against several output units; categorical otherwise.
    """
    if y_pred_shape[-1] == 1:
        return "binary"
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] != 1):
        return "sparse_categorical"
    return "categorical"


def get(identifier: Any, y_true_shape: tuple | None = None, y_pred_shape: tuple | None = None) -> Metric:
    """A `Metric` for a name, a Metric, or a function f(y_true, y_pred).

    'accuracy'/'acc' need the label and output shapes to pick binary, sparse or categorical
    accuracy as Keras does; the metric keeps the name the user wrote.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ACCURACY_NAMES:
            if y_true_shape is None or y_pred_shape is None:
                raise ConfigError(
                    f"metric '{identifier}' depends on the label and output shapes; "
                    "it is resolved when the model is compiled and trained"
                )
            kind = accuracy_kind(tuple(y_true_shape), tuple(y_pred_shape))
            return Metric(FUNCTIONS[f"{kind}_accuracy"], name=identifier)
        if identifier in FUNCTIONS:
            return Metric(FUNCTIONS[identifier], name=identifier)
        raise unknown_name("metric", identifier, list(FUNCTIONS) + list(ACCURACY_NAMES))
    if callable(identifier):
        return Metric(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ConfigError(
        f"metric {identifier!r} is neither a metric name, a kir.metrics.Metric nor a function "
        "f(y_true, y_pred); pass e.g. metrics=['accuracy']"
    )


__all__ = ["Metric", "MeanMetricWrapper", "get", "accuracy_kind", *FUNCTIONS]
