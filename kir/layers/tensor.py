"""Symbolic tensors: what a layer call returns in Keras-style graph building."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kir.ir.spec import Shape, TensorSpec, format_shape

if TYPE_CHECKING:
    from kir.layers.node import Node


class KTensor:
    """A symbolic tensor produced by output `index` of `node` (one call of a layer).

    Equality is identity, so `assert lstm.output == encoded_a` means "the very same tensor".
    """

    __slots__ = ("spec", "node", "index", "name")

    def __init__(self, spec: TensorSpec, node: Node | None = None, index: int = 0, name: str = "") -> None:
        self.spec = spec
        self.node = node
        self.index = index
        self.name = name

    @property
    def shape(self) -> Shape:
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

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<KTensor name={self.name} shape={format_shape(self.shape)} dtype={self.dtype}>"
