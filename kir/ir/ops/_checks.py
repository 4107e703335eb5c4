"""Small shared checks for shape rules: input counts, ranks, dims and window arithmetic.

Every helper raises ShapeError with the shapes formatted like Keras prints them, so rule
modules stay short and messages read the same across ops.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.spec import Shape, TensorSpec, format_shape

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "uint8", "int32", "int64")


def fmt(spec: TensorSpec | Shape) -> str:
    """A spec's or shape's Keras-style text."""
    return format_shape(spec.shape if isinstance(spec, TensorSpec) else tuple(spec))


def expect_inputs(op: str, inputs: Sequence[TensorSpec], count: int) -> None:
    """Refuse a call with the wrong number of input tensors."""
    if len(inputs) != count:
        shapes = ", ".join(fmt(s) for s in inputs) or "none"
        raise ShapeError(
            f"{op} takes {count} input tensor{'s' if count != 1 else ''}, got {len(inputs)} ({shapes}); "
            f"call it on exactly {count}"
        )


def expect_rank(op: str, spec: TensorSpec, ranks: Sequence[int] | int, what: str) -> None:
    """Refuse an input whose rank (batch included) is not one of `ranks`."""
    allowed = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if spec.rank not in allowed:
        want = " or ".join(str(r) for r in allowed)
        raise ShapeError(f"{op} expects a rank-{want} input {what}, got shape {fmt(spec)}; reshape the input")


def expect_min_rank(op: str, spec: TensorSpec, rank: int, what: str) -> None:
    """Refuse an input with fewer than `rank` dims (batch included)."""
    if spec.rank < rank:
        raise ShapeError(
            f"{op} expects an input of rank >= {rank} {what}, got shape {fmt(spec)}; reshape the input"
        )


def differ(a: int | None, b: int | None) -> bool:
    """True when both dims are known and unequal (None matches anything)."""
    return a is not None and b is not None and a != b


def known_product(dims: Sequence[int | None]) -> int | None:
    """Product of dims, or None when any is unknown."""
    return None if any(d is None for d in dims) else math.prod(dims)  # type: ignore[arg-type]


def window_output_length(n: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    """Keras' conv/pool output length: valid floor((n-(k-1)d-1)/s)+1, same/causal ceil(n/s)."""
    if n is None:
        return None
    if padding == "valid":
        return (n - (k - 1) * d - 1) // s + 1
    if padding in ("same", "causal"):
        return -(-n // s)
    raise ShapeError(f"unknown padding '{padding}'; use 'valid', 'same' or 'causal'")


def channel_axis(attrs: Mapping[str, Any], rank: int) -> int:
    """The channel axis of an NWC/NHWC tensor, or 1 under data_format='channels_first'."""
    return 1 if attrs.get("data_format") == "channels_first" else rank - 1


def spatial_axes(attrs: Mapping[str, Any], rank: int) -> list[int]:
    """The spatial axes (between batch and channels) for the op's data_format."""
    if attrs.get("data_format") == "channels_first":
        return list(range(2, rank))
    return list(range(1, rank - 1))


def as_list(value: Any, n: int) -> list[int]:
    """An int or list attr (kernel_size, strides, dilation_rate, pool_size) as a list of n ints;
    the shape rules and every backend's window lowerings read their attrs with it."""
    if isinstance(value, int):
        return [int(value)] * n
    return [int(v) for v in value]


def layout_text(attrs: Mapping[str, Any], rank: int) -> str:
    """'(batch, rows, cols, channels)' etc., for messages about windowed ops."""
    dims = {3: "steps", 4: "rows, cols"}.get(rank, "depth, rows, cols")
    if attrs.get("data_format") == "channels_first":
        return f"(batch, channels, {dims})"
    return f"(batch, {dims}, channels)"


def windowed_input(op: str, inputs: Sequence[TensorSpec], attrs: Mapping[str, Any], rank: int) -> TensorSpec:
    """The single input of a conv or pooling op, refused unless it has rank `rank` (batch included)."""
    expect_inputs(op, inputs, 1)
    (x,) = inputs
    expect_rank(op, x, rank, layout_text(attrs, rank))
    return x


def windowed_shape(
    op: str,
    x: TensorSpec,
    attrs: Mapping[str, Any],
    window: list[int],
    strides: list[int],
    dilation: list[int],
    out_channels: int | None,
    what: str,
) -> tuple[int | None, ...]:
    """Output shape of a sliding-window op (conv or pool), refusing windows that do not fit."""
    axes = spatial_axes(attrs, x.rank)
    padding = attrs.get("padding", "valid")
    out = list(x.shape)
    for i, axis in enumerate(axes):
        length = window_output_length(x.shape[axis], window[i], strides[i], dilation[i], padding)
        if length is not None and length <= 0:
            span = (window[i] - 1) * dilation[i] + 1
            dilated = f" (dilation_rate {tuple(dilation)})" if max(dilation) > 1 else ""
            raise ShapeError(
                f"{op} {what} {tuple(window)}{dilated} does not fit input shape "
                f"{fmt(x)} with padding='{padding}': axis {axis} has {x.shape[axis]} positions but the "
                f"window spans {span}, so the output would have size {length}; use padding='same', a "
                f"smaller {what} or a larger input"
            )
        out[axis] = length
    if out_channels is not None:
        out[channel_axis(attrs, x.rank)] = out_channels
    return tuple(out)
