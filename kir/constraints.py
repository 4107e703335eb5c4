"""Keras 3's weight constraints: `MaxNorm`, `NonNeg`, `UnitNorm`, `MinMaxNorm` (also `max_norm`,
`non_neg`, `unit_norm`, `min_max_norm`), by object, name or config.

A constraint projects a weight after each optimizer step (Keras 3 assigns
`variable.constraint(variable)` once the gradients are applied, inside the optimizer's `apply`, so
not on a step the LossScaleOptimizer skips; kir's `Optimizer.apply(..., constraints)` does the
same). It is written with `kir.backend`
ops, so training evaluates it on the TensorFlow variables inside the step; on numpy arrays it
gives the same values eagerly.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import kir.backend as K
from kir.errors import ConfigError
from kir.initializers import from_keras_config, keras_config, resolve


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ConfigError(f"constraint argument {name} must be a number, got {value!r}")
    return value


def _axis(value: Any) -> Any:
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in items):
        raise ConfigError(f"constraint argument axis must be an int or a list of ints, got {value!r}")
    return [int(a) for a in value] if isinstance(value, (list, tuple)) else int(value)


def _norms(w: Any, axis: Any) -> Any:
    return K.sqrt(K.sum(K.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: `constraint(w)` is the projected weight (the identity here)."""

    def __call__(self, w: Any) -> Any:
        return w

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales the weights along `axis` whose L2 norm exceeds `max_value`:
    `w * clip(norm, 0, max_value) / (epsilon + norm)`."""

    def __init__(self, max_value: float = 2, axis: Any = 0) -> None:
        self.max_value = _number(max_value, "max_value")
        self.axis = _axis(axis)

    def __call__(self, w: Any) -> Any:
        norms = _norms(w, self.axis)
        return w * (K.clip(norms, 0, self.max_value) / (K.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """`maximum(w, 0)`."""

    def __call__(self, w: Any) -> Any:
        return K.maximum(w, 0.0)


class UnitNorm(Constraint):
    """`w / (epsilon + norm)`: unit L2 norm along `axis`."""

    def __init__(self, axis: Any = 0) -> None:
        self.axis = _axis(axis)

    def __call__(self, w: Any) -> Any:
        return w / (K.epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norm along `axis` into [min_value, max_value] at `rate` (1: exactly):
    `w * (rate * clip(norm, min, max) + (1 - rate) * norm) / (epsilon + norm)`."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Any = 0) -> None:
        self.min_value = _number(min_value, "min_value")
        self.max_value = _number(max_value, "max_value")
        self.rate = _number(rate, "rate")
        self.axis = _axis(axis)

    def __call__(self, w: Any) -> Any:
        norms = _norms(w, self.axis)
        desired = self.rate * K.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (K.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

CLASSES: dict[str, type[Constraint]] = {"Constraint": Constraint, "MaxNorm": MaxNorm, "NonNeg": NonNeg,
                                        "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm}
NAMES: dict[str, type[Constraint]] = {**CLASSES, "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
                                      "min_max_norm": MinMaxNorm}
"""Every name Keras 3 accepts for a constraint."""


def serialize(constraint: Any) -> Any:
    """A name stays a name; a kir constraint becomes Keras' `{"class_name": ..., "config": {...}}`."""
    return keras_config(constraint, CLASSES)


def deserialize(config: dict) -> Constraint:
    """The constraint of a Keras config dict."""
    return from_keras_config(config, NAMES, "constraint")


def get(identifier: Any) -> Any:
    """A constraint for None (none), a name ('max_norm'), a Constraint (or class), a config dict,
    or a function fn(w) -> projected w."""
    if identifier is None:
        return None
    found = resolve(identifier, Constraint, NAMES, "constraint")
    if found is not None:
        return found
    if callable(identifier):
        return identifier
    raise ConfigError(f"could not interpret constraint {identifier!r}; pass 'max_norm', 'non_neg', 'unit_norm', "
                      f"'min_max_norm', kir.constraints.MaxNorm(2.0) or a function fn(w) -> w")


__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg", "unit_norm",
           "min_max_norm", "get", "serialize", "deserialize"]
