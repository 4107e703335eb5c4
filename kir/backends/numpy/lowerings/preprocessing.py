"""Rescaling and Normalization in numpy: the reference semantics (Keras 3's formulas, float32)."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops.preprocessing import NORMALIZATION_EPSILON, broadcast_shape


@LOWERINGS.register("Rescaling")
def rescaling(ctx, attrs, inputs, params):
    """x * scale + offset (scale and offset broadcast like numpy)."""
    x = np.asarray(inputs[0], dtype=np.float32)
    scale = np.asarray(attrs.get("scale", 1.0), dtype=np.float32)
    offset = np.asarray(attrs.get("offset", 0.0), dtype=np.float32)
    return [(x * scale + offset).astype(np.float32)]


def statistics(attrs, params) -> tuple[np.ndarray, np.ndarray]:
    """(mean, variance) in their broadcast shape: the adapted weights, or the constructor's values."""
    shape = broadcast_shape(attrs)
    if "mean" in params:
        mean, variance = params["mean"], params["variance"]
    else:
        mean, variance = attrs["mean"], attrs["variance"]
    return (np.asarray(mean, np.float32).reshape(shape), np.asarray(variance, np.float32).reshape(shape))


@LOWERINGS.register("Normalization")
def normalization(ctx, attrs, inputs, params):
    """(x - mean) / max(sqrt(variance), eps); with `invert`, mean + x * max(sqrt(variance), eps)."""
    x = np.asarray(inputs[0], dtype=np.float32)
    mean, variance = statistics(attrs, params)
    std = np.maximum(np.sqrt(variance), np.float32(NORMALIZATION_EPSILON))
    y = mean + x * std if attrs.get("invert") else (x - mean) / std
    return [y.astype(np.float32)]
