"""Symbolic tensors: what a layer call returns in Keras-style graph building."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kir.ir.spec import TensorSpec, format_shape
from kir.layers.symbolic import SymbolicTensor, shape_of

if TYPE_CHECKING:
    from kir.layers.node import Node


class KTensor(SymbolicTensor):
    """A symbolic tensor produced by output `index` of `node` (one call of a layer).

    Equality is identity, so `assert lstm.output == encoded_a` means "the very same tensor".
    Tensor operators and kir.backend ops on it (`x + y`, `1 + t`, `K.square(t)`, `t[:, 0]`) add a
    small traced layer (`kir.layers.lambda_layer.TensorOp`) to the graph, as Keras 3 adds an op.

    `mask` is Keras' `_keras_mask`: the bool (batch, timesteps) tensor saying which steps are real,
    attached by the call that produced this tensor (Embedding(mask_zero=True), Masking, or a layer
    passing its input's mask on); None when the tensor carries no mask (docs/ops.md, "Masks").
    """

    __slots__ = ("spec", "node", "index", "name", "mask")

    def __init__(self, spec: TensorSpec, node: Node | None = None, index: int = 0, name: str = "") -> None:
        self.spec = spec
        self.node = node
        self.index = index
        self.name = name
        self.mask: KTensor | None = None

    @property
    def _keras_mask(self) -> KTensor | None:
        """Keras' name for the mask this tensor carries."""
        return self.mask

    def __kir_op__(self, name: str, args: tuple, kwargs: dict, env: dict | None = None) -> Any:
        """A kir.backend op with this tensor among its arguments (kir.backend dispatches here)."""
        if name in _QUERIES and len(args) == 1 and args[0] is self and not kwargs:
            return _QUERIES[name](self)
        from kir.layers.lambda_layer import lift

        return lift(name, args, kwargs, env)

    def _kir_where(self) -> str:
        return f"tensor '{self.name}'"

    def __bool__(self) -> bool:
        raise self._kir_refuse("using a symbolic tensor as a Python bool (if/while/and/or/not on a tensor)",
                               "its value is unknown until the model runs; choose per element with "
                               "K.where(condition, x, y), and test `t is None` for presence")

    def __repr__(self) -> str:
        return f"<KTensor name={self.name} shape={format_shape(self.shape)} dtype={self.dtype}>"


_QUERIES = {"shape": shape_of, "int_shape": lambda t: t.shape, "ndim": lambda t: t.ndim,
            "dtype": lambda t: t.dtype, "is_tensor": lambda t: True}
