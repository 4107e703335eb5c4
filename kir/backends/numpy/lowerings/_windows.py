"""Layout and padding helpers shared by the conv and pooling lowerings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def to_channels_last(attrs: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """NCW/NCHW -> NWC/NHWC when the op runs channels_first; otherwise x unchanged."""
    if attrs.get("data_format") == "channels_first":
        return np.moveaxis(x, 1, -1)
    return x


def from_channels_last(attrs: Mapping[str, Any], y: np.ndarray) -> np.ndarray:
    """Undo to_channels_last on a result."""
    if attrs.get("data_format") == "channels_first":
        return np.moveaxis(y, -1, 1)
    return y


def pad_amounts(
    sizes: Sequence[int], window: Sequence[int], strides: Sequence[int], dilation: Sequence[int], padding: str
) -> list[tuple[int, int]]:
    """(before, after) per spatial axis, TF/Keras style: 'same' puts the odd pixel after,
    'causal' pads only before."""
    pads = []
    for n, k, s, d in zip(sizes, window, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "valid":
            pads.append((0, 0))
        elif padding == "causal":
            pads.append((span - 1, 0))
        else:
            out = -(-n // s)
            total = max((out - 1) * s + span - n, 0)
            pads.append((total // 2, total - total // 2))
    return pads
