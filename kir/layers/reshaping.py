"""Spatial reshaping layers: UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D (Keras 3's
arguments; channels_last unless data_format says otherwise)."""

from __future__ import annotations

import numbers
from typing import Any

from kir.errors import ConfigError
from kir.layers import _args
from kir.layers.base import Layer


def _pair(value: Any, what: str, where: str) -> list[int]:
    """An int n (-> [n, n]) or a pair of non-negative ints."""
    items = [value, value] if isinstance(value, numbers.Integral) else value
    try:
        items = list(items)
    except TypeError:
        items = []
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in items):
        raise ConfigError(f"{where}: {what} must be a non-negative int or a pair of them, got {value!r}")
    return [int(v) for v in items]


def _pairs_2d(value: Any, what: str, where: str) -> list[list[int]]:
    """An int, (rows, cols) or ((top, bottom), (left, right)) as [[top, bottom], [left, right]]."""
    if isinstance(value, numbers.Integral):
        return [_pair(value, what, where)] * 2
    try:
        items = list(value)
    except TypeError:
        items = []
    if len(items) != 2:
        raise ConfigError(f"{where}: {what} must be an int, a pair or a pair of pairs, got {value!r}")
    return [_pair(v, what, where) for v in items]


class UpSampling1D(Layer):
    """Repeats each step `size` times: (batch, steps, features) -> (batch, steps * size, features)."""

    def __init__(self, size: int = 2, **kwargs: Any):
        super().__init__(**kwargs)
        self.size = _args.int_tuple(size, 1, "size", f"UpSampling1D '{self.name}'")[0]

    def ir_attrs(self) -> dict[str, Any]:
        return {"size": [self.size], "interpolation": "nearest", "data_format": "channels_last"}


class UpSampling2D(Layer):
    """Scales rows and columns by `size` with 'nearest' (repeat) or 'bilinear' interpolation."""

    def __init__(self, size: Any = (2, 2), data_format: str | None = None, interpolation: str = "nearest",
                 **kwargs: Any):
        super().__init__(**kwargs)
        where = f"UpSampling2D '{self.name}'"
        self.size = _args.int_tuple(size, 2, "size", where)
        self.data_format = _args.data_format(data_format, where)
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in ("nearest", "bilinear"):
            raise ConfigError(f"{where}: interpolation {interpolation!r} is not supported by kir; "
                              f"use 'nearest' or 'bilinear'")

    def ir_attrs(self) -> dict[str, Any]:
        return {"size": list(self.size), "interpolation": self.interpolation, "data_format": self.data_format}


class _Margins(Layer):
    """ZeroPadding/Cropping: one (before, after) pair per spatial axis, in the attr named `arg`."""

    arg = "padding"
    rank = 1

    def _margins(self, value: Any, data_format: str | None) -> None:
        where = f"{type(self).__name__} '{self.name}'"
        # as Keras keeps them: (before, after) for 1D, ((top, bottom), (left, right)) for 2D
        setattr(self, self.arg, _pair(value, self.arg, where) if self.rank == 1 else _pairs_2d(value, self.arg, where))
        self.data_format = _args.data_format(data_format, where)

    def ir_attrs(self) -> dict[str, Any]:
        margins = getattr(self, self.arg)
        return {self.arg: [list(margins)] if self.rank == 1 else [list(p) for p in margins],
                "data_format": self.data_format}


class ZeroPadding1D(_Margins):
    """Pads the steps axis with zeros: `padding` is an int or (before, after)."""

    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._margins(padding, data_format)


class ZeroPadding2D(_Margins):
    """Pads rows and columns with zeros: an int, (rows, cols) or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._margins(padding, data_format)


class Cropping1D(_Margins):
    """Crops the steps axis: `cropping` is an int or (before, after)."""

    arg = "cropping"

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any):
        super().__init__(**kwargs)
        self._margins(cropping, None)


class Cropping2D(_Margins):
    """Crops rows and columns: an int, (rows, cols) or ((top, bottom), (left, right))."""

    arg, rank = "cropping", 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._margins(cropping, data_format)
