"""Shape rules for local (Max/AveragePooling1D/2D/3D) and global pooling (1D/2D/3D)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import as_list, channel_axis, spatial_axes, windowed_input, windowed_shape
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


def _pool_rule(op: str, rank: int):
    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        x = windowed_input(op, inputs, attrs, rank)
        if attrs.get("padding", "valid") not in ("valid", "same"):
            raise ShapeError(f"{op} supports padding 'valid' or 'same', got '{attrs.get('padding')}'")
        n = rank - 2
        pool = as_list(attrs["pool_size"], n)
        strides = as_list(attrs.get("strides") or pool, n)
        shape = windowed_shape(op, x, attrs, pool, strides, [1] * n, None, "pool_size")
        return [TensorSpec(shape, "float32")]

    return rule


def _global_rule(op: str, rank: int):
    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        x = windowed_input(op, inputs, attrs, rank)
        if attrs.get("keepdims"):
            shape = list(x.shape)
            for axis in spatial_axes(attrs, rank):
                shape[axis] = 1
            return [TensorSpec(tuple(shape), "float32")]
        return [TensorSpec((x.shape[0], x.shape[channel_axis(attrs, rank)]), "float32")]

    return rule


for _kind in ("Max", "Average"):
    for _dims in (1, 2, 3):
        shape_rule(f"{_kind}Pooling{_dims}D")(_pool_rule(f"{_kind}Pooling{_dims}D", _dims + 2))
        shape_rule(f"Global{_kind}Pooling{_dims}D")(_global_rule(f"Global{_kind}Pooling{_dims}D", _dims + 2))
