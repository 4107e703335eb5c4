"""Array primitives of traced code: Concat, Slice, ReshapeTo (Reshape with a shape tensor built
from Shape/Slice where a size is known only at run time), ExpandDims (Unsqueeze), Squeeze, Tile,
Fill (ConstantOfShape), Range, Gather."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import numpy_helper

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.opset import onnx_dtype
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops.array import is_dim_ref

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def input_dim(ctx: OnnxContext, x: str, axis: int, suffix: str) -> str:
    """Dimension `axis` of tensor `x` as a 1-element int64 tensor (Shape, then Slice)."""
    shape = ctx.op("Shape", x, suffix=f"{suffix}_shape")
    end = INT64_MAX if axis == -1 else axis + 1
    return ctx.op("Slice", shape, ctx.ints([axis], "starts"), ctx.ints([end], "ends"), suffix=suffix)


def dims_tensor(ctx: OnnxContext, shape: list[Any], inputs: list[str], known: tuple | None = None) -> str:
    """The int64 shape tensor of a dims list; a constant when every size is static (`known`, the
    vertex's output shape, fills in what the dims list left to the inputs)."""
    if known is not None and None not in known:
        return ctx.ints([int(d) for d in known])
    if not any(is_dim_ref(d) for d in shape):
        return ctx.ints([int(d) for d in shape])
    parts: list[str] = []
    run: list[int] = []
    for i, d in enumerate(shape):
        if not is_dim_ref(d):
            run.append(int(d))
            continue
        if run:
            parts.append(ctx.ints(run))
            run = []
        parts.append(input_dim(ctx, inputs[int(d[0])], int(d[1]), f"dim{i}"))
    if run:
        parts.append(ctx.ints(run))
    return parts[0] if len(parts) == 1 else ctx.op("Concat", *parts, suffix="dims", axis=0)


@LOWERINGS.register("Concat")
def concat(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Concat", *inputs, axis=int(attrs["axis"]) % ctx.vertex.outputs[0].rank)]


@LOWERINGS.register("Slice")
def slice_(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """ONNX Slice over the axes that are not taken whole (open ends become int64 extremes), then
    Squeeze of the int-indexed axes."""
    squeeze = [int(a) for a in attrs.get("squeeze", [])]
    axes, starts, ends, steps = [], [], [], []
    for axis, (b, e, s) in enumerate(zip(attrs["starts"], attrs["ends"], attrs["steps"])):
        s = int(s)
        if b is None and e is None and s == 1:
            continue
        axes.append(axis)
        starts.append((0 if s > 0 else INT64_MAX) if b is None else int(b))
        ends.append((INT64_MAX if s > 0 else INT64_MIN) if e is None else int(e))
        steps.append(s)
    x = inputs[0]
    if axes:
        x = ctx.op("Slice", x, ctx.ints(starts, "starts"), ctx.ints(ends, "ends"), ctx.ints(axes, "axes"),
                   ctx.ints(steps, "steps"))
    if squeeze:
        x = ctx.squeeze(x, squeeze)
    return [x if x != inputs[0] else ctx.op("Identity", x)]


@LOWERINGS.register("ReshapeTo")
def reshape_to(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    shape = dims_tensor(ctx, list(attrs["shape"]), inputs, ctx.vertex.outputs[0].shape)
    return [ctx.op("Reshape", inputs[0], shape)]


@LOWERINGS.register("ExpandDims")
def expand_dims(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.unsqueeze(inputs[0], [int(attrs["axis"]) % ctx.vertex.outputs[0].rank])]


@LOWERINGS.register("Squeeze")
def squeeze(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    rank = ctx.input_spec(0).rank
    return [ctx.squeeze(inputs[0], sorted(int(a) % rank for a in attrs["axes"]))]


@LOWERINGS.register("Tile")
def tile(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Tile", inputs[0], ctx.ints([int(m) for m in attrs["multiples"]], "repeats"))]


@LOWERINGS.register("Fill")
def fill(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    dtype = attrs.get("dtype", "float32")
    known = ctx.vertex.outputs[0].shape
    if None not in known:
        return [ctx.const(np.full(known, attrs["value"], dtype=dtype), dtype, suffix="fill")]
    floating = dtype.startswith("float")  # float values go through a Cast, which float16 exports retarget
    value = numpy_helper.from_array(np.array([attrs["value"]], dtype="float32" if floating else dtype))
    out = ctx.op("ConstantOfShape", dims_tensor(ctx, list(attrs["shape"]), inputs), value=value)
    return [ctx.op("Cast", out, suffix="cast", to=onnx_dtype(dtype)) if floating else out]


@LOWERINGS.register("Range")
def range_(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """ONNX Range in int64 (or float32), cast to the vertex's dtype."""
    dtype = attrs.get("dtype", "int32")
    kind = np.float32 if dtype.startswith("float") else np.int64
    stop = attrs["stop"]
    if is_dim_ref(stop):
        dim = ctx.op("Gather", ctx.op("Shape", inputs[int(stop[0])], suffix="stop_shape"),
                     ctx.const(int(stop[1]), np.int64, "stop_axis"), suffix="stop", axis=0)
        limit = dim if kind is np.int64 else ctx.op("Cast", dim, suffix="stop_float", to=onnx_dtype("float32"))
    else:
        limit = ctx.const(stop, kind, "stop")
    out = ctx.op("Range", ctx.const(attrs.get("start", 0), kind, "start"), limit,
                 ctx.const(attrs.get("step", 1), kind, "step"))
    return [out if np.dtype(kind).name == dtype else ctx.op("Cast", out, suffix="cast", to=onnx_dtype(dtype))]


@LOWERINGS.register("Gather")
def gather(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Gather", inputs[0], inputs[1], axis=0)]
