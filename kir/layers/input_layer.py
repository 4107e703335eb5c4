"""Input / InputLayer: where a functional graph starts."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from kir.errors import ConfigError
from kir.ir.spec import TensorSpec, normalize_dtype
from kir.layers.base import Layer
from kir.layers.node import Node
from kir.layers.tensor import KTensor


class InputLayer(Layer):
    """Holds one placeholder tensor; node 0 has no inputs and outputs that tensor."""

    op_type = "Input"

    def __init__(self, input_shape: Sequence[int | None] | None = None, batch_size: int | None = None,
                 dtype: Any = None, name: str | None = None, batch_shape: Sequence[int | None] | None = None,
                 sparse: bool | None = None, **kwargs: Any) -> None:
        if sparse:
            raise ConfigError("Input: sparse inputs are not supported by kir")
        if batch_shape is None:
            if input_shape is None:
                raise ConfigError("Input needs shape=... (without the batch dimension), e.g. Input(shape=(784,))")
            if isinstance(input_shape, numbers.Integral):
                input_shape = (input_shape,)
            batch_shape = (batch_size,) + tuple(input_shape)
        for d in batch_shape:
            if d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral) or d <= 0):
                raise ConfigError(f"Input '{name or 'input'}': dimensions must be positive ints or None, "
                                  f"got shape {tuple(batch_shape)}")
        batch_shape = tuple(None if d is None else int(d) for d in batch_shape)  # numpy ints as Python ints
        super().__init__(name=name or None, dtype=dtype, **kwargs)
        self.built = True
        self.dtype = normalize_dtype(dtype)
        spec = TensorSpec(tuple(batch_shape), self.dtype)
        node = Node(self, [], 0)
        node.outputs = [KTensor(spec, node, 0, self.name)]
        self._inbound_nodes.append(node)

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.output.shape), "dtype": self.dtype, "name": self.name}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(f"InputLayer '{self.name}' cannot be called; use its tensor `layer.output`")


def Input(shape: Sequence[int | None] | None = None, batch_size: int | None = None, dtype: Any = None,
          name: str | None = None, batch_shape: Sequence[int | None] | None = None,
          sparse: bool | None = None) -> KTensor:
    """A symbolic input tensor of `shape` (without batch), e.g. `Input(shape=(784,))` -> (None, 784)."""
    layer = InputLayer(input_shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                       batch_shape=batch_shape, sparse=sparse)
    return layer.output
