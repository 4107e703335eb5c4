"""Numpy lowerings of BatchNormalization (inference: moving statistics) and LayerNormalization."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.table import LOWERINGS


def _along(v: np.ndarray, ndim: int, axes: list[int]) -> np.ndarray:
    """Reshape a parameter over `axes` so it broadcasts against an ndim tensor."""
    shape = [1] * ndim
    for axis, size in zip(axes, np.shape(v)):
        shape[axis] = size
    return np.asarray(v, dtype=np.float32).reshape(shape)


@LOWERINGS.register("BatchNormalization")
def batch_norm(ctx, attrs, inputs, params):
    """(x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta along `axis`."""
    x = np.asarray(inputs[0], dtype=np.float32)
    axes = [int(attrs.get("axis", x.ndim - 1))]
    eps = np.float32(attrs.get("epsilon", 1e-3))
    inv = 1.0 / np.sqrt(_along(params["moving_variance"], x.ndim, axes) + eps)
    if attrs.get("scale", True) and "gamma" in params:
        inv = inv * _along(params["gamma"], x.ndim, axes)
    y = (x - _along(params["moving_mean"], x.ndim, axes)) * inv
    if attrs.get("center", True) and "beta" in params:
        y = y + _along(params["beta"], x.ndim, axes)
    return [y.astype(np.float32)]


@LOWERINGS.register("LayerNormalization")
def layer_norm(ctx, attrs, inputs, params):
    """Normalize over `axis` (a list) with the per-sample mean/variance, then scale and shift."""
    x = np.asarray(inputs[0], dtype=np.float32)
    raw = attrs.get("axis", [x.ndim - 1])
    axes = sorted(int(a) for a in ([raw] if isinstance(raw, int) else raw))
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = np.square(x - mean).mean(axis=tuple(axes), keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float32(attrs.get("epsilon", 1e-3)))
    if attrs.get("scale", True) and "gamma" in params:
        y = y * _along(np.reshape(params["gamma"], [x.shape[a] for a in axes]), x.ndim, axes)
    if attrs.get("center", True) and "beta" in params:
        y = y + _along(np.reshape(params["beta"], [x.shape[a] for a in axes]), x.ndim, axes)
    return [y.astype(np.float32)]
