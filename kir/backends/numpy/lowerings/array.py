"""Numpy lowerings of the array primitives of traced code: Concat, Slice, ReshapeTo, ExpandDims,
Squeeze, Tile, Fill, Range, Gather (the reference semantics; see kir/ir/ops/array.py)."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops.array import is_dim_ref, slice_key


def dims(shape, inputs) -> list[int]:
    """A dims list with its `[k, axis]` entries read from the input arrays."""
    return [int(inputs[int(d[0])].shape[int(d[1])]) if is_dim_ref(d) else int(d) for d in shape]


@LOWERINGS.register("Concat")
def concat(ctx, attrs, inputs, params):
    return [np.concatenate(inputs, axis=int(attrs["axis"]))]


@LOWERINGS.register("Slice")
def slice_(ctx, attrs, inputs, params):
    return [np.asarray(inputs[0][slice_key(attrs)])]


@LOWERINGS.register("ReshapeTo")
def reshape_to(ctx, attrs, inputs, params):
    return [np.reshape(inputs[0], dims(attrs["shape"], inputs))]


@LOWERINGS.register("ExpandDims")
def expand_dims(ctx, attrs, inputs, params):
    return [np.expand_dims(inputs[0], int(attrs["axis"]))]


@LOWERINGS.register("Squeeze")
def squeeze(ctx, attrs, inputs, params):
    return [np.squeeze(inputs[0], axis=tuple(int(a) for a in attrs["axes"]))]


@LOWERINGS.register("Tile")
def tile(ctx, attrs, inputs, params):
    return [np.tile(inputs[0], [int(m) for m in attrs["multiples"]])]


@LOWERINGS.register("Fill")
def fill(ctx, attrs, inputs, params):
    return [np.full(dims(attrs["shape"], inputs), attrs["value"], dtype=attrs.get("dtype", "float32"))]


@LOWERINGS.register("Range")
def range_(ctx, attrs, inputs, params):
    (stop,) = dims([attrs["stop"]], inputs)
    return [np.arange(attrs.get("start", 0), stop, attrs.get("step", 1)).astype(attrs.get("dtype", "int32"))]


@LOWERINGS.register("Gather")
def gather(ctx, attrs, inputs, params):
    return [np.take(inputs[0], inputs[1], axis=0)]
