"""Preprocessing layers that belong to the model: Rescaling, Normalization (with `adapt`) and Identity."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from kir.errors import ConfigError, ShapeError
from kir.ir.spec import TensorSpec, format_shape
from kir.layers.base import Layer


def _numbers(value: Any, what: str) -> float | list:
    """A float, or a (nested) list of floats for per-channel values."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype == object or not np.all(np.isfinite(array)):
        raise ConfigError(f"{what} must be a finite number or a list of numbers, got {value!r:.60}")
    return float(array) if array.ndim == 0 else array.tolist()


class Rescaling(Layer):
    """x * scale + offset, e.g. Rescaling(1 / 255) or Rescaling(1 / 127.5, offset=-1)."""

    supports_masking = True

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.scale = _numbers(scale, f"Rescaling '{self.name}': scale")
        self.offset = _numbers(offset, f"Rescaling '{self.name}': offset")

    def ir_attrs(self) -> dict[str, Any]:
        return {"scale": self.scale, "offset": self.offset}


class Identity(Layer):
    """Returns its input (a placeholder layer; removed from optimized graphs)."""

    supports_masking = True


class Normalization(Layer):
    """(x - mean) / sqrt(variance) per position of the kept `axis` (default the last; None: one mean
    and variance for everything), with `invert` the inverse. The statistics come from `mean` and
    `variance` or from `adapt(data)`; adapted ones are Keras' non-trainable weights mean, variance
    and count (Keras leaves count at 0, and so does kir)."""

    supports_masking = True

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None, invert: bool = False,
                 **kwargs: Any):
        super().__init__(**kwargs)
        where = f"Normalization '{self.name}'"
        if axis is None:
            axes: list[int] = []
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axes = [int(axis)]
        elif isinstance(axis, (list, tuple)) and all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                                                     for a in axis):
            axes = [int(a) for a in axis]
        else:
            raise ConfigError(f"{where}: axis must be an int, a list of ints or None, got {axis!r}")
        self.axis = axes
        self.invert = bool(invert)
        if (mean is None) != (variance is None):
            raise ConfigError(f"{where}: pass both mean and variance, or neither (and call adapt())")
        self.input_mean = None if mean is None else _numbers(mean, f"{where}: mean")
        self.input_variance = None if variance is None else _numbers(variance, f"{where}: variance")
        if mean is not None:
            if np.shape(self.input_mean) != np.shape(self.input_variance):
                raise ConfigError(f"{where}: mean and variance must have one shape, got {np.shape(self.input_mean)} "
                                  f"and {np.shape(self.input_variance)}")
            if np.ndim(self.input_mean) > len(axes):
                raise ConfigError(f"{where}: mean has rank {np.ndim(self.input_mean)}, more than the {len(axes)} "
                                  f"kept axes {axes}")
        self._shape: list[int] | None = None

    # ------------------------------------------------------------------ geometry
    def _geometry(self, shape: tuple) -> tuple[list[int], list[int]]:
        """(kept axes, broadcast shape) for inputs of `shape` (batch included)."""
        rank = len(shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise ShapeError(f"{self._where()}: axis {self.axis} is out of range for inputs of shape "
                             f"{format_shape(shape)}")
        keep = sorted({a % rank for a in self.axis})
        if any(shape[a] is None for a in keep):
            raise ShapeError(f"{self._where()}: the kept axes {keep} of {format_shape(shape)} must have known sizes")
        return keep, [int(shape[a]) if a in keep else 1 for a in range(rank)]

    def build(self, input_specs: list[TensorSpec]) -> None:
        keep, target = self._geometry(tuple(input_specs[0].shape))
        self._shape = target
        if self.input_mean is None:
            stats = tuple(target[a] for a in keep)
            self.add_weight("mean", stats, "zeros", trainable=False)
            self.add_weight("variance", stats, "ones", trainable=False)
            self.add_weight("count", (), "zeros", trainable=False, dtype="int64")

    def _given(self, value: Any) -> list:
        """A constructor mean/variance in the broadcast shape (its last dims on the last kept axes)."""
        target = self._shape or []
        array = np.asarray(value, np.float32)
        kept = sorted({a % len(target) for a in self.axis})
        expanded = [1] * len(target)
        for i in range(1, array.ndim + 1):
            expanded[kept[-i]] = array.shape[-i]
        try:
            return np.broadcast_to(array.reshape(expanded), target).tolist()
        except ValueError:
            raise ShapeError(f"{self._where()}: mean/variance of shape {array.shape} do not fit the kept axes of "
                             f"inputs with broadcast shape {format_shape(tuple(target))}") from None

    def ir_attrs(self) -> dict[str, Any]:
        if self._shape is None:
            raise ShapeError(f"{self._where()}: call the layer on an input (or adapt it) before use")
        attrs: dict[str, Any] = {"axis": list(self.axis), "invert": self.invert, "broadcast_shape": list(self._shape)}
        if self.input_mean is not None:
            attrs["mean"] = self._given(self.input_mean)
            attrs["variance"] = self._given(self.input_variance)
        return attrs

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        if self._shape is None:
            _, self._shape = self._geometry(tuple(input_specs[0].shape))
        return super().compute_output_specs(input_specs)

    def emit(self, emitter: Any, inputs: list, node: Any) -> list:
        """One Normalization vertex with mean and variance as params (count is bookkeeping only)."""
        weights = [] if self.input_mean is not None else ["mean", "variance"]
        return emitter.layer_op(self, inputs, weights=weights, name=self._vertex_name(node))

    # ------------------------------------------------------------------ adapt
    def adapt(self, data: Any) -> None:
        """Set mean and variance to those of `data`: an array (batch first) or an iterable of
        batches, or of (x, y) pairs (combined as Keras combines them)."""
        if self.input_mean is not None:
            raise ConfigError(f"{self._where()}: mean and variance were given to the constructor; adapt() would "
                              f"not change them")
        batches: Iterable[Any] = [data] if isinstance(data, np.ndarray) or hasattr(data, "shape") else data
        total_mean = total_var = None
        count = 0
        for batch in batches:
            if isinstance(batch, tuple):  # (x, y) pairs of a dataset: the features, as Keras takes them
                batch = batch[0]
            batch = np.asarray(batch, dtype=np.float32)
            spec = TensorSpec((None, *batch.shape[1:]), "float32")
            if not self.built:
                self.build_once([spec])
            keep, target = self._geometry(batch.shape)
            if len(target) != len(self._shape or []) or any(target[a] != self._shape[a] for a in keep):
                raise ShapeError(f"{self._where()}: adapt() got data of shape {format_shape(batch.shape)}, but the "
                                 f"layer was built for broadcast shape {format_shape(tuple(self._shape))}")
            reduce = tuple(a for a in range(batch.ndim) if a not in keep)
            mean, var = np.mean(batch, axis=reduce), np.var(batch, axis=reduce)
            n = int(np.prod([batch.shape[a] for a in reduce])) if reduce else 1
            if total_mean is None:
                total_mean, total_var, count = mean, var, n
                continue
            count += n
            w = n / count
            new_mean = total_mean * (1 - w) + mean * w
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w) + (var + (mean - new_mean) ** 2) * w
            total_mean = new_mean
        if total_mean is None:
            raise ConfigError(f"{self._where()}: adapt() got no data; pass an array or a non-empty list of batches")
        self.assign_weight("mean", np.asarray(total_mean, np.float32))
        self.assign_weight("variance", np.asarray(total_var, np.float32))
