"""Keras 3's weight regularizers: `L1`, `L2`, `L1L2` (also `l1`, `l2`, `l1_l2`), by object, name or config.

A regularizer maps a weight (or a layer output, for `activity_regularizer`) to a scalar penalty.
It is written with `kir.backend` ops, so training evaluates it on TensorFlow variables inside the
step and adds it to the loss, as Keras does; on numpy arrays it gives the same number eagerly.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import kir.backend as K
from kir.errors import ConfigError
from kir.initializers import from_keras_config, keras_config, resolve


def _factor(value: Any, name: str, default: float) -> float:
    value = default if value is None else value
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isinf(value) or math.isnan(value)
            or value < 0):
        raise ConfigError(f"regularizer argument {name} must be a non-negative float, got {value!r}")
    return float(value)


class Regularizer:
    """Base class: `reg(x)` is the penalty of tensor `x`."""

    def __call__(self, x: Any) -> Any:
        return 0.0

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x ** 2)`; both default to 0."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _factor(l1, "l1", 0.0)
        self.l2 = _factor(l2, "l2", 0.0)

    def __call__(self, x: Any) -> Any:
        penalty: Any = 0.0
        if self.l1:
            penalty = penalty + self.l1 * K.sum(K.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * K.sum(K.square(x))
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|x|)`, l1 = 0.01 by default."""

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = _factor(l1, "l1", 0.01)

    def __call__(self, x: Any) -> Any:
        return self.l1 * K.sum(K.abs(x))

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x ** 2)`, l2 = 0.01 by default."""

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = _factor(l2, "l2", 0.01)

    def __call__(self, x: Any) -> Any:
        return self.l2 * K.sum(K.square(x))

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2

CLASSES: dict[str, type[Regularizer]] = {"L1": L1, "L2": L2, "L1L2": L1L2}
NAMES: dict[str, type[Regularizer]] = {**CLASSES, "l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
"""Every name Keras 3 accepts for a regularizer."""


def serialize(regularizer: Any) -> Any:
    """A name stays a name; a kir regularizer becomes Keras' `{"class_name": ..., "config": {...}}`."""
    return keras_config(regularizer, CLASSES)


def deserialize(config: dict) -> Regularizer:
    """The regularizer of a Keras config dict."""
    return from_keras_config(config, NAMES, "regularizer")


def get(identifier: Any) -> Any:
    """A regularizer for None (none), a name ('l2'), a Regularizer (or class), a config dict, or a
    function fn(x) -> scalar."""
    if identifier is None:
        return None
    found = resolve(identifier, Regularizer, NAMES, "regularizer")
    if found is not None:
        return found
    if callable(identifier):
        return identifier
    raise ConfigError(f"could not interpret regularizer {identifier!r}; pass 'l1', 'l2', "
                      f"kir.regularizers.l2(0.01) or a function fn(weights) -> scalar")


__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]
