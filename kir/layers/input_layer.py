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
                 sparse: bool | None = None, dim_names: Sequence[str | None] | None = None, **kwargs: Any) -> None:
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
        self.dim_names = _check_dim_names(dim_names, batch_shape, name)
        super().__init__(name=name or None, dtype=dtype, **kwargs)
        self.built = True
        self.dtype = normalize_dtype(dtype)
        spec = TensorSpec(tuple(batch_shape), self.dtype)
        node = Node(self, [], 0)
        node.outputs = [KTensor(spec, node, 0, self.name)]
        self._inbound_nodes.append(node)

    def get_config(self) -> dict[str, Any]:
        config = {"batch_shape": list(self.output.shape), "dtype": self.dtype, "name": self.name}
        if self.dim_names is not None:
            config["dim_names"] = list(self.dim_names)
        return config

    def ir_attrs(self) -> dict[str, Any]:
        """`dim_names` (when given): exporters name those dynamic dims (ONNX dim_param)."""
        return {} if self.dim_names is None else {"dim_names": list(self.dim_names)}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(f"InputLayer '{self.name}' cannot be called; use its tensor `layer.output`")


def Input(shape: Sequence[int | None] | None = None, batch_size: int | None = None, dtype: Any = None,
          name: str | None = None, batch_shape: Sequence[int | None] | None = None,
          sparse: bool | None = None, dim_names: Sequence[str | None] | None = None) -> KTensor:
    """A symbolic input tensor of `shape` (without batch), e.g. `Input(shape=(784,))` -> (None, 784).

    dim_names (kir's own, one per dim of `shape`): names for the None dims, e.g.
    `Input(shape=(None, 64), name="tokens", dim_names=("seq", None))`, written as named dynamic
    dims in exported ONNX files (the batch dim is always 'batch')."""
    layer = InputLayer(input_shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                       batch_shape=batch_shape, sparse=sparse, dim_names=dim_names)
    return layer.output


def _check_dim_names(names: Sequence[str | None] | None, batch_shape: tuple, layer: str | None
                     ) -> tuple[str | None, ...] | None:
    """One name (or None) per non-batch dim; only unknown (None) dims may be named."""
    if names is None:
        return None
    who = f"Input '{layer or 'input'}'"
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ConfigError(f"{who}: dim_names must be a tuple with one name (or None) per dim of shape, "
                          f"e.g. ('seq', None), got {names!r}")
    dims = batch_shape[1:]
    if len(names) != len(dims):
        raise ConfigError(f"{who}: dim_names has {len(names)} entries but shape {tuple(dims)} has {len(dims)} dims "
                          f"(the batch dim is not named)")
    for name, dim in zip(names, dims):
        if name is None:
            continue
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{who}: dim name {name!r} must be an identifier like 'seq'")
        if dim is not None:
            raise ConfigError(f"{who}: dim name '{name}' names a static dim ({dim}); only None dims can be named")
        if name == "batch":
            raise ConfigError(f"{who}: 'batch' is the batch dim's name; choose another name")
    return tuple(names)
