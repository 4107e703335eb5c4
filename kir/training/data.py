"""Turning fit/evaluate arguments into checked, ordered arrays (inputs, targets, weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kir.backends.feeds import check_feeds, check_finite, check_targets
from kir.errors import FeedError

if TYPE_CHECKING:
    from kir.training.protocol import TrainableModel


@dataclass
class Arrays:
    """One data set in model order: inputs, targets (or None) and per-output sample weights."""

    x: list[np.ndarray]
    y: list[np.ndarray] | None
    sw: list[np.ndarray | None]
    n: int

    def take(self, sl: slice) -> Arrays:
        return Arrays([a[sl] for a in self.x], None if self.y is None else [a[sl] for a in self.y],
                      [None if w is None else w[sl] for w in self.sw], len(range(*sl.indices(self.n))))


def _targets(model: TrainableModel, y: Any) -> list[np.ndarray]:
    arrays = check_targets(model.output_names, y, model.name)
    out = []
    for a, name in zip(arrays, model.output_names):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise FeedError(f"target for output '{name}' of model '{model.name}' must be numeric, got {a.dtype}")
        out.append(np.ascontiguousarray(a, dtype="float32"))
    return out


def _sample_weights(model: TrainableModel, sample_weight: Any, n: int) -> list[np.ndarray | None]:
    names = model.output_names
    if sample_weight is None:
        return [None] * len(names)
    if isinstance(sample_weight, dict):
        unknown = [k for k in sample_weight if k not in names]
        if unknown:
            raise FeedError(f"sample_weight names output '{unknown[0]}', which model '{model.name}' does not have; "
                            f"its outputs are: {', '.join(names)}")
        items = [sample_weight.get(k) for k in names]
    elif isinstance(sample_weight, (list, tuple)) and len(names) > 1:
        if len(sample_weight) != len(names):
            raise FeedError(f"sample_weight: got {len(sample_weight)} arrays for {len(names)} outputs "
                            f"({', '.join(names)})")
        items = list(sample_weight)
    else:
        items = [sample_weight] * len(names)
    out = []
    for w, name in zip(items, names):
        if w is None:
            out.append(None)
            continue
        w = np.asarray(w, dtype="float32")
        if w.ndim == 0 or w.shape[0] != n:
            raise FeedError(f"sample_weight for output '{name}' has {w.shape[0] if w.ndim else 0} entries "
                            f"but there are {n} samples")
        out.append(w)
    return out


def _class_weights(model: TrainableModel, y: list[np.ndarray], class_weight: dict) -> np.ndarray:
    if len(y) != 1:
        raise FeedError(f"class_weight is supported for single-output models; model '{model.name}' has "
                        f"{len(y)} outputs: use sample_weight per output instead")
    labels = y[0]
    if labels.ndim > 1 and labels.shape[-1] > 1:
        ids = np.argmax(labels, axis=-1)
    else:
        ids = labels.reshape(len(labels), -1)[:, 0]
    ids = np.round(ids).astype(np.int64)
    missing = sorted(set(np.unique(ids).tolist()) - set(int(k) for k in class_weight))
    if missing:
        raise FeedError(f"class_weight has no weight for class {missing[0]} (classes in y: "
                        f"{sorted(set(np.unique(ids).tolist()))})")
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table[int(i)] for i in ids], dtype="float32")


def prepare(model: TrainableModel, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
            need_y: bool = True) -> Arrays:
    """Checked arrays for fit/evaluate: names, counts and shapes, or a FeedError naming them."""
    if x is None:
        raise FeedError(f"model '{model.name}': no input data (x is None)")
    xs = check_feeds(model.input_names, [t.spec for t in model.inputs], x, model.name)
    n = xs[0].shape[0] if xs else 0
    ys = None
    if y is not None:
        ys = _targets(model, y)
        if ys and ys[0].shape[0] != n:
            raise FeedError(
                f"model '{model.name}': inputs have {n} samples but targets have {ys[0].shape[0]}; "
                f"x and y need the same number of samples"
            )
    elif need_y:
        raise FeedError(f"model '{model.name}': fit/evaluate need targets y for outputs "
                        f"{', '.join(model.output_names)}")
    sws = _sample_weights(model, sample_weight, n)
    check_finite_data(model, xs, ys, sws)
    if class_weight is not None and ys is not None:
        cw = _class_weights(model, ys, class_weight)
        sws = [cw if w is None else w * cw for w in sws]
    return Arrays(xs, ys, sws, n)


def check_finite_data(model: TrainableModel, xs: list[np.ndarray], ys: list[np.ndarray] | None,
                  sws: list[np.ndarray | None], where: str = "") -> None:
    """NaN/inf anywhere in x, y or sample_weight is refused before any step runs (`where` names
    the batch of streamed data)."""
    for a, name in zip(xs, model.input_names):
        check_finite(a, f"x (input '{name}' of model '{model.name}'{where})")
    for a, name in zip(ys or [], model.output_names):
        check_finite(a, f"y (target for output '{name}' of model '{model.name}'{where})")
    for a, name in zip(sws, model.output_names):
        if a is not None:
            check_finite(a, f"sample_weight for output '{name}' of model '{model.name}'{where}")


def check_sparse_labels(losses: list[Any], outputs: list[Any], ys: list[np.ndarray], names: list[str],
                        model_name: str, where: str = "") -> None:
    """Integer class labels of sparse_* losses must lie in [0, classes): the first bad one is
    named with its index (TensorFlow would stop with a raw InvalidArgumentError mid-epoch)."""
    for loss, spec, y, name in zip(losses, outputs, ys, names):
        classes = spec.shape[-1] if spec.shape else None
        if loss is None or not getattr(loss, "name", "").startswith("sparse_") or not classes or y.size == 0:
            continue
        bad = (y < 0) | (y >= classes) | (y != np.floor(y))
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise FeedError(f"y (target for output '{name}' of model '{model_name}'{where}) holds label "
                            f"{y[index]:g} at index {index}; the {getattr(loss, 'name', 'loss')} loss needs integer "
                            f"class ids in [0, {classes}) for an output of {spec.shape[-1]} classes")


def split_validation(data: Arrays, validation_split: float) -> tuple[Arrays, Arrays]:
    """Keras' split: the last `validation_split` fraction (before any shuffling) validates."""
    if not 0.0 < validation_split < 1.0:
        raise FeedError(f"validation_split must be in (0, 1), got {validation_split}")
    at = int(data.n * (1.0 - validation_split))
    if at == 0 or at == data.n:
        raise FeedError(f"validation_split={validation_split} of {data.n} samples leaves an empty "
                        f"{'training' if at == 0 else 'validation'} set")
    return data.take(slice(0, at)), data.take(slice(at, data.n))


def unpack_validation(model: TrainableModel, validation_data: Any, need_y: bool = True) -> Arrays:
    """(x_val, y_val) or (x_val, y_val, sample_weight_val); y_val may be None when no loss needs
    targets (Keras' `validation_data=(x_test, None)` for a model trained on add_loss losses)."""
    if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
        raise FeedError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
    sw = validation_data[2] if len(validation_data) == 3 else None
    return prepare(model, validation_data[0], validation_data[1], sw, need_y=need_y)
