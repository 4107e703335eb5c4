"""Numpy lowerings of local and global pooling (TF/Keras semantics: 'same' max pooling ignores
padding, 'same' average pooling divides by the number of real elements in each window)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kir.backends.numpy.lowerings._windows import from_channels_last, pad_amounts, to_channels_last
from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops._checks import as_list


def _windows(x: np.ndarray, pool: list[int], strides: list[int], axes: tuple[int, ...]) -> np.ndarray:
    """Strided window view: (..., *out, ..., *pool) with the window dims last."""
    view = sliding_window_view(x, pool, axis=axes)
    index = [slice(None)] * x.ndim
    for axis, s in zip(axes, strides):
        index[axis] = slice(None, None, s)
    return view[tuple(index)]


def pool(attrs, x: np.ndarray, kind: str) -> np.ndarray:
    """Max or average pooling of a channels_last x."""
    n = x.ndim - 2
    size = as_list(attrs["pool_size"], n)
    strides = as_list(attrs.get("strides") or size, n)
    padding = attrs.get("padding", "valid")
    pads = [(0, 0), *pad_amounts(x.shape[1:-1], size, strides, [1] * n, padding), (0, 0)]
    axes = tuple(range(1, n + 1))
    window_axes = tuple(range(-n, 0))
    if kind == "max":
        xp = np.pad(x, pads, constant_values=-np.inf)
        return _windows(xp, size, strides, axes).max(axis=window_axes)
    total = _windows(np.pad(x, pads), size, strides, axes).sum(axis=window_axes, dtype=np.float32)
    ones = np.pad(np.ones(x.shape[1:-1], dtype=np.float32), pads[1:-1])
    count = _windows(ones, size, strides, tuple(range(n))).sum(axis=window_axes)
    return total / count[None, ..., None]


def _local(kind: str):
    def lowering(ctx, attrs, inputs, params):
        x = to_channels_last(attrs, np.asarray(inputs[0], dtype=np.float32))
        return [from_channels_last(attrs, pool(attrs, x, kind).astype(np.float32))]

    return lowering


def _global(kind: str):
    def lowering(ctx, attrs, inputs, params):
        x = np.asarray(inputs[0], dtype=np.float32)
        first = attrs.get("data_format") == "channels_first"
        axes = tuple(range(2, x.ndim)) if first else tuple(range(1, x.ndim - 1))
        reduce = np.max if kind == "max" else np.mean
        return [reduce(x, axis=axes, keepdims=bool(attrs.get("keepdims", False))).astype(np.float32)]

    return lowering


LOWERINGS.register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")(_local("max"))
LOWERINGS.register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")(_local("avg"))
LOWERINGS.register("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")(_global("max"))
LOWERINGS.register("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")(_global("avg"))
