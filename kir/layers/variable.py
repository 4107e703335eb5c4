"""`Variable`: what `Layer.add_weight` returns, a handle on one weight of one layer.

Outside a trace it behaves like the weight's numpy value (`np.asarray(v)`, `v.shape`, `v + 1`,
`v.assign(...)`). Inside a traced `call()` it is that weight as a graph parameter: `K.dot(x,
self.kernel)` records a `Param` vertex holding the layer's weight, so the weight trains on the
TensorFlow backend and becomes an initializer in ONNX exports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from kir.layers.symbolic import SymbolicOps

if TYPE_CHECKING:
    from kir.layers.base import Layer


class Variable(SymbolicOps):
    """Weight `name` of `layer` (reads the current value each time; `assign` replaces it)."""

    __slots__ = ("layer", "weight")

    def __init__(self, layer: Layer, weight: str) -> None:
        self.layer = layer
        self.weight = weight

    @property
    def value(self) -> np.ndarray:
        return self.layer.get_weight(self.weight)

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def assign(self, value: Any) -> None:
        self.layer.assign_weight(self.weight, value)

    @property
    def name(self) -> str:
        return self.weight

    @property
    def path(self) -> str:
        return f"{self.layer.name}/{self.weight}"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> str:
        return self.value.dtype.name

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def trainable(self) -> bool:
        return self.layer.weight_trainable(self.weight)

    def __kir_op__(self, name: str, args: tuple, kwargs: dict, env: dict | None = None) -> Any:
        from kir.layers import kops, trace

        tracer = trace.active()
        if tracer is None:
            return NotImplemented
        return kops.apply(tracer, name, args, kwargs, env)

    def _kir_where(self) -> str:
        return f"weight '{self.path}'"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        from kir.layers import trace

        if trace.active() is not None:
            return super().__array__(dtype, copy)
        return np.asarray(self.value, dtype=dtype)

    def __len__(self) -> int:
        return len(self.value)

    def __repr__(self) -> str:
        return f"<Variable path={self.path} shape={self.shape} dtype={self.dtype}>"
