"""Embedding: integer ids -> dense vectors (weight `embeddings`, (input_dim, output_dim))."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kir.errors import check_positive_int
from kir.ir.spec import TensorSpec
from kir.layers import _args, _masks
from kir.layers.base import Layer

if TYPE_CHECKING:
    from kir.ir.graph import Ref
    from kir.layers.emitter import Emitter
    from kir.layers.node import Node
    from kir.layers.tensor import KTensor


class Embedding(Layer):
    """`Embedding(input_dim=10000, output_dim=512, input_length=100)`; `input_length` declares the input shape.

    With `mask_zero=True` id 0 is padding: the output carries the mask `ids != 0` (a Binary
    not_equal vertex of the graph), which the layers after it honour as Keras' do."""

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, embeddings_constraint: Any = None,
                 activity_regularizer: Any = None, mask_zero: bool = False,
                 input_length: int | None = None, **kwargs: Any):
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.input_dim = check_positive_int(input_dim, f"Embedding '{self.name}': input_dim")
        self.output_dim = check_positive_int(output_dim, f"Embedding '{self.name}': output_dim")
        _args.initializer_args(self, embeddings_initializer=embeddings_initializer)
        _args.regularizer_args(self, embeddings_regularizer=embeddings_regularizer,
                               activity_regularizer=activity_regularizer)
        _args.constraint_args(self, embeddings_constraint=embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length

    def build(self, input_specs: list[TensorSpec]) -> None:
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)

    def ir_attrs(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero}

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        return [self.new_mask(node, node.inputs[0].shape) if self.mask_zero else None]

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        outputs = super().emit(emitter, inputs, node)
        if node is not None and node.outputs[0].mask is not None:
            name = f"{self._vertex_name(node)}_mask"
            emitter.bind_mask(node.outputs[0].mask, _masks.not_equal(emitter, self, inputs[0], 0, name))
        return outputs
