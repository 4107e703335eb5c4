"""Shape rules for the array primitives of traced user code (Lambda, subclassed layers, tensor
operators): Concat, Slice, ReshapeTo, ExpandDims, Squeeze, Tile, Fill, Range, Gather.

Unlike the layer ops, their tensors need not be batch-first (a weight, a constant, a full
reduction), so every axis is addressable. Ops that take a target shape (`ReshapeTo`, `Fill`,
`RandomNormal`, `Range`'s stop) write it as a *dims list*: each entry is an int or `[k, axis]`,
"dimension `axis` of input `k`", which is how `K.shape(t)[0]` (a batch size known only at run
time) is stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import INT_DTYPES, differ, expect_inputs, fmt
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import DTYPES, TensorSpec


def is_dim_ref(d: Any) -> bool:
    """True for a dims-list entry `[k, axis]` (a dimension of input k)."""
    return isinstance(d, (list, tuple)) and len(d) == 2


def resolve_dims(op: str, dims: Sequence[Any], inputs: Sequence[TensorSpec]) -> list[int | None]:
    """A dims list with every `[k, axis]` replaced by that input dimension (None when dynamic)."""
    out: list[int | None] = []
    for d in dims:
        if is_dim_ref(d):
            k, axis = int(d[0]), int(d[1])
            if not 0 <= k < len(inputs) or not -inputs[k].rank <= axis < inputs[k].rank:
                raise ShapeError(f"{op} shape entry {list(d)} names no dimension of its "
                                 f"{len(inputs)} input(s) ({', '.join(fmt(s) for s in inputs) or 'none'})")
            out.append(inputs[k].shape[axis])
        elif isinstance(d, bool) or not isinstance(d, int):
            raise ShapeError(f"{op} shape entries must be ints or [input, axis] pairs, got {d!r}")
        else:
            out.append(int(d))
    return out


def slice_key(attrs: Mapping[str, Any]) -> tuple:
    """The numpy (and TensorFlow) index of a Slice: an int on each squeezed axis, else a slice."""
    squeeze = {int(a) for a in attrs.get("squeeze", [])}
    return tuple(int(b) if axis in squeeze else slice(b, e, int(s))
                 for axis, (b, e, s) in enumerate(zip(attrs["starts"], attrs["ends"], attrs["steps"])))


def check_dtype(op: str, dtype: Any) -> str:
    if dtype not in DTYPES:
        raise ShapeError(f"{op} dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return str(dtype)


def normalize_axis(op: str, axis: Any, rank: int) -> int:
    """`axis` (may be negative) as an index into a rank-`rank` shape."""
    if isinstance(axis, bool) or not isinstance(axis, int) or not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{op} axis {axis!r} is out of range for rank {rank}")
    return axis % rank if rank else 0


@shape_rule("Concat")
def concat_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Join along `axis` (any axis, the batch included); every other dim and the dtype agree."""
    if not inputs:
        raise ShapeError("Concat needs at least one input tensor, got none")
    rank = inputs[0].rank
    if any(s.rank != rank for s in inputs) or len({s.dtype for s in inputs}) > 1:
        raise ShapeError(f"Concat needs inputs of one rank and dtype, got "
                         f"{', '.join(f'{fmt(s)} {s.dtype}' for s in inputs)}")
    axis = normalize_axis("Concat", int(attrs["axis"]), rank)
    out = list(inputs[0].shape)
    for other in inputs[1:]:
        for i in range(rank):
            if i != axis and differ(out[i], other.shape[i]):
                raise ShapeError(f"Concat needs matching shapes except on axis {axis}, got "
                                 f"{' and '.join(fmt(s) for s in inputs)}")
            if out[i] is None:
                out[i] = other.shape[i]
    sizes = [s.shape[axis] for s in inputs]
    out[axis] = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
    return [TensorSpec(tuple(out), inputs[0].dtype)]


def slice_length(n: int | None, start: int | None, end: int | None, step: int) -> int | None:
    """How many positions `x[start:end:step]` keeps along an axis of length n (None if unknown)."""
    if n is None:
        return None
    return len(range(*slice(start, end, step).indices(n)))


@shape_rule("Slice")
def slice_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Python slicing: per axis `starts`/`ends` (null = open) and `steps`; `squeeze` lists the axes
    indexed by an int (each kept as length 1 by its slice, then dropped)."""
    expect_inputs("Slice", inputs, 1)
    (x,) = inputs
    starts, ends, steps = list(attrs["starts"]), list(attrs["ends"]), [int(s) for s in attrs["steps"]]
    squeeze = [int(a) for a in attrs.get("squeeze", [])]
    if not len(starts) == len(ends) == len(steps) == x.rank:
        raise ShapeError(f"Slice needs one start, end and step per axis of input shape {fmt(x)}")
    if 0 in steps:
        raise ShapeError("Slice step cannot be zero")
    out: list[int | None] = []
    for axis, (n, b, e, s) in enumerate(zip(x.shape, starts, ends, steps)):
        length = slice_length(n, b, e, s)
        if axis in squeeze:
            if length == 0:
                raise ShapeError(f"index {b} is out of range for axis {axis} of input shape {fmt(x)}")
            continue
        out.append(length)
    if any(not 0 <= a < x.rank for a in squeeze):
        raise ShapeError(f"Slice squeeze axes {squeeze} are out of range for input shape {fmt(x)}")
    return [TensorSpec(tuple(out), x.dtype)]


@shape_rule("ReshapeTo")
def reshape_to_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """x (input 0) -> the dims list `shape` (batch included, as tf.reshape): ints (one may be -1)
    and `[k, axis]` dimensions of the inputs; a dimension of x copied at its own index cancels."""
    if not inputs:
        raise ShapeError("ReshapeTo needs the tensor to reshape as its first input")
    x = inputs[0]
    dims = list(attrs["shape"])
    resolved = resolve_dims("ReshapeTo", dims, inputs)
    if sum(d == -1 for d in resolved) > 1 or any(d is not None and (d == 0 or d < -1) for d in resolved):
        raise ShapeError(f"ReshapeTo shape {dims} is invalid; use positive sizes and at most one -1")
    # dims of x carried over unchanged are equal on both sides: leave them out of the count
    carried = {int(d[1]) % x.rank for d in dims if is_dim_ref(d) and int(d[0]) == 0 and x.rank}
    have = [n for i, n in enumerate(x.shape) if i not in carried]
    want = [n for d, n in zip(dims, resolved) if not (is_dim_ref(d) and int(d[0]) == 0)]
    total = None if None in have else math.prod(have)  # type: ignore[arg-type]
    if -1 in resolved:
        fixed = [n for n in want if n != -1]
        k = resolved.index(-1)
        if total is None or None in fixed:
            resolved[k] = None
        else:
            prod = math.prod(fixed)  # type: ignore[arg-type]
            if prod == 0 or total % prod:
                raise ShapeError(f"ReshapeTo cannot fit input shape {fmt(x)} into shape {dims}: "
                                 f"{total} elements are not divisible by {prod}")
            resolved[k] = total // prod
    elif total is not None and None not in want and math.prod(want) != total:  # type: ignore[arg-type]
        raise ShapeError(f"ReshapeTo cannot turn input shape {fmt(x)} into shape {dims}: the element counts differ")
    return [TensorSpec(tuple(resolved), x.dtype)]


@shape_rule("ExpandDims")
def expand_dims_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Insert a length-1 axis at `axis` (an index into the output; negative counts from its end)."""
    expect_inputs("ExpandDims", inputs, 1)
    (x,) = inputs
    axis = normalize_axis("ExpandDims", int(attrs["axis"]), x.rank + 1)
    return [TensorSpec(x.shape[:axis] + (1,) + x.shape[axis:], x.dtype)]


@shape_rule("Squeeze")
def squeeze_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Drop the listed `axes` (each of length 1 or unknown; unknown must be 1 at run time)."""
    expect_inputs("Squeeze", inputs, 1)
    (x,) = inputs
    axes = {normalize_axis("Squeeze", int(a), x.rank) for a in attrs["axes"]}
    for a in axes:
        if differ(x.shape[a], 1):
            raise ShapeError(f"Squeeze cannot drop axis {a} of input shape {fmt(x)}: its length is "
                             f"{x.shape[a]}, not 1")
    return [TensorSpec(tuple(n for i, n in enumerate(x.shape) if i not in axes), x.dtype)]


@shape_rule("Tile")
def tile_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Repeat the whole tensor `multiples[i]` times along each axis i."""
    expect_inputs("Tile", inputs, 1)
    (x,) = inputs
    reps = [int(m) for m in attrs["multiples"]]
    if len(reps) != x.rank or any(m < 1 for m in reps):
        raise ShapeError(f"Tile needs one positive multiple per axis of input shape {fmt(x)}, got {reps}")
    return [TensorSpec(tuple(None if n is None else n * m for n, m in zip(x.shape, reps)), x.dtype)]


@shape_rule("Fill")
def fill_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """A tensor of the dims list `shape` (its `[k, axis]` entries read the inputs) filled with `value`."""
    dims = resolve_dims("Fill", attrs["shape"], inputs)
    if any(d is not None and d < 0 for d in dims):
        raise ShapeError(f"Fill shape {list(attrs['shape'])} has a negative size")
    return [TensorSpec(tuple(dims), check_dtype("Fill", attrs.get("dtype", "float32")))]


@shape_rule("Range")
def range_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """[start, stop) by `step` (1-D); `stop` is an int or `[k, axis]`, a dimension of input k."""
    (stop,) = resolve_dims("Range", [attrs["stop"]], inputs)
    start, step = attrs.get("start", 0), attrs.get("step", 1)
    if step == 0:
        raise ShapeError("Range step cannot be zero")
    n = None if stop is None else max(0, math.ceil((stop - start) / step))
    return [TensorSpec((n,), check_dtype("Range", attrs.get("dtype", "int32")))]


@shape_rule("Gather")
def gather_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Rows of `reference` (input 0) picked by integer `indices` (input 1): indices.shape + rest."""
    expect_inputs("Gather", inputs, 2)
    ref, idx = inputs
    if ref.rank < 1 or idx.dtype not in INT_DTYPES:
        raise ShapeError(f"Gather needs a reference of rank >= 1 and integer indices, got {fmt(ref)} and "
                         f"{fmt(idx)} {idx.dtype}; cast the indices to int32")
    return [TensorSpec(idx.shape + ref.shape[1:], ref.dtype)]
