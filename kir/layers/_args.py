"""Argument normalization shared by layer constructors (Keras accepts ints or tuples)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kir import activations, initializers
from kir.errors import ConfigError

if TYPE_CHECKING:
    from kir.layers.base import Layer


def int_tuple(value: Any, n: int, what: str, layer: str) -> list[int]:
    """`3` -> [3, 3]; `(3, 1)` -> [3, 1]; refuses non-positive or wrong-length values."""
    items = [value] * n if isinstance(value, int) and not isinstance(value, bool) else list(value)
    if len(items) != n or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in items):
        raise ConfigError(f"{layer}: {what} must be a positive int or a tuple of {n} positive ints, got {value!r}")
    return [int(v) for v in items]


def kernel_args(layer: Layer, activation: Any, use_bias: Any, kernel_initializer: Any,
                bias_initializer: Any) -> None:
    """Set the arguments every layer with a kernel and an optional bias takes (Dense, Conv1D/2D,
    the RNNs): `activation`, `use_bias`, `kernel_initializer`, `bias_initializer`."""
    layer.activation = activations.get(activation, layer.name)  # type: ignore[attr-defined]
    layer.use_bias = bool(use_bias)  # type: ignore[attr-defined]
    layer.kernel_initializer = initializers.get(kernel_initializer)  # type: ignore[attr-defined]
    layer.bias_initializer = initializers.get(bias_initializer)  # type: ignore[attr-defined]


def padding(value: Any, layer: str, allowed: tuple[str, ...] = ("valid", "same")) -> str:
    mode = str(value).lower()
    if mode not in allowed:
        raise ConfigError(f"{layer}: padding must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return mode


def data_format(value: Any, layer: str) -> str:
    fmt = value or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ConfigError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {value!r}")
    return fmt


def positive_axis(axis: int, rank: int, layer: str) -> int:
    """A Keras axis (may be negative) as a positive index into a rank-`rank` shape."""
    from kir.errors import ShapeError

    if not -rank <= axis < rank:
        raise ShapeError(f"{layer}: axis {axis} is out of range for inputs of rank {rank}")
    return axis % rank
