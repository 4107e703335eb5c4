"""Keras 3 metrics: per-sample metric functions, running means and confusion-matrix metrics.

Every metric keeps sums over the epoch: a mean metric ``sum(values * w)`` and ``sum(w)``
(Keras' weighted mean), a confusion-matrix metric (Precision, Recall, AUC, TruePositives, ...)
its counts per threshold. `Metric.batch_state` returns one batch's sums using `kir.backend`
ops, so the training program computes them in TensorFlow into its device-side accumulator, and
`Metric.result_from` turns the epoch's sums into the reported value; `update_state`/`result`
do the same eagerly on numpy.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import kir.backend as K
from kir import losses as _losses
from kir.errors import ConfigError, ShapeError, check_positive_int, unknown_name
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
    """Base of kir's metrics: sums kept in `state_size()` slots of the training accumulator.

    `batch_state(y_true, y_pred, sample_weight)` gives one batch's contribution to those sums
    (tensors, flattened in order), `result_from(sums)` turns the sums accumulated over an epoch
    into the value Keras reports. The engine adds batch states up on the device; `update_state`
    and `result` do the same eagerly on numpy, mirroring keras.metrics.Metric.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name or _snake(type(self).__name__)
        self.reset_state()

    def state_size(self) -> int:
        raise NotImplementedError

    def build(self, y_pred_shape: Sequence[int | None] | None) -> None:
        """Fix what depends on the prediction shape (AUC's labels) before the first batch; most
        metrics need nothing (Keras builds a metric's variables on its first update_state)."""

    def batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> list:
        raise NotImplementedError

    def result_from(self, state: np.ndarray) -> Any:
        raise NotImplementedError

    # eager (numpy) API, mirroring keras.metrics.Metric
    def reset_state(self) -> None:
        self.state = np.zeros(self.state_size(), dtype=np.float64)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        parts = self.batch_state(y_true, y_pred, sample_weight)
        self.state = self.state + np.concatenate(
            [np.reshape(np.asarray(K.get_value(p), dtype=np.float64), [-1]) for p in parts])

    def result(self) -> Any:
        return self.result_from(self.state)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """Keras' `metric(y_true, y_pred)`: update the state with this batch, return the result."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class MeanMetricWrapper(Metric):
    """A running weighted mean of a per-sample function over all batches of an epoch."""

    def __init__(self, fn: MetricFn, name: str | None = None, **kwargs: Any) -> None:
        self.fn = fn
        self.fn_kwargs = kwargs
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def state_size(self) -> int:
        return 2

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

    def batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> list:
        return list(self.batch_stats(y_true, y_pred, sample_weight))

    def result_from(self, state: np.ndarray) -> float:
        return float(state[0] / state[1]) if state[1] else 0.0

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.fn_kwargs}


def _cls(fn: MetricFn, default_name: str, **defaults: Any) -> type[MeanMetricWrapper]:
    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        MeanMetricWrapper.__init__(self, fn, name=name or default_name, **{**defaults, **kwargs})

    return type(default_name.title().replace("_", ""), (MeanMetricWrapper,), {"__init__": __init__})


BinaryAccuracy = _cls(binary_accuracy, "binary_accuracy", threshold=0.5)
CategoricalAccuracy = _cls(categorical_accuracy, "categorical_accuracy")
SparseCategoricalAccuracy = _cls(sparse_categorical_accuracy, "sparse_categorical_accuracy")
TopKCategoricalAccuracy = _cls(top_k_categorical_accuracy, "top_k_categorical_accuracy", k=5)
SparseTopKCategoricalAccuracy = _cls(
    sparse_top_k_categorical_accuracy, "sparse_top_k_categorical_accuracy", k=5
)
MeanSquaredError = _cls(_losses.mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _cls(_losses.mean_absolute_error, "mean_absolute_error")


# ----------------------------------------------------------------------------- confusion-matrix metrics

NEG_INF = -1e10
"""Keras' threshold below every prediction (Precision/Recall with top_k and no thresholds)."""

_CONDITIONS = ("tp", "fp", "tn", "fn")


def _thresholds(thresholds: Any, default: float) -> list[float]:
    values = [default] if thresholds is None else (
        [thresholds] if isinstance(thresholds, numbers.Real) else list(thresholds))
    if thresholds is not None and not all(isinstance(t, numbers.Real) and 0 <= t <= 1 for t in values):
        raise ConfigError(f"threshold values must be in [0, 1], got {thresholds!r}")
    return [float(t) for t in values]


def evenly_distributed(thresholds: Sequence[float]) -> bool:
    """Keras' test for thresholds i / (n - 1), which it counts with buckets instead of comparisons."""
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=K.epsilon()))


def _filter_top_k(x: Any, k: int):
    """Keep each row's k largest values, the rest set to NEG_INF (Keras' _filter_top_k)."""
    if K.is_tensor(x):
        import tensorflow as tf

        mask = tf.reduce_sum(tf.one_hot(tf.math.top_k(x, k).indices, tf.shape(x)[-1], dtype=x.dtype), axis=-2)
    else:
        x = np.asarray(x)
        idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        mask = np.zeros_like(x)
        np.put_along_axis(mask, idx, 1.0, axis=-1)
    return x * mask + NEG_INF * (1 - mask)


def confusion_counts(y_true: Any, y_pred: Any, thresholds: Sequence[float], conditions: Sequence[str],
                     top_k: int | None = None, class_id: int | None = None, sample_weight: Any = None,
                     evenly: bool | None = None, multi_label: bool = False, label_weights: Any = None) -> list:
    """Per threshold, the (weighted) counts of each condition ('tp', 'fp', 'tn', 'fn') in one batch,
    as keras.metrics' update_confusion_matrix_variables counts them (a prediction is positive when
    above the threshold; evenly spaced thresholds are counted by Keras' bucket rule).

    Counts have shape (thresholds,), or (thresholds, labels) with `multi_label` (one column of
    y_pred per label); `label_weights` (one per column) scale each label's entries of the
    flattened data, as Keras does when multi_label is False."""
    y_true = K.cast(y_true, "float32")
    y_pred = K.cast(y_pred, "float32")
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = K.expand_dims(K.cast(sample_weight, "float32"), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if K.ndim(y_pred) == 1:
            raise ConfigError(f"class_id={class_id} needs predictions of shape (samples, classes), got shape "
                              f"{K.int_shape(y_pred)}")
        y_true = y_true[..., class_id:class_id + 1]
        y_pred = y_pred[..., class_id:class_id + 1]
    n = len(thresholds)
    # one row per threshold; multi_label keeps a column per label: (1, samples, labels)
    flat = [1, -1, K.int_shape(y_pred)[-1]] if multi_label else [1, -1]
    column_shape = (n, 1, 1) if multi_label else (n, 1)
    if evenly is None:
        evenly = evenly_distributed(thresholds)
    if evenly:  # bucket i holds predictions in (t_i-1, t_i]; positive at threshold i when bucket >= i
        bucket = K.ceil(K.clip(y_pred, 0.0, 1.0) * np.float32(n - 1)) - 1.0
        if thresholds[0] < 0.0 or thresholds[-1] > 1.0:
            bucket = K.relu(bucket)
        column = np.arange(n, dtype="float32").reshape(column_shape)
        pred_is_pos = K.greater_equal(K.reshape(bucket, flat), column)
    else:
        column = np.asarray(thresholds, dtype="float32").reshape(column_shape)
        pred_is_pos = K.greater(K.reshape(y_pred, flat), column)
    label_is_pos = K.not_equal(K.reshape(y_true, flat), 0.0)
    weights = None
    if sample_weight is not None:
        weights = sample_weight + K.zeros_like(y_pred)
    if label_weights is not None:  # Keras broadcasts them (as a row) over y_pred
        label_weights = K.zeros_like(y_pred) + np.asarray(label_weights, dtype="float32")
        weights = label_weights if weights is None else weights * label_weights
    if weights is not None:
        weights = K.reshape(weights, flat)
    cells = {"tp": (label_is_pos, pred_is_pos), "fp": (K.logical_not(label_is_pos), pred_is_pos),
             "tn": (K.logical_not(label_is_pos), K.logical_not(pred_is_pos)),
             "fn": (label_is_pos, K.logical_not(pred_is_pos))}
    out = []
    for cond in conditions:
        both = K.logical_and(*cells[cond])
        counted = K.cast(both, "float32") if weights is None else K.where(both, weights, 0.0)
        out.append(K.sum(counted, axis=1))
    return out


def _divide_no_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


class _ConfusionMetric(Metric):
    """Counts of confusion-matrix cells per threshold, summed over the epoch (Keras' stateful metrics)."""

    conditions: tuple[str, ...] = ()

    def __init__(self, thresholds: Any = None, top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None, default_threshold: float = 0.5) -> None:
        self.init_thresholds = thresholds
        self.thresholds = _thresholds(thresholds, default_threshold)
        self.evenly = evenly_distributed(self.thresholds)
        self.top_k = None if top_k is None else check_positive_int(top_k, f"{type(self).__name__}: top_k")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, numbers.Integral)
                                     or class_id < 0):
            raise ConfigError(f"{type(self).__name__}: class_id must be a non-negative integer, got {class_id!r}")
        self.class_id = None if class_id is None else int(class_id)
        super().__init__(name)

    def state_size(self) -> int:
        return len(self.conditions) * len(self.thresholds)

    def batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> list:
        return confusion_counts(y_true, y_pred, self.thresholds, self.conditions, self.top_k, self.class_id,
                                sample_weight, self.evenly)

    def counts(self, state: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.conditions, np.reshape(state, (len(self.conditions), -1))))

    def result_from(self, state: np.ndarray) -> Any:
        value = self.compute(self.counts(state))
        return float(value[0]) if len(value) == 1 else value

    def compute(self, c: dict[str, np.ndarray]) -> np.ndarray:
        return c[self.conditions[0]]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "thresholds": self.init_thresholds}


def _count_metric(condition: str, doc: str) -> type[_ConfusionMetric]:
    name = "".join(w.title() for w in {"tp": "true positives", "fp": "false positives", "tn": "true negatives",
                                       "fn": "false negatives"}[condition].split())

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None) -> None:
        _ConfusionMetric.__init__(self, thresholds, name=name)

    return type(name, (_ConfusionMetric,), {"__init__": __init__, "conditions": (condition,), "__doc__": doc,
                                            "__module__": __name__, "__qualname__": name})


TruePositives = _count_metric("tp", "Number (or weight) of true positives, per threshold (default 0.5).")
FalsePositives = _count_metric("fp", "Number (or weight) of false positives, per threshold (default 0.5).")
TrueNegatives = _count_metric("tn", "Number (or weight) of true negatives, per threshold (default 0.5).")
FalseNegatives = _count_metric("fn", "Number (or weight) of false negatives, per threshold (default 0.5).")


class Precision(_ConfusionMetric):
    """tp / (tp + fp) per threshold (default 0.5; with `top_k` and no thresholds, the top k count as
    positive); `class_id` restricts it to one column of the predictions."""

    conditions = ("tp", "fp")

    def __init__(self, thresholds: Any = None, top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(thresholds, top_k, class_id, name, dtype, 0.5 if top_k is None else NEG_INF)

    def compute(self, c: dict[str, np.ndarray]) -> np.ndarray:
        return _divide_no_nan(c["tp"], c["tp"] + c["fp"])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(Precision):
    """tp / (tp + fn) per threshold, with Precision's `thresholds`, `top_k` and `class_id`."""

    conditions = ("tp", "fn")

    def compute(self, c: dict[str, np.ndarray]) -> np.ndarray:
        return _divide_no_nan(c["tp"], c["tp"] + c["fn"])


class AUC(Metric):
    """Area under the ROC, PR or PR-gain curve, a Riemann sum over `num_thresholds` thresholds, as
    keras.metrics.AUC computes it: `curve` 'ROC', 'PR' or 'PRGAIN', `summation_method`
    'interpolation' (Davis & Goadrich's for PR), 'minoring' or 'majoring', explicit `thresholds`,
    `from_logits`. With `multi_label` each column of y_pred is a label with its own counts and the
    result is the mean of the label AUCs (weighted by `label_weights`); without it the data is
    flattened and `label_weights` weigh each column's entries. `num_labels` is optional: the
    counts are sized from y_pred's columns when the model is compiled or on the first update."""

    conditions = _CONDITIONS
    CURVES = {"ROC": "ROC", "roc": "ROC", "PR": "PR", "pr": "PR", "PRGAIN": "PRGAIN", "prgain": "PRGAIN"}
    """Keras' AUCCurve.from_str spellings."""
    SUMMATION_METHODS = ("interpolation", "majoring", "minoring")
    """Keras' AUCSummationMethod values (the capitalised spellings are accepted too)."""

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype: Any = None, thresholds: Sequence[float] | None = None,
                 multi_label: bool = False, num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False) -> None:
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds(list(thresholds), 0.5))
            self.num_thresholds = len(inner) + 2
            self.evenly = evenly_distributed([0.0] + inner + [1.0])
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, numbers.Integral) \
                    or num_thresholds <= 1:
                raise ConfigError(f"AUC: num_thresholds must be an integer > 1, got {num_thresholds!r}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self.evenly = True
        self.thresholds = [0.0 - K.epsilon()] + inner + [1.0 + K.epsilon()]
        if curve not in self.CURVES:
            raise ConfigError(f"AUC: curve must be 'ROC', 'PR' or 'PRGAIN', got {curve!r}")
        methods = {m: m for m in self.SUMMATION_METHODS} | {m.title(): m for m in self.SUMMATION_METHODS}
        if summation_method not in methods:
            raise ConfigError(f"AUC: summation_method must be one of "
                              f"{', '.join(map(repr, self.SUMMATION_METHODS))}, got {summation_method!r}")
        self.curve = self.CURVES[curve]
        self.summation_method = methods[summation_method]
        self.from_logits = bool(from_logits)
        self.multi_label = bool(multi_label)
        if num_labels is not None:
            if not self.multi_label:
                raise ConfigError(f"AUC: num_labels={num_labels!r} is needed only when multi_label is True; "
                                  f"pass multi_label=True or drop num_labels")
            num_labels = check_positive_int(num_labels, "AUC: num_labels")
        self.num_labels = num_labels
        self._num_labels = num_labels
        self.label_weights = _label_weights(label_weights)
        if self.label_weights is not None and num_labels is not None and len(self.label_weights) != num_labels:
            raise ConfigError(f"AUC: label_weights has {len(self.label_weights)} values but num_labels="
                              f"{num_labels}; give one weight per label")
        super().__init__(name)

    def state_size(self) -> int:
        if not self.multi_label:
            return 4 * self.num_thresholds
        return 4 * self.num_thresholds * (self._num_labels or 0)  # 0 until the labels are known

    def build(self, y_pred_shape: Sequence[int | None] | None) -> None:
        """Size the counts from y_pred's shape (Keras' `_build`): one column per label with
        multi_label, which needs y_pred of rank 2; check label_weights against the columns."""
        if y_pred_shape is None:
            return
        shape = tuple(y_pred_shape)
        columns = shape[-1] if shape else None
        if self.multi_label:
            if len(shape) != 2:
                raise ShapeError(f"AUC '{self.name}': y_pred must have rank 2 (samples, labels) when "
                                 f"multi_label=True, got shape {shape}; flatten the labels or use "
                                 f"multi_label=False")
            if columns is None:
                raise ShapeError(f"AUC '{self.name}': the number of labels (y_pred's last dimension) is "
                                 f"unknown in shape {shape}; pass num_labels=...")
            if self._num_labels is None:
                self._num_labels = int(columns)
                self.reset_state()
            elif columns != self._num_labels:
                raise ShapeError(f"AUC '{self.name}': y_pred has {columns} labels but the metric counts "
                                 f"{self._num_labels} (num_labels or its first batch); use a new AUC per "
                                 f"model output")
        lw = self.label_weights
        if lw is not None and columns is not None and len(lw) not in (1, columns):
            raise ShapeError(f"AUC '{self.name}': label_weights has {len(lw)} values but y_pred has {columns} "
                             f"labels (shape {shape}); give one weight per column of y_pred")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self.build(K.int_shape(y_pred) if K.is_tensor(y_pred) else np.shape(y_pred))
        super().update_state(y_true, y_pred, sample_weight)

    def batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> list:
        self.build(K.int_shape(y_pred))
        if self.from_logits:
            y_pred = K.sigmoid(y_pred)
        return confusion_counts(y_true, y_pred, self.thresholds, self.conditions, sample_weight=sample_weight,
                                evenly=self.evenly, multi_label=self.multi_label,
                                label_weights=None if self.multi_label else self.label_weights)

    def result_from(self, state: np.ndarray) -> float:
        if not np.size(state):  # multi_label with no batch seen yet: no labels, no counts
            return 0.0
        shape = (4, self.num_thresholds) + ((self._num_labels,) if self.multi_label else ())
        tp, fp, tn, fn = np.reshape(state, shape)
        if self.curve == "PR" and self.summation_method == "interpolation":
            terms = self._interpolate_pr(tp, fp, fn)
        else:
            x, y = self._curve(tp, fp, tn, fn)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2.0
            elif self.summation_method == "minoring":
                heights = np.minimum(y[:-1], y[1:])
            else:
                heights = np.maximum(y[:-1], y[1:])
            terms = (x[:-1] - x[1:]) * heights
        if not self.multi_label:
            return float(np.sum(terms))
        by_label = np.sum(terms, axis=0)
        if self.label_weights is None:
            return float(np.mean(by_label))
        weights = np.broadcast_to(self.label_weights.astype(np.float64), by_label.shape)
        return float(_divide_no_nan(np.sum(by_label * weights), np.sum(weights)))

    def _curve(self, tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray):
        """The curve's (x, y) per threshold: (fp rate, recall), (recall, precision) or Keras' PR gain."""
        if self.curve == "ROC":
            return _divide_no_nan(fp, fp + tn), _divide_no_nan(tp, tp + fn)
        if self.curve == "PR":
            return _divide_no_nan(tp, tp + fn), _divide_no_nan(tp, tp + fp)
        scaling = _divide_no_nan(tp + fn, tn + fp)  # P / N
        recall_gain = np.where(tp == 0, 0.0, 1.0 - scaling * _divide_no_nan(fn, tp))
        precision_gain = np.where(tp == 0, 1.0, 1.0 - scaling * _divide_no_nan(fp, tp))
        return np.maximum(recall_gain, 0.0), precision_gain

    @staticmethod
    def _interpolate_pr(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        """Davis & Goadrich's interpolated PR-AUC, as Keras computes it: the area between
        consecutive thresholds (per label when the counts have a label axis)."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        safe_p_ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return _divide_no_nan(prec_slope * (dtp + intercept * np.log(safe_p_ratio)),
                              np.maximum(tp[1:] + fn[1:], 0))

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self.from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _label_weights(label_weights: Any) -> np.ndarray | None:
    """AUC's label_weights as a float32 vector, refused unless finite and non-negative (Keras' rule)."""
    if label_weights is None:
        return None
    try:
        weights = np.asarray(label_weights, dtype=np.float32)
    except (TypeError, ValueError):
        weights = None
    if weights is None or weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)) \
            or np.any(weights < 0):
        raise ConfigError(f"AUC: label_weights must be a non-empty list of finite non-negative numbers, one "
                          f"per label, got {label_weights!r}")
    return weights


def _snake(name: str) -> str:
    """Keras' to_snake_case: 'TruePositives' -> 'true_positives', 'AUC' -> 'auc'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


CLASSES: dict[str, type[Metric]] = {
    c.__name__: c
    for c in (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
              SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, Precision, Recall, AUC,
              TruePositives, FalsePositives, TrueNegatives, FalseNegatives)
}
"""Metric classes by Keras class name."""

NAMES: dict[str, type[Metric]] = {**CLASSES, **{_snake(name): cls for name, cls in CLASSES.items()}}
"""What `get` takes by name besides the functions: class names and their snake_case ('auc', 'precision')."""


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
    """A `Metric` for a name, a Metric (or its class), or a function f(y_true, y_pred).

    'accuracy'/'acc' need the label and output shapes to pick binary, sparse or categorical
    accuracy as Keras does; a metric made from a name keeps the name the user wrote, as in Keras.
    """
    if isinstance(identifier, Metric):
        identifier.build(y_pred_shape)  # sized before training allocates its accumulator slots
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
            return MeanMetricWrapper(FUNCTIONS[f"{kind}_accuracy"], name=identifier)
        if identifier in FUNCTIONS:
            return MeanMetricWrapper(FUNCTIONS[identifier], name=identifier)
        if identifier in NAMES:
            return NAMES[identifier](name=identifier)
        raise unknown_name("metric", identifier, list(FUNCTIONS) + list(NAMES) + list(ACCURACY_NAMES))
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ConfigError(
        f"metric {identifier!r} is neither a metric name, a kir.metrics.Metric nor a function "
        "f(y_true, y_pred); pass e.g. metrics=['accuracy']"
    )


__all__ = ["Metric", "MeanMetricWrapper", "get", "accuracy_kind", "confusion_counts", *CLASSES, *FUNCTIONS]
