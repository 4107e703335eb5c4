"""Shape rules for the math primitives of traced user code (Lambda, subclassed layers, tensor
operators): Constant, Param, Unary, Binary, Cast, Where, Clip, Reduce, MatMul, RandomNormal.

Elementwise ops broadcast like numpy (not like the merge layers, which need equal ranks). The
tracer casts operands to one dtype before an op (a Python `1` next to a float32 tensor is a
float32 constant), so these rules ask for equal dtypes and never promote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import FLOAT_DTYPES, expect_inputs, fmt
from kir.ir.ops.array import check_dtype, normalize_axis, resolve_dims
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec

UNARY = ("negative", "abs", "square", "sqrt", "exp", "log", "log1p", "sign", "round", "floor", "ceil",
         "sin", "cos", "tanh", "sigmoid", "softplus", "relu", "softsign", "logical_not")
UNARY_FLOAT = ("sqrt", "exp", "log", "log1p", "round", "floor", "ceil", "sin", "cos", "tanh", "sigmoid",
               "softplus", "softsign")
ARITHMETIC = ("add", "subtract", "multiply", "divide", "power", "maximum", "minimum")
COMPARISONS = ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal")
LOGICAL = ("logical_and", "logical_or")
BINARY = ARITHMETIC + COMPARISONS + LOGICAL
REDUCTIONS = ("sum", "mean", "max", "min", "prod")


def broadcast(op: str, specs: Sequence[TensorSpec]) -> tuple[int | None, ...]:
    """numpy broadcasting of shapes with unknown (None) dims: 1 stretches, None meets anything."""
    rank = max(s.rank for s in specs)
    out: list[int | None] = []
    for i in range(-rank, 0):
        dims = {s.shape[i] for s in specs if s.rank >= -i}
        known = dims - {None, 1}
        if len(known) > 1:
            raise ShapeError(f"{op} cannot broadcast shapes {' and '.join(fmt(s) for s in specs)} (axis {i} "
                             f"has sizes {sorted(known)}); make the sizes equal or 1")
        out.append(known.pop() if known else (None if None in dims else 1))
    return tuple(out)


def _fn(op: str, attrs: Mapping[str, Any], allowed: Sequence[str]) -> str:
    fn = attrs.get("fn")
    if fn not in allowed:
        raise ShapeError(f"{op} fn must be one of {', '.join(allowed)}, got {fn!r}")
    return str(fn)


def _same_dtype(op: str, inputs: Sequence[TensorSpec]) -> str:
    if len({s.dtype for s in inputs}) > 1:
        raise ShapeError(f"{op} needs inputs of one dtype, got {', '.join(s.dtype for s in inputs)}; cast them first")
    return inputs[0].dtype


@shape_rule("Constant")
def constant_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """A value stored in the attrs (`value` nested lists, `shape`, `dtype`)."""
    expect_inputs("Constant", inputs, 0)
    return [TensorSpec(tuple(int(d) for d in attrs["shape"]), check_dtype("Constant", attrs.get("dtype")))]


@shape_rule("Param")
def param_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """A layer weight read by traced code: the parameter `value` of `dtype`, as it is stored."""
    expect_inputs("Param", inputs, 0)
    if "value" not in params:
        raise ShapeError("Param needs its weight as the parameter 'value'")
    return [TensorSpec(tuple(params["value"]), check_dtype("Param", attrs.get("dtype", "float32")))]


@shape_rule("Unary")
def unary_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Elementwise `fn` (see UNARY); same shape and dtype (float-only fns refuse ints)."""
    expect_inputs("Unary", inputs, 1)
    fn, (x,) = _fn("Unary", attrs, UNARY), inputs
    if (fn in UNARY_FLOAT and x.dtype not in FLOAT_DTYPES) or ((fn == "logical_not") != (x.dtype == "bool")):
        raise ShapeError(f"Unary {fn} does not take dtype {x.dtype} (shape {fmt(x)}); cast the input first")
    return [x]


@shape_rule("Binary")
def binary_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Elementwise `fn` of two same-dtype tensors, broadcast; comparisons and logical fns give bool."""
    expect_inputs("Binary", inputs, 2)
    fn = _fn("Binary", attrs, BINARY)
    dtype = _same_dtype(f"Binary {fn}", inputs)
    if (fn in LOGICAL) != (dtype == "bool") or (fn == "divide" and dtype not in FLOAT_DTYPES):
        raise ShapeError(f"Binary {fn} does not take dtype {dtype}; cast the inputs first")
    out = "bool" if fn in COMPARISONS + LOGICAL else dtype
    return [TensorSpec(broadcast(f"Binary {fn}", inputs), out)]


@shape_rule("Cast")
def cast_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """x converted to `dtype` (floats to ints truncate toward zero, nonzero to bool is True)."""
    expect_inputs("Cast", inputs, 1)
    return [TensorSpec(inputs[0].shape, check_dtype("Cast", attrs.get("dtype")))]


@shape_rule("Where")
def where_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """cond (bool) ? x : y, all three broadcast."""
    expect_inputs("Where", inputs, 3)
    cond, x, y = inputs
    if cond.dtype != "bool":
        raise ShapeError(f"Where needs a bool condition, got {cond.dtype}")
    return [TensorSpec(broadcast("Where", inputs), _same_dtype("Where", [x, y]))]


@shape_rule("Clip")
def clip_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """x limited to [`min`, `max`] (numbers)."""
    expect_inputs("Clip", inputs, 1)
    if float(attrs["min"]) > float(attrs["max"]):
        raise ShapeError(f"Clip min {attrs['min']} is above max {attrs['max']}")
    return [inputs[0]]


@shape_rule("Reduce")
def reduce_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """`fn` (sum, mean, max, min, prod) over `axis` (list, null = all), keeping them if `keepdims`."""
    expect_inputs("Reduce", inputs, 1)
    fn, (x,) = _fn("Reduce", attrs, REDUCTIONS), inputs
    if x.dtype == "bool" or (fn == "mean" and x.dtype not in FLOAT_DTYPES):
        raise ShapeError(f"Reduce {fn} does not take dtype {x.dtype}; cast the input first")
    axis = attrs.get("axis")
    axes = set(range(x.rank)) if axis is None else {normalize_axis("Reduce", int(a), x.rank) for a in axis}
    if axis is not None and len(axes) != len(axis):
        raise ShapeError(f"Reduce axis {list(axis)} repeats an axis")
    keep = bool(attrs.get("keepdims", False))
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape) if keep or i not in axes)
    return [TensorSpec(shape, x.dtype)]


@shape_rule("MatMul")
def matmul_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """numpy matmul of rank >= 2 tensors: (..., n, k) @ (..., k, m), leading dims broadcast."""
    expect_inputs("MatMul", inputs, 2)
    a, b = inputs
    if a.rank < 2 or b.rank < 2:
        raise ShapeError(f"MatMul needs inputs of rank >= 2, got {fmt(a)} and {fmt(b)}")
    dtype = _same_dtype("MatMul", inputs)
    k1, k2 = a.shape[-1], b.shape[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ShapeError(f"MatMul cannot multiply {fmt(a)} by {fmt(b)}: {k1} != {k2}")
    lead = broadcast("MatMul", [TensorSpec(a.shape[:-2]), TensorSpec(b.shape[:-2])])
    return [TensorSpec(lead + (a.shape[-2], b.shape[-1]), dtype)]


@shape_rule("RandomNormal")
def random_normal_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Normal samples (`mean`, `stddev`, optional `seed`) of the dims list `shape` (`[k, axis]`
    entries read the inputs; the inputs give nothing but sizes)."""
    dims = resolve_dims("RandomNormal", attrs["shape"], inputs)
    if any(d is not None and d < 0 for d in dims):
        raise ShapeError(f"RandomNormal shape {list(attrs['shape'])} has a negative size")
    dtype = check_dtype("RandomNormal", attrs.get("dtype", "float32"))
    if dtype not in FLOAT_DTYPES:
        raise ShapeError(f"RandomNormal draws floats, not {dtype}")
    return [TensorSpec(tuple(dims), dtype)]
