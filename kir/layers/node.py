"""A Node is one call of a layer: which tensors went in, which came out, and its index."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kir.layers.tensor import KTensor

if TYPE_CHECKING:
    from kir.layers.base import Layer


class Node:
    """Call number `index` (0, 1, 2, ...) of `layer` on `inputs`, producing `outputs`."""

    __slots__ = ("layer", "inputs", "outputs", "index")

    def __init__(self, layer: Layer, inputs: list[KTensor], index: int) -> None:
        self.layer = layer
        self.inputs = list(inputs)
        self.outputs: list[KTensor] = []
        self.index = index

    @property
    def parents(self) -> list[Node]:
        return [t.node for t in self.inputs if t.node is not None]

    def __repr__(self) -> str:
        return f"<Node {self.layer.name}#{self.index}>"
