"""A Node is one call of a layer: which tensors went in, which came out, and its index."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kir.layers.tensor import KTensor

if TYPE_CHECKING:
    from kir.layers.base import Layer


class Node:
    """Call number `index` (0, 1, 2, ...) of `layer` on `inputs`, producing `outputs`."""

    __slots__ = ("layer", "inputs", "outputs", "index", "masks")

    def __init__(self, layer: Layer, inputs: list[KTensor], index: int) -> None:
        self.layer = layer
        self.inputs = list(inputs)
        self.outputs: list[KTensor] = []
        self.index = index
        self.masks: dict[int, KTensor] = {}
        """Explicit masks of this call (`layer(x, mask=m)`): input index -> mask tensor, which
        overrides the mask that input carries (Keras' `mask=` call argument)."""

    def input_masks(self) -> list[KTensor | None]:
        """The mask in force for each input: the explicit one, else the one the tensor carries."""
        return [self.masks.get(i, t.mask) for i, t in enumerate(self.inputs)]

    @property
    def dependencies(self) -> list[KTensor]:
        """The tensors this call reads: its inputs, then its explicit masks."""
        return self.inputs + list(self.masks.values()) if self.masks else self.inputs

    @property
    def parents(self) -> list[Node]:
        return [t.node for t in self.dependencies if t.node is not None]

    def __repr__(self) -> str:
        return f"<Node {self.layer.name}#{self.index}>"
