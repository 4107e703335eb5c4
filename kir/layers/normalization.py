"""BatchNormalization and LayerNormalization (Keras 3 weights, defaults and epsilon)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kir.ir.spec import TensorSpec
from kir.layers import _args
from kir.layers.base import Layer


class BatchNormalization(Layer):
    """Normalizes with batch statistics while training, moving statistics at inference."""

    supports_masking = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 0.001, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones",
                 beta_constraint: Any = None, gamma_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = _args.axis_arg(axis, "axis", f"BatchNormalization '{self.name}'")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        _args.initializer_args(self, beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                               moving_mean_initializer=moving_mean_initializer,
                               moving_variance_initializer=moving_variance_initializer)
        _args.constraint_args(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self._axis = None

    def build(self, input_specs: list[TensorSpec]) -> None:
        x = input_specs[0]
        self._axis = _args.positive_axis(self.axis, x.rank, self._where())
        shape = (x.shape[self._axis],)
        if shape[0] is None:
            from kir.errors import ShapeError

            raise ShapeError(f"{self._where()}: axis {self.axis} of the input must have a known size")
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)

    def ir_attrs(self) -> dict[str, Any]:
        return {"axis": self._axis, "epsilon": self.epsilon, "momentum": self.momentum,
                "center": self.center, "scale": self.scale}


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (default the last)."""

    supports_masking = True

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 0.001, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_constraint: Any = None, gamma_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = _args.axis_arg(axis, "axis", f"LayerNormalization '{self.name}'", many=True)
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        _args.initializer_args(self, beta_initializer=beta_initializer, gamma_initializer=gamma_initializer)
        _args.constraint_args(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self._axis: list[int] = []

    def build(self, input_specs: list[TensorSpec]) -> None:
        x = input_specs[0]
        self._axis = sorted(_args.positive_axis(a, x.rank, self._where()) for a in self.axis)
        shape = tuple(x.shape[a] for a in self._axis)
        if None in shape:
            from kir.errors import ShapeError

            raise ShapeError(f"{self._where()}: axis {self.axis[shape.index(None)]} of the input must have a known "
                             f"size (its gamma/beta have that size), got input shape {x.shape}; give the Input "
                             f"that dimension")
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer)

    def ir_attrs(self) -> dict[str, Any]:
        return {"axis": list(self._axis), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}
