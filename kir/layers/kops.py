"""kir.backend's ops on symbolic values: what `K.sqrt(t)`, `t[:, 0]` or `x + 1` record in a trace.

`apply(tracer, name, args, kwargs, env)` runs the function named like the kir.backend op with
the same arguments; each builds IR primitives (kir/ir/ops/math.py, array.py) through the tracer.
Composite K ops (softmax, var, l2_normalize, one_hot, ...) are written here in primitives, so
backends know nothing of them. Operands are cast to one dtype first, as Keras does: Python
numbers take the tensor's dtype, int with float gives float, `/` gives float.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kir.ir.ops._checks import FLOAT_DTYPES
from kir.ir.ops.math import UNARY, UNARY_FLOAT
from kir.ir.spec import normalize_dtype
from kir.layers.symbolic import ENV_DEFAULTS, SymbolicDim, SymbolicOps, TraceError, shape_of
from kir.layers.trace import Tracer, TraceTensor, active

OPS: dict[str, Callable[..., Any]] = {}


def apply(tracer: Tracer, name: str, args: tuple, kwargs: dict, env: dict | None = None) -> Any:
    """The K op `name` on `args` recorded in `tracer` (which must be the one recording now)."""
    if tracer.closed or active() is not tracer:
        raise TraceError(f"{tracer.where}: a tensor of a finished call was used again (kept on self, or in a "
                         f"closure); compute it inside each call instead")
    fn = OPS.get(name)
    if fn is None:
        raise TraceError(f"{tracer.where}: K.{name} cannot be traced into the graph; use the traceable ops "
                         f"listed in docs/tracing.md, or compute it outside the model")
    tracer.env = {**ENV_DEFAULTS, **(env or {})}
    return fn(*args, **kwargs)


def op(*names: str):
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            OPS[name] = fn
        return fn

    return register


def _tracer() -> Tracer:
    return active()  # type: ignore[return-value]  (apply checked it)


def _t(x: Any, dtype: str | None = None) -> TraceTensor:
    return _tracer().tensor(x, dtype)


def _add(op_type: str, attrs: dict[str, Any], inputs: Sequence[TraceTensor], name: str) -> TraceTensor:
    return _tracer().add(op_type, attrs, inputs, name)[0]


def _axes(axis: Any) -> list[int] | None:
    if axis is None:
        return None
    return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else [int(axis)]


# ---------------------------------------------------------------------------- dtypes
_FLOAT_ORDER = ("float16", "float32", "float64")
_INT_ORDER = ("int8", "uint8", "int32", "int64")


def _is_tensor(x: Any) -> bool:
    return isinstance(x, SymbolicOps)


def _promote(dtypes: Sequence[str], weak_float: bool = False) -> str:
    floats = [d for d in dtypes if d in _FLOAT_ORDER]
    if floats:
        return max(floats, key=_FLOAT_ORDER.index)
    if weak_float:
        return "float32"
    ints = [d for d in dtypes if d in _INT_ORDER]
    if ints:
        return max(ints, key=_INT_ORDER.index)
    return "bool"


def _strong(x: Any) -> str | None:
    """The dtype a non-tensor operand insists on (numpy data), None for Python numbers."""
    if isinstance(x, (np.ndarray, np.generic)):
        return {"float64": "float32", "int64": "int32"}.get(x.dtype.name, x.dtype.name)
    return None


def operands(*xs: Any, dtype: str | None = None) -> list[TraceTensor]:
    """The operands as trace values of one dtype (`dtype`, or the promotion of theirs)."""
    tensors = {i: _t(x) for i, x in enumerate(xs) if _is_tensor(x)}
    if dtype is None:
        dtypes = [t.dtype for t in tensors.values()] + [d for x in xs if (d := _strong(x))]
        dtypes += ["bool" for x in xs if isinstance(x, bool)]
        if not dtypes:
            dtypes = ["int32" if isinstance(x, numbers.Integral) else "float32" for x in xs]
        dtype = _promote(dtypes, any(isinstance(x, float) for x in xs))
    return [cast(tensors[i], dtype) if i in tensors else _t(x, dtype) for i, x in enumerate(xs)]


@op("cast")
def cast(x: Any, dtype: Any) -> TraceTensor:
    t = _t(x)
    dtype = normalize_dtype(dtype)
    return t if t.dtype == dtype else _add("Cast", {"dtype": dtype}, [t], "cast")


def _float(t: TraceTensor) -> TraceTensor:
    return t if t.dtype in FLOAT_DTYPES else cast(t, "float32")


# ---------------------------------------------------------------------------- elementwise
def _unary(fn: str) -> Callable[[Any], TraceTensor]:
    def unary(x: Any) -> TraceTensor:
        t = _t(x)
        if fn in UNARY_FLOAT:
            t = _float(t)
        elif fn == "logical_not":
            t = cast(t, "bool")
        elif t.dtype == "bool":
            t = cast(t, "int32")
        return _add("Unary", {"fn": fn}, [t], fn)

    return unary


for _fn in UNARY:
    OPS[_fn] = _unary(_fn)


def binary(fn: str, a: Any, b: Any) -> TraceTensor:
    dtype = "bool" if fn in ("logical_and", "logical_or") else None
    x, y = operands(a, b, dtype=dtype)
    if fn == "divide" and x.dtype not in FLOAT_DTYPES:
        x, y = cast(x, "float32"), cast(y, "float32")
    return _add("Binary", {"fn": fn}, [x, y], fn)


for _fn in ("add", "subtract", "multiply", "divide", "maximum", "minimum", "equal", "not_equal", "greater",
            "greater_equal", "less", "less_equal", "logical_and", "logical_or"):
    OPS[_fn] = lambda a, b, _fn=_fn: binary(_fn, a, b)
OPS["pow"] = lambda x, a: binary("power", x, a)


@op("floordiv")
def floordiv(a: Any, b: Any) -> TraceTensor:
    x, y = operands(a, b)
    out = OPS["floor"](binary("divide", x, y))
    return cast(out, x.dtype)


@op("mod")
def mod(a: Any, b: Any) -> TraceTensor:
    x, y = operands(a, b)
    return binary("subtract", x, binary("multiply", floordiv(x, y), y))


@op("where")
def where(condition: Any, x: Any, y: Any) -> TraceTensor:
    a, b = operands(x, y)
    return _add("Where", {}, [cast(condition, "bool"), a, b], "where")


@op("clip")
def clip(x: Any, min_value: Any, max_value: Any) -> TraceTensor:
    t = _t(x)
    if _is_tensor(min_value) or _is_tensor(max_value):
        return OPS["minimum"](OPS["maximum"](t, min_value), max_value)
    kind = float if t.dtype in FLOAT_DTYPES else int
    lo = -np.inf if min_value is None else kind(min_value)
    hi = np.inf if max_value is None else max(kind(max_value), lo)
    if kind is int:
        info = np.iinfo(t.dtype) if t.dtype != "bool" else np.iinfo("int8")
        lo, hi = (info.min if min_value is None else lo), (info.max if max_value is None else hi)
    return _add("Clip", {"min": lo, "max": hi}, [t], "clip")


@op("l2_normalize")
def l2_normalize(x: Any, axis: Any = -1) -> TraceTensor:
    """x * min(1 / sqrt(sum(x^2)), 1 / epsilon), as kir.backend.l2_normalize."""
    t = _float(_t(x))
    norm = OPS["sqrt"](reduce("sum", OPS["square"](t), axis, True))
    inv = OPS["minimum"](binary("divide", 1.0, norm), 1.0 / _tracer().env["epsilon"])
    return binary("multiply", t, inv)


@op("softmax")
def softmax(x: Any, axis: int = -1) -> TraceTensor:
    t = _float(_t(x))
    e = OPS["exp"](binary("subtract", t, reduce("max", t, axis, True)))
    return binary("divide", e, reduce("sum", e, axis, True))


@op("log_softmax")
def log_softmax(x: Any, axis: int = -1) -> TraceTensor:
    t = _float(_t(x))
    s = binary("subtract", t, reduce("max", t, axis, True))
    return binary("subtract", s, OPS["log"](reduce("sum", OPS["exp"](s), axis, True)))


@op("binary_crossentropy")
def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> TraceTensor:
    """Elementwise, as kir.backend.binary_crossentropy: clipped probabilities, or the stable
    max(o, 0) - o t + log1p(exp(-|o|)) form for logits."""
    t, o = operands(target, _float(_t(output)))
    if from_logits:
        stable = OPS["log1p"](OPS["exp"](OPS["negative"](OPS["abs"](o))))
        return binary("add", binary("subtract", OPS["maximum"](o, 0.0), binary("multiply", o, t)), stable)
    eps = _tracer().env["epsilon"]
    o = clip(o, eps, 1.0 - eps)
    positive = binary("multiply", t, OPS["log"](o))
    negative = binary("multiply", binary("subtract", 1.0, t), OPS["log"](binary("subtract", 1.0, o)))
    return OPS["negative"](binary("add", positive, negative))


@op("categorical_crossentropy")
def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> TraceTensor:
    """Reduced over `axis`, as kir.backend.categorical_crossentropy: probabilities renormalised and
    clipped, or log_softmax of logits."""
    t, o = operands(target, _float(_t(output)))
    if from_logits:
        return OPS["negative"](reduce("sum", binary("multiply", t, log_softmax(o, axis)), axis))
    eps = _tracer().env["epsilon"]
    o = clip(binary("divide", o, reduce("sum", o, axis, True)), eps, 1.0 - eps)
    return OPS["negative"](reduce("sum", binary("multiply", t, OPS["log"](o)), axis))


# ---------------------------------------------------------------------------- reductions
def reduce(fn: str, x: Any, axis: Any = None, keepdims: bool = False) -> TraceTensor:
    t = _t(x)
    if t.dtype == "bool" or (fn == "mean" and t.dtype not in FLOAT_DTYPES):
        t = cast(t, "float32" if fn == "mean" else "int32")
    return _add("Reduce", {"fn": fn, "axis": _axes(axis), "keepdims": bool(keepdims)}, [t], fn)


for _fn in ("sum", "mean", "max", "min", "prod"):
    OPS[_fn] = lambda x, axis=None, keepdims=False, _fn=_fn: reduce(_fn, x, axis, keepdims)


@op("var")
def var(x: Any, axis: Any = None, keepdims: bool = False) -> TraceTensor:
    t = _float(_t(x))
    centered = binary("subtract", t, reduce("mean", t, axis, True))
    return reduce("mean", OPS["square"](centered), axis, keepdims)


@op("std")
def std(x: Any, axis: Any = None, keepdims: bool = False) -> TraceTensor:
    return OPS["sqrt"](var(x, axis, keepdims))


def _any_all(reduction: str) -> Callable[..., TraceTensor]:
    def fn(x: Any, axis: Any = None, keepdims: bool = False) -> TraceTensor:
        return binary("greater", reduce(reduction, cast(cast(x, "bool"), "float32"), axis, keepdims), 0.5)

    return fn


OPS["any"], OPS["all"] = _any_all("max"), _any_all("min")


@op("logsumexp")
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> TraceTensor:
    t = _float(_t(x))
    m = reduce("max", t, axis, True)
    out = binary("add", OPS["log"](reduce("sum", OPS["exp"](binary("subtract", t, m)), axis, True)), m)
    if keepdims:
        return out
    axes = list(range(t.ndim)) if axis is None else _axes(axis)
    return squeeze(out, axes)


# ---------------------------------------------------------------------------- shapes
@op("shape")
def shape(x: Any) -> tuple:
    return shape_of(_t(x))


@op("int_shape")
def int_shape(x: Any) -> tuple:
    return tuple(_t(x).shape)


@op("ndim")
def ndim(x: Any) -> int:
    return _t(x).ndim


@op("dtype")
def dtype(x: Any) -> str:
    return _t(x).dtype


@op("is_tensor")
def is_tensor(x: Any) -> bool:
    return True


def dims(sizes: Any, first: TraceTensor | None = None) -> tuple[list[Any], list[TraceTensor]]:
    """A shape argument (ints, -1, `K.shape(t)[i]`) as a dims list over the returned inputs."""
    if _is_tensor(sizes):
        raise TraceError(f"{_tracer().where}: a shape given as a tensor cannot be traced; give a tuple of ints "
                         f"and K.shape(t)[i] entries")
    inputs = [first] if first is not None else []
    out: list[Any] = []
    for d in (sizes if isinstance(sizes, (list, tuple)) else [sizes]):
        if isinstance(d, SymbolicDim):
            t = _t(d.tensor)
            k = next((i for i, s in enumerate(inputs) if s is t), None)
            if k is None:
                inputs.append(t)
                k = len(inputs) - 1
            out.append([k, int(d.axis)])
        elif isinstance(d, numbers.Integral) and not isinstance(d, bool):
            out.append(int(d))
        else:
            raise TraceError(f"{_tracer().where}: shape entry {d!r:.40} is not an int; use -1 or K.shape(t)[i] "
                             f"for sizes known only at run time")
    return out, inputs


@op("reshape")
def reshape(x: Any, shape: Any) -> TraceTensor:
    t = _t(x)
    target, inputs = dims(shape, t)
    return _add("ReshapeTo", {"shape": target}, inputs, "reshape")


@op("flatten")
def flatten(x: Any) -> TraceTensor:
    return reshape(x, [-1])


@op("batch_flatten")
def batch_flatten(x: Any) -> TraceTensor:
    t = _t(x)
    return reshape(t, [shape_of(t)[0], -1])


@op("transpose", "permute_dimensions")
def transpose(x: Any, axes: Sequence[int] | None = None) -> TraceTensor:
    t = _t(x)
    perm = list(range(t.ndim))[::-1] if axes is None else [int(a) % max(t.ndim, 1) for a in axes]
    return _add("Transpose", {"perm": perm}, [t], "transpose")


@op("expand_dims")
def expand_dims(x: Any, axis: int = -1) -> TraceTensor:
    return _add("ExpandDims", {"axis": int(axis)}, [_t(x)], "expand_dims")


@op("squeeze")
def squeeze(x: Any, axis: Any = None) -> TraceTensor:
    t = _t(x)
    axes = [i for i, d in enumerate(t.shape) if d == 1] if axis is None else _axes(axis)
    return _add("Squeeze", {"axes": axes}, [t], "squeeze")


@op("concatenate")
def concatenate(tensors: Sequence[Any], axis: int = -1) -> TraceTensor:
    ts = operands(*tensors)
    return _add("Concat", {"axis": int(axis) % ts[0].ndim}, ts, "concatenate")


@op("stack")
def stack(tensors: Sequence[Any], axis: int = 0) -> TraceTensor:
    ts = operands(*tensors)
    axis = int(axis) % (ts[0].ndim + 1)
    return _add("Concat", {"axis": axis}, [expand_dims(t, axis) for t in ts], "stack")


@op("tile")
def tile(x: Any, n: Any) -> TraceTensor:
    t = _t(x)
    reps = [int(m) for m in (n if isinstance(n, (list, tuple)) else [n])]
    while len(reps) > t.ndim:
        t = expand_dims(t, 0)
    reps = [1] * (t.ndim - len(reps)) + reps
    return _add("Tile", {"multiples": reps}, [t], "tile")


@op("repeat_elements")
def repeat_elements(x: Any, rep: int, axis: int) -> TraceTensor:
    t = _t(x)
    axis = int(axis) % t.ndim
    wide = expand_dims(t, axis + 1)
    wide = _add("Tile", {"multiples": [int(rep) if i == axis + 1 else 1 for i in range(t.ndim + 1)]}, [wide], "tile")
    target = [-1 if i == axis else [0, i + (i > axis)] for i in range(t.ndim)]
    return _add("ReshapeTo", {"shape": target}, [wide], "reshape")


@op("gather")
def gather(reference: Any, indices: Any) -> TraceTensor:
    idx = _t(indices)
    if idx.dtype not in _INT_ORDER:
        idx = cast(idx, "int32")
    return _add("Gather", {}, [_t(reference), idx], "gather")


@op("one_hot")
def one_hot(indices: Any, num_classes: int) -> TraceTensor:
    idx = expand_dims(cast(indices, "int32"), -1)
    hits = binary("equal", idx, np.arange(int(num_classes), dtype=np.int32))
    return cast(hits, _tracer().env["floatx"])


def _fill(shape: Any, value: float, dtype: Any) -> TraceTensor:
    target, inputs = dims(shape)
    dtype = normalize_dtype(dtype or _tracer().env["floatx"])
    return _add("Fill", {"shape": target, "value": value, "dtype": dtype}, inputs, "fill")


for _fn, _value in (("ones", 1), ("zeros", 0)):
    OPS[_fn] = lambda shape, dtype=None, _value=_value: _fill(shape, _value, dtype)
    OPS[f"{_fn}_like"] = lambda x, dtype=None, _value=_value: _fill(shape_of(_t(x)), _value, dtype or _t(x).dtype)


# ---------------------------------------------------------------------------- indexing
@op("getitem")
def getitem(x: Any, key: Any) -> TraceTensor:
    """numpy basic indexing: ints, slices with int bounds, `...` and `None`."""
    t = _t(x)
    items = list(key) if isinstance(key, tuple) else [key]
    where = _tracer().where
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, slice)
                or (isinstance(item, numbers.Integral) and not isinstance(item, (bool, np.bool_)))):
            what = "a tensor" if _is_tensor(item) else f"{type(item).__name__} {item!r:.40}"
            raise TraceError(f"{where}: indexing with {what} cannot be traced; index with ints, slices, ... and "
                             f"None, and pick entries with K.gather(reference, indices)")
    real = [i for i in items if i is not None and i is not Ellipsis]
    if items.count(Ellipsis) > 1 or len(real) > t.ndim:
        raise TraceError(f"{where}: index {key!r:.60} does not fit a tensor of shape {t.shape}")
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (t.ndim - len(real))
    else:
        items += [slice(None)] * (t.ndim - len(real))
    starts, ends, steps, drop, new = [], [], [], [], []
    axis = out = 0
    for item in items:
        if item is None:
            new.append(out)
            out += 1
            continue
        if isinstance(item, slice):
            bounds = (item.start, item.stop, item.step)
            if any(b is not None and not isinstance(b, numbers.Integral) for b in bounds) or item.step == 0:
                raise TraceError(f"{where}: slice {item} cannot be traced; use int bounds (static sizes)")
            starts.append(None if item.start is None else int(item.start))
            ends.append(None if item.stop is None else int(item.stop))
            steps.append(1 if item.step is None else int(item.step))
            out += 1
        else:
            i = int(item)
            starts.append(i)
            ends.append(None if i == -1 else i + 1)
            steps.append(1)
            drop.append(axis)
        axis += 1
    value = t
    if drop or any(b is not None or e is not None or s != 1 for b, e, s in zip(starts, ends, steps)):
        attrs = {"starts": starts, "ends": ends, "steps": steps, "squeeze": drop}
        value = _add("Slice", attrs, [t], "slice")
    for position in new:
        value = expand_dims(value, position)
    return value


# ---------------------------------------------------------------------------- linear algebra
@op("matmul")
def matmul(a: Any, b: Any) -> TraceTensor:
    x, y = operands(a, b)
    vec_x, vec_y = x.ndim == 1, y.ndim == 1
    out = _add("MatMul", {}, [expand_dims(x, 0) if vec_x else x, expand_dims(y, -1) if vec_y else y], "matmul")
    if vec_y:
        out = squeeze(out, [-1])
    if vec_x:
        out = squeeze(out, [-1 if vec_y else -2])
    return out


@op("dot")
def dot(a: Any, b: Any) -> TraceTensor:
    """np.dot: x's last axis against y's second-to-last (matmul when y has rank <= 2)."""
    x, y = operands(a, b)
    if y.ndim <= 2:
        return matmul(x, y)
    if None in y.shape:
        raise TraceError(f"{_tracer().where}: K.dot with a rank-{y.ndim} y of unknown sizes {y.shape} cannot be "
                         f"traced; use K.batch_dot or reshape y to 2-D")
    n, m = y.shape[-2], y.shape[-1]
    moved = transpose(y, [y.ndim - 2, *range(y.ndim - 2), y.ndim - 1])
    flat = reshape(moved, [n, -1])
    out = matmul(x, flat)
    lead = [shape_of(x)[i] if x.shape[i] is None else x.shape[i] for i in range(x.ndim - 1)]
    return reshape(out, [*lead, *y.shape[:-2], m])


@op("batch_dot")
def batch_dot(x: Any, y: Any, axes: Any = None) -> TraceTensor:
    """Keras batch_dot (the Dot layer's op): default axes as kir.backend.batch_dot."""
    a, b = (_float(t) for t in operands(x, y))
    rx, ry = a.ndim, b.ndim
    if axes is None:
        axes = [rx - 1, ry - 2] if ry > 2 else [1, 1]
    if isinstance(axes, int):
        axes = [axes, axes]
    return _add("Dot", {"axes": [int(axes[0]) % rx, int(axes[1]) % ry], "normalize": False}, [a, b], "batch_dot")


# ---------------------------------------------------------------------------- random, ranges
@op("random_normal")
def random_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                  seed: int | None = None) -> TraceTensor:
    """Samples drawn on every run; `stream` keeps two unseeded draws apart (CSE never merges them)."""
    target, inputs = dims(shape)
    attrs = {"shape": target, "mean": float(mean), "stddev": float(stddev),
             "dtype": normalize_dtype(dtype or _tracer().env["floatx"]), "seed": None if seed is None else int(seed)}
    if seed is None:
        attrs["stream"] = random.getrandbits(31)
    return _add("RandomNormal", attrs, inputs, "random_normal")


@op("arange")
def arange(start: Any, stop: Any = None, step: Any = 1, dtype: str = "int32") -> TraceTensor:
    if stop is None:
        start, stop = 0, start
    if not isinstance(stop, SymbolicDim) or isinstance(start, SymbolicDim) or isinstance(step, SymbolicDim):
        raise TraceError(f"{_tracer().where}: K.arange traces with int start/step and a stop of K.shape(t)[i]")
    target, inputs = dims([stop])
    attrs = {"start": start, "stop": target[0], "step": step, "dtype": normalize_dtype(dtype)}
    return _add("Range", attrs, inputs, "arange")


@op("eval", "get_value")
def no_value(x: Any) -> Any:
    raise TraceError(f"{_tracer().where}: a symbolic tensor has no value while tracing; use K ops on it, and "
                     f"model.predict(...) for numbers")
