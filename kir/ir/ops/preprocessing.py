"""Shape rules for the preprocessing ops that stay in a model: Rescaling (x * scale + offset) and
Normalization ((x - mean) / max(sqrt(variance), 1e-7), or its inverse)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kir.errors import ShapeError
from kir.ir.ops._checks import differ, expect_inputs, fmt
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec

#: Keras' backend.epsilon(): the smallest standard deviation Normalization divides by.
NORMALIZATION_EPSILON = 1e-7


@shape_rule("Rescaling")
def rescaling_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Same shape, float32; a list scale/offset must broadcast against the trailing dims."""
    expect_inputs("Rescaling", inputs, 1)
    (x,) = inputs
    for key in ("scale", "offset"):
        shape = np.shape(attrs.get(key, 0.0))
        if len(shape) > x.rank or any(s != 1 and d != 1 and differ(d, s)
                                      for d, s in zip(x.shape[::-1], shape[::-1])):
            raise ShapeError(f"Rescaling {key} of shape {fmt(shape)} does not broadcast against input shape {fmt(x)}")
    return [TensorSpec(x.shape, "float32")]


def broadcast_shape(attrs: Mapping[str, Any]) -> list[int]:
    """The shape (batch included, 1 on reduced axes) mean and variance take in the arithmetic."""
    return [int(d) for d in attrs["broadcast_shape"]]


@shape_rule("Normalization")
def normalization_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Same shape, float32; the kept axes must have the sizes the statistics have."""
    expect_inputs("Normalization", inputs, 1)
    (x,) = inputs
    target = broadcast_shape(attrs)
    if len(target) != x.rank or any(t != 1 and differ(d, t) for d, t in zip(x.shape, target)):
        raise ShapeError(f"Normalization's mean and variance (broadcast shape {fmt(target)}) do not fit input shape "
                         f"{fmt(x)}; call it on tensors like the ones it was built on (or adapted to)")
    return [TensorSpec(x.shape, "float32")]
