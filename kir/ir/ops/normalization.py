"""Shape rules for BatchNormalization and LayerNormalization: shape-preserving, but the
normalized axes must exist and match the parameter shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import differ, expect_inputs, fmt
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


def _check_axes(op: str, x: TensorSpec, axes: list[int]) -> None:
    for axis in axes:
        if not 1 <= axis < x.rank:
            raise ShapeError(
                f"{op} axis {axis} is out of range for input shape {fmt(x)}; "
                f"use an axis between 1 and {x.rank - 1} (axis 0 is the batch)"
            )


def _check_params(op: str, x: TensorSpec, want: tuple, params: Mapping[str, tuple]) -> None:
    for role, shape in params.items():
        if len(shape) != len(want) or any(differ(a, b) for a, b in zip(shape, want)):
            raise ShapeError(
                f"{op} parameter '{role}' has shape {fmt(shape)} but input shape {fmt(x)} needs "
                f"{fmt(want)}; a built layer keeps its feature size, so call it on matching tensors "
                f"or use a new {op} layer"
            )


@shape_rule("BatchNormalization")
def batch_norm_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Same shape; gamma/beta/moving stats are vectors over `axis`."""
    expect_inputs("BatchNormalization", inputs, 1)
    (x,) = inputs
    axis = int(attrs.get("axis", x.rank - 1))
    _check_axes("BatchNormalization", x, [axis])
    _check_params("BatchNormalization", x, (x.shape[axis],), params)
    return [TensorSpec(x.shape, "float32")]


@shape_rule("LayerNormalization")
def layer_norm_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Same shape; gamma/beta have the sizes of the normalized axes (sorted, like Keras)."""
    expect_inputs("LayerNormalization", inputs, 1)
    (x,) = inputs
    raw = attrs.get("axis", [x.rank - 1])
    axes = sorted(int(a) for a in ([raw] if isinstance(raw, int) else raw))
    _check_axes("LayerNormalization", x, axes)
    _check_params("LayerNormalization", x, tuple(x.shape[a] for a in axes), params)
    return [TensorSpec(x.shape, "float32")]
