"""Shape rules for the spatial reshaping ops: UpSampling1D/2D (`size` per spatial axis,
`interpolation`), ZeroPadding1D/2D (`padding`: [before, after] per spatial axis) and Cropping1D/2D
(`cropping`: [before, after] per spatial axis); channels_last unless `data_format` says otherwise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import fmt, spatial_axes, windowed_input
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec

INTERPOLATIONS = ("nearest", "bilinear")


def pairs(value: Any) -> list[tuple[int, int]]:
    """A padding/cropping attr as one (before, after) pair per spatial axis."""
    return [(int(a), int(b)) for a, b in value]


def _rule(op: str, rank: int, grow):
    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        x = windowed_input(op, inputs, attrs, rank)
        shape = list(x.shape)
        for i, axis in enumerate(spatial_axes(attrs, rank)):
            if shape[axis] is not None:
                shape[axis] = grow(attrs, i, shape[axis])
                if shape[axis] <= 0:
                    raise ShapeError(f"{op} {dict(attrs)} leaves axis {axis} of input shape {fmt(x)} empty; "
                                     f"crop less")
        return [TensorSpec(tuple(shape), x.dtype)]

    return rule


def _upsample(attrs: Mapping[str, Any], i: int, n: int) -> int:
    if attrs.get("interpolation", "nearest") not in INTERPOLATIONS:
        raise ShapeError(f"UpSampling interpolation must be one of {INTERPOLATIONS}, got {attrs['interpolation']!r}")
    return n * int(attrs["size"][i])


def _pad(attrs: Mapping[str, Any], i: int, n: int) -> int:
    return n + sum(pairs(attrs["padding"])[i])


def _crop(attrs: Mapping[str, Any], i: int, n: int) -> int:
    return n - sum(pairs(attrs["cropping"])[i])


for _rank, _suffix in ((3, "1D"), (4, "2D")):
    shape_rule(f"UpSampling{_suffix}")(_rule(f"UpSampling{_suffix}", _rank, _upsample))
    shape_rule(f"ZeroPadding{_suffix}")(_rule(f"ZeroPadding{_suffix}", _rank, _pad))
    shape_rule(f"Cropping{_suffix}")(_rule(f"Cropping{_suffix}", _rank, _crop))
