"""Argument normalization shared by layer constructors (Keras accepts ints or tuples)."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

from kir import activations, constraints, initializers, regularizers
from kir.errors import ConfigError

if TYPE_CHECKING:
    from kir.layers.base import Layer


def int_tuple(value: Any, n: int, what: str, layer: str) -> list[int]:
    """`3` -> [3, 3]; `(3, 1)` -> [3, 1] (numpy integers count); refuses non-positive or wrong-length values."""
    try:
        items = [value] * n if _is_int(value) else list(value)
    except TypeError:
        items = []
    if len(items) != n or any(not _is_int(v) or v <= 0 for v in items):
        raise ConfigError(f"{layer}: {what} must be a positive int or a tuple of {n} positive ints, got {value!r}")
    return [int(v) for v in items]


def int_list(value: Any, what: str, layer: str) -> list[int]:
    """A tuple/list of ints (numpy integers count) as a list; a bare int, a string or non-ints are
    refused with a ConfigError naming the argument (Keras takes e.g. `Reshape((3, 4))`)."""
    items = None if isinstance(value, (str, bytes)) or _is_int(value) else value
    try:
        items = list(items) if items is not None else None
    except TypeError:
        items = None
    if items is None or not all(_is_int(v) for v in items):
        raise ConfigError(f"{layer}: {what} must be a tuple of ints, got {value!r}"
                          + (f"; write ({value},) for one dimension" if _is_int(value) else ""))
    return [int(v) for v in items]


def axis_arg(value: Any, what: str, layer: str, many: bool = False) -> list[int] | int:
    """An int axis (or with `many`, an int or a list of ints), or a ConfigError naming the argument."""
    if _is_int(value):
        return [int(value)] if many else int(value)
    if many and not isinstance(value, (str, bytes)):
        try:
            items = list(value)
        except TypeError:
            items = []
        if items and all(_is_int(v) for v in items):
            return [int(v) for v in items]
    raise ConfigError(f"{layer}: {what} must be an int{' or a list of ints' if many else ''}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def rate(value: Any, what: str) -> float:
    """A fraction in [0, 1) (Python or numpy number), as Dropout's `rate` and the RNNs' dropouts."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ConfigError(f"{what} must be in [0, 1), got {value!r}")
    return float(value)


def kernel_args(layer: Layer, activation: Any, use_bias: Any, kernel_initializer: Any, bias_initializer: Any,
                kernel_regularizer: Any = None, bias_regularizer: Any = None,
                activity_regularizer: Any = None) -> None:
    """Set the arguments every layer with a kernel and an optional bias takes (Dense, Conv1D/2D,
    the RNNs): `activation`, `use_bias`, the kernel/bias initializers and regularizers and the
    activity regularizer."""
    layer.activation = activations.get(activation, layer.name)  # type: ignore[attr-defined]
    layer.use_bias = bool(use_bias)  # type: ignore[attr-defined]
    initializer_args(layer, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer)
    regularizer_args(layer, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                     activity_regularizer=activity_regularizer)


def _set(layer: Layer, module: Any, args: dict[str, Any]) -> None:
    """layer.<name> = module.get(value) for each argument; an object given to the constructor is kept
    in the layer's config as Keras' `{"class_name": ..., "config": ...}`, so configs stay JSON."""
    config = getattr(layer, "_config_args", {})
    for name, value in args.items():
        try:
            setattr(layer, name, module.get(value))
        except ConfigError as exc:
            raise ConfigError(f"{type(layer).__name__} '{layer.name}': {name}: {exc}") from None
        if name in config:
            config[name] = module.serialize(config[name])


def initializer_args(layer: Layer, **args: Any) -> None:
    """Resolve initializer arguments (`kernel_initializer=RandomNormal(stddev=0.01)`, 'orthogonal', ...)."""
    _set(layer, initializers, args)


def regularizer_args(layer: Layer, **args: Any) -> None:
    """Resolve regularizer arguments (`kernel_regularizer=l2(0.01)`, 'l1', None)."""
    _set(layer, regularizers, args)


def _per_weight(layer: Layer, own: dict[str, Any], kind: str) -> dict[str, Any]:
    """weight name -> its `kind` ('regularizer', 'constraint'): what `add_weight(<kind>=...)` recorded
    in `own`, else the layer's `<weight>_<kind>` argument (`kernel` -> `kernel_<kind>`,
    `recurrent_kernel` -> `recurrent_<kind>`)."""
    out = {}
    for weight in layer.weight_names():
        attr = f"recurrent_{kind}" if weight == "recurrent_kernel" else f"{weight}_{kind}"
        found = own.get(weight) or getattr(layer, attr, None)
        if found is not None:
            out[weight] = found
    return out


def weight_regularizers(layer: Layer) -> dict[str, Any]:
    """weight name -> the regularizer that penalizes it."""
    return _per_weight(layer, layer._weight_regularizers, "regularizer")


def constraint_args(layer: Layer, **args: Any) -> None:
    """Resolve constraint arguments (`kernel_constraint=MaxNorm(2)`, 'non_neg', None)."""
    _set(layer, constraints, args)


def weight_constraints(layer: Layer) -> dict[str, Any]:
    """weight name -> the constraint that projects it after each optimizer step."""
    return _per_weight(layer, layer._weight_constraints, "constraint")


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
