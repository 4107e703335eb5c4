"""What every symbolic value of the frontend shares: Python's tensor operators, the numpy guards,
and `K.shape(t)[i]` dimensions known only at run time.

`KTensor` (a layer's output in a functional model), `TraceTensor` (a value inside a traced
`call()`) and `Variable` (a layer weight) all derive from `SymbolicOps`. Each operator becomes a
`kir.backend` op name handed to the object's `__kir_op__(name, args, kwargs, env)`, the same
protocol through which `kir.backend` dispatches `K.square(t)` without importing kir.layers: a
KTensor lifts the op into a small traced layer, a TraceTensor records it in its trace, and a
Variable outside any trace answers `NotImplemented`, so the plain numpy value is used.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from kir.errors import KirError

ENV_DEFAULTS = {"epsilon": 1e-7, "floatx": "float32"}
"""What the symbolic ops read from kir.backend when it calls them (it passes its own values)."""


class TraceError(KirError, TypeError):
    """User code did something kir cannot trace into the graph (a Python `if` on a tensor, a
    numpy call on it, a K op without a symbolic form); the message names the layer and the
    operation and says what to write instead."""


# Python operators -> kir.backend op names (and the numeric operators Variables fall back to)
_NUMERIC = {
    "add": operator.add, "subtract": operator.sub, "multiply": operator.mul, "divide": operator.truediv,
    "pow": operator.pow, "matmul": operator.matmul, "negative": operator.neg, "abs": operator.abs,
    "less": operator.lt, "less_equal": operator.le, "greater": operator.gt, "greater_equal": operator.ge,
    "getitem": operator.getitem, "logical_and": operator.and_, "logical_or": operator.or_,
    "logical_not": operator.invert, "floordiv": operator.floordiv, "mod": operator.mod,
}
_UFUNCS = {
    np.add: "add", np.subtract: "subtract", np.multiply: "multiply", np.true_divide: "divide", np.power: "pow",
    np.matmul: "matmul", np.negative: "negative", np.less: "less", np.less_equal: "less_equal",
    np.greater: "greater", np.greater_equal: "greater_equal", np.floor_divide: "floordiv", np.remainder: "mod",
}


def _binary(name: str, reverse: bool = False):
    def method(self, other):
        return self._kir_apply(name, (other, self) if reverse else (self, other))

    method.__name__ = f"__{'r' if reverse else ''}{name}__"
    return method


def _unary(name: str):
    def method(self):
        return self._kir_apply(name, (self,))

    return method


class SymbolicOps:
    """Tensor operators (`+ - * / ** @ // %`, unary `-`, `abs`, `< <= > >=`, `& | ~`, `t[...]`)
    for symbolic values. `==` and `!=` stay identity (use K.equal / K.not_equal), as Keras'
    `assert lstm.output == encoded_a` needs."""

    __slots__ = ()

    def __kir_op__(self, name: str, args: tuple, kwargs: dict, env: dict | None = None) -> Any:
        raise NotImplementedError

    def _kir_where(self) -> str:
        """How errors name this value."""
        return repr(self)

    def _kir_apply(self, name: str, args: tuple) -> Any:
        out = self.__kir_op__(name, args, {}, None)
        if out is NotImplemented:  # a Variable outside any trace: plain numpy on its value
            return _NUMERIC[name](*(np.asarray(a) if isinstance(a, SymbolicOps) else a for a in args))
        return out

    __add__, __radd__ = _binary("add"), _binary("add", True)
    __sub__, __rsub__ = _binary("subtract"), _binary("subtract", True)
    __mul__, __rmul__ = _binary("multiply"), _binary("multiply", True)
    __truediv__, __rtruediv__ = _binary("divide"), _binary("divide", True)
    __floordiv__, __rfloordiv__ = _binary("floordiv"), _binary("floordiv", True)
    __mod__, __rmod__ = _binary("mod"), _binary("mod", True)
    __pow__, __rpow__ = _binary("pow"), _binary("pow", True)
    __matmul__, __rmatmul__ = _binary("matmul"), _binary("matmul", True)
    __and__, __rand__ = _binary("logical_and"), _binary("logical_and", True)
    __or__, __ror__ = _binary("logical_or"), _binary("logical_or", True)
    __lt__, __le__ = _binary("less"), _binary("less_equal")
    __gt__, __ge__ = _binary("greater"), _binary("greater_equal")
    __neg__, __abs__, __invert__ = _unary("negative"), _unary("abs"), _unary("logical_not")

    def __pos__(self):
        return self

    def __getitem__(self, key):
        return self._kir_apply("getitem", (self, key))

    # ---------------------------------------------------------------- what cannot trace
    def _kir_refuse(self, what: str, instead: str) -> TraceError:
        return TraceError(f"{self._kir_where()}: {what} cannot be traced into the graph; {instead}")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = _UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if name is not None:  # `array + tensor` comes here: it is the operator, traced
            return self._kir_apply(name, inputs)
        if self.__kir_op__("is_tensor", (self,), {}, None) is NotImplemented:
            return getattr(ufunc, method)(*(np.asarray(a) if isinstance(a, SymbolicOps) else a for a in inputs),
                                          **kwargs)
        raise self._kir_refuse(f"numpy's {ufunc.__name__}", f"use the kir.backend op (import kir.backend as K; "
                                                             f"K.{ufunc.__name__}(...)) instead")

    def __array_function__(self, func, types, args, kwargs):
        if self.__kir_op__("is_tensor", (self,), {}, None) is NotImplemented:
            return func(*_values(args), **_values(kwargs))
        raise self._kir_refuse(f"numpy's {func.__name__}()", f"use the kir.backend op (import kir.backend as K; "
                                                              f"K.{func.__name__}(...)) instead")

    def __array__(self, dtype=None, copy=None):
        raise self._kir_refuse("converting a symbolic tensor to a numpy array (np.asarray, tf.constant, ...)",
                               "it has no value until the model runs; use kir.backend (K) ops on it, and "
                               "model.predict(...) for numbers")

    def __iter__(self):
        raise self._kir_refuse("iterating over a symbolic tensor", "index it (t[:, 0]) or use K ops over an axis")

    def __len__(self):
        raise self._kir_refuse("len() of a symbolic tensor", "use K.int_shape(t) for static sizes or K.shape(t)[i]")

    def _kir_no_value(self, *_: Any):
        raise self._kir_refuse("using a symbolic tensor as a Python number (float(), int(), range(), math.*)",
                               "its value is unknown until the model runs; use kir.backend (K) ops")

    __float__ = __int__ = __index__ = __complex__ = _kir_no_value


class SymbolicTensor(SymbolicOps):
    """A symbolic value with a `spec` (KTensor, TraceTensor): its shape, dtype and rank, and
    equality by identity."""

    __slots__ = ()
    spec: Any

    @property
    def shape(self) -> tuple:
        return self.spec.shape

    @property
    def dtype(self) -> str:
        return self.spec.dtype

    @property
    def ndim(self) -> int:
        return self.spec.rank

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__


def _values(x: Any) -> Any:
    """x with every SymbolicOps (a Variable outside a trace) replaced by its numpy value."""
    if isinstance(x, SymbolicOps):
        return np.asarray(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_values(v) for v in x)
    if isinstance(x, dict):
        return {k: _values(v) for k, v in x.items()}
    return x


class SymbolicDim:
    """`K.shape(t)[axis]` where that size is unknown until run time (the batch, usually). It can
    be passed where K ops take a shape (`K.reshape(x, (K.shape(x)[0], -1))`,
    `K.random_normal((K.shape(z)[0], 2))`, `K.arange(K.shape(t)[1])`), and nothing else."""

    __slots__ = ("tensor", "axis")

    def __init__(self, tensor: Any, axis: int) -> None:
        self.tensor = tensor
        self.axis = axis

    def __kir_op__(self, name: str, args: tuple, kwargs: dict, env: dict | None = None) -> Any:
        return self.tensor.__kir_op__(name, args, kwargs, env)

    def _refuse(self, *_: Any) -> Any:
        raise TraceError(f"{self.tensor._kir_where()}: {self!r} is a size known only at run time, so kir cannot "
                         f"compute with it in Python; pass it as a size to K.reshape / K.random_normal / K.zeros / "
                         f"K.arange (use -1 in a reshape for a size derived from it)")

    __int__ = __index__ = __float__ = __bool__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _refuse

    def __repr__(self) -> str:
        return f"K.shape(t)[{self.axis}]"


def shape_of(tensor: Any) -> tuple:
    """`K.shape(t)`: static sizes as ints, the others as SymbolicDims."""
    return tuple(SymbolicDim(tensor, i) if d is None else int(d) for i, d in enumerate(tensor.shape))
