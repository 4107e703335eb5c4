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
from kir.errors import ConfigError, check_positive_int, unknown_name
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
                     evenly: bool | None = None) -> list:
    """Per threshold, the (weighted) counts of each condition ('tp', 'fp', 'tn', 'fn') in one batch,
    as keras.metrics' update_confusion_matrix_variables counts them (a prediction is positive when
    above the threshold; evenly spaced thresholds are counted by Keras' bucket rule)."""
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
    if evenly is None:
        evenly = evenly_distributed(thresholds)
    if evenly:  # bucket i holds predictions in (t_i-1, t_i]; positive at threshold i when bucket >= i
        bucket = K.ceil(K.clip(y_pred, 0.0, 1.0) * np.float32(n - 1)) - 1.0
        if thresholds[0] < 0.0 or thresholds[-1] > 1.0:
            bucket = K.relu(bucket)
        column = np.arange(n, dtype="float32").reshape(n, 1)
        pred_is_pos = K.greater_equal(K.reshape(bucket, [1, -1]), column)
    else:
        column = np.asarray(thresholds, dtype="float32").reshape(n, 1)
        pred_is_pos = K.greater(K.reshape(y_pred, [1, -1]), column)
    label_is_pos = K.not_equal(K.reshape(y_true, [1, -1]), 0.0)
    weights = None
    if sample_weight is not None:
        weights = K.reshape(sample_weight + K.zeros_like(y_pred), [1, -1])
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
    """Area under the ROC or PR curve, a Riemann sum over `num_thresholds` thresholds (Keras' AUC:
    `curve` 'ROC' or 'PR', `summation_method` 'interpolation', 'minoring' or 'majoring',
    explicit `thresholds`, `from_logits`). Single-label only (multi_label=False)."""

    conditions = _CONDITIONS

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype: Any = None, thresholds: Sequence[float] | None = None,
                 multi_label: bool = False, num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False) -> None:
        if multi_label or num_labels is not None or label_weights is not None:
            raise ConfigError("AUC: multi_label, num_labels and label_weights are not supported by kir; "
                              "use AUC() per output, or class_id-style slicing of the predictions")
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
        curves = {"roc": "ROC", "pr": "PR"}
        if str(curve).lower() not in curves:
            raise ConfigError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        methods = ("interpolation", "majoring", "minoring")
        if str(summation_method).lower() not in methods:
            raise ConfigError(f"AUC: summation_method must be one of {', '.join(map(repr, methods))}, "
                              f"got {summation_method!r}")
        self.curve = curves[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self.from_logits = bool(from_logits)
        super().__init__(name)

    def state_size(self) -> int:
        return 4 * self.num_thresholds

    def batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> list:
        if self.from_logits:
            y_pred = K.sigmoid(y_pred)
        return confusion_counts(y_true, y_pred, self.thresholds, self.conditions, sample_weight=sample_weight,
                                evenly=self.evenly)

    def result_from(self, state: np.ndarray) -> float:
        tp, fp, tn, fn = np.reshape(state, (4, -1))
        if self.curve == "PR" and self.summation_method == "interpolation":
            return float(self._interpolate_pr(tp, fp, fn))
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    @staticmethod
    def _interpolate_pr(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
        """Davis & Goadrich's interpolated PR-AUC, as Keras computes it."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        safe_p_ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increment = _divide_no_nan(prec_slope * (dtp + intercept * np.log(safe_p_ratio)),
                                   np.maximum(tp[1:] + fn[1:], 0))
        return float(np.sum(increment))

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "from_logits": self.from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


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
