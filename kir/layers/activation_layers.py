"""Keras' activation layers: ReLU, LeakyReLU (both the `ReLU` op), PReLU (a learned slope) and
Softmax (over any axes). ELU and Activation live in core.py."""

from __future__ import annotations

import numbers
from typing import Any

from kir.errors import ConfigError, ShapeError
from kir.ir.spec import TensorSpec, format_shape
from kir.layers import _args
from kir.layers.base import Layer


def _non_negative(value: Any, what: str, allow_none: bool = False) -> float | None:
    """A float >= 0 (None too when `allow_none`), as Keras' ReLU/LeakyReLU check theirs."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ConfigError(f"{what} must be a non-negative number{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


class ReLU(Layer):
    """Keras' rectifier: min(x, max_value) above `threshold`, negative_slope * (x - threshold) below."""

    supports_masking = True

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any):
        super().__init__(**kwargs)
        where = f"ReLU '{self.name}'"
        self.max_value = _non_negative(max_value, f"{where}: max_value", allow_none=True)
        self.negative_slope = _non_negative(negative_slope, f"{where}: negative_slope")
        self.threshold = _non_negative(threshold, f"{where}: threshold")

    def ir_attrs(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """x if x >= 0 else negative_slope * x (Keras 3's default slope 0.3; `alpha` is its old name)."""

    supports_masking = True

    op_type = "ReLU"

    def __init__(self, negative_slope: float = 0.3, alpha: float | None = None, **kwargs: Any):
        if alpha is not None:  # tf.keras 2 files and Keras 3's deprecated spelling
            negative_slope = alpha
            self._config_args.pop("alpha", None)
            self._config_args["negative_slope"] = negative_slope
        super().__init__(**kwargs)
        self.negative_slope = _non_negative(negative_slope, f"LeakyReLU '{self.name}': negative_slope")

    def ir_attrs(self) -> dict[str, Any]:
        return {"max_value": None, "negative_slope": self.negative_slope, "threshold": 0.0}


class PReLU(Layer):
    """x if x > 0 else alpha * x with a learned `alpha` of the input's non-batch shape, shared (size 1)
    along `shared_axes` (1-based like Keras, e.g. [1, 2] for one slope per image channel)."""

    supports_masking = True

    def __init__(self, alpha_initializer: Any = "Zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        _args.initializer_args(self, alpha_initializer=alpha_initializer)
        _args.regularizer_args(self, alpha_regularizer=alpha_regularizer)
        _args.constraint_args(self, alpha_constraint=alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, numbers.Integral) or a < 1 for a in axes):
                raise ConfigError(f"PReLU '{self.name}': shared_axes must be positive ints (1-based, the batch "
                                  f"axis excluded), got {shared_axes!r}")
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_specs: list[TensorSpec]) -> None:
        x = input_specs[0]
        shape = list(x.shape[1:])
        for axis in self.shared_axes or []:
            if axis > len(shape):
                raise ShapeError(f"{self._where()}: shared axis {axis} is out of range for inputs of shape "
                                 f"{format_shape(x.shape)}")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ShapeError(f"{self._where()}: the non-batch dimensions of {format_shape(x.shape)} must be known "
                             f"(or listed in shared_axes) to size alpha")
        self.add_weight("alpha", tuple(shape), self.alpha_initializer)

    def ir_attrs(self) -> dict[str, Any]:
        return {"shared_axes": self.shared_axes}


class Softmax(Layer):
    """softmax over `axis` (an int, or a list of axes normalized together)."""

    def __init__(self, axis: Any = -1, **kwargs: Any):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
            raise ConfigError(f"Softmax '{self.name}': axis must be an int or a list of ints, got {axis!r}")
        self.axis = int(axis) if isinstance(axis, numbers.Integral) else [int(a) for a in axes]

    def ir_attrs(self) -> dict[str, Any]:
        return {"axis": self.axis}
