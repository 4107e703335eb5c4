"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Permute, RepeatVector, ELU, Masking."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kir import activations
from kir.errors import ConfigError, ShapeError, check_positive_int
from kir.ir.spec import TensorSpec, format_shape
from kir.layers import _args, _masks
from kir.layers.base import Layer

if TYPE_CHECKING:
    from kir.ir.graph import Ref
    from kir.layers.emitter import Emitter
    from kir.layers.node import Node
    from kir.layers.tensor import KTensor


class Dense(Layer):
    """`activation(x @ kernel + bias)` on the last axis."""

    supports_masking = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, f"Dense '{self.name}': units")
        _args.kernel_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer, activity_regularizer)
        _args.constraint_args(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def build(self, input_specs: list[TensorSpec]) -> None:
        spec = input_specs[0]
        if spec.rank < 2 or spec.shape[-1] is None:
            from kir.errors import ShapeError
            from kir.ir.spec import format_shape

            raise ShapeError(f"layer '{self.name}' (Dense) needs an input of rank >= 2 with a known last "
                             f"dimension, got {format_shape(spec.shape)}")
        self.add_weight("kernel", (spec.shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)

    def ir_attrs(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias}


class Activation(Layer):
    """Applies a named Keras activation."""

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation, self.name)

    def ir_attrs(self) -> dict[str, Any]:
        return {"activation": self.activation}


class Dropout(Layer):
    """Randomly zeroes a fraction `rate` of inputs while training; identity at inference."""

    supports_masking = True

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.rate = _args.rate(rate, f"Dropout '{self.name}': rate")
        self.noise_shape = None if noise_shape is None else [None if d is None else int(d) for d in noise_shape]
        self.seed = None if seed is None else int(seed)

    def ir_attrs(self) -> dict[str, Any]:
        return {"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Flatten(Layer):
    """Collapses every non-batch dimension into one."""

    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def ir_attrs(self) -> dict[str, Any]:
        return {"data_format": self.data_format}


class Reshape(Layer):
    """Reshapes to `target_shape` (without batch; one dimension may be -1)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        where = f"Reshape '{self.name}'"
        self.target_shape = _args.int_list(target_shape, "target_shape", where)
        if any(d == 0 or d < -1 for d in self.target_shape) or self.target_shape.count(-1) > 1:
            raise ConfigError(f"{where}: target_shape must hold positive sizes and at most one -1, "
                              f"got {tuple(target_shape)}")

    def ir_attrs(self) -> dict[str, Any]:
        return {"target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permutes non-batch dimensions; `dims` is 1-based like Keras, e.g. (2, 1)."""

    def __init__(self, dims: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = _args.int_list(dims, "dims", f"Permute '{self.name}'")
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ConfigError(f"Permute '{self.name}': dims must be a permutation of 1..{len(self.dims)}, "
                              f"got {tuple(dims)}")

    def ir_attrs(self) -> dict[str, Any]:
        return {"dims": list(self.dims)}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.n = check_positive_int(n, f"RepeatVector '{self.name}': n")

    def ir_attrs(self) -> dict[str, Any]:
        return {"n": self.n}


class ELU(Layer):
    """Exponential linear unit: x if x > 0 else alpha * (exp(x) - 1)."""

    supports_masking = True

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise ConfigError(f"ELU '{self.name}': alpha must be a number, got {alpha!r}")
        self.alpha = float(alpha)

    def ir_attrs(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class Masking(Layer):
    """Marks the time steps whose features all equal `mask_value` as padding: the output is the
    input with those steps zeroed, and it carries the mask `any(x != mask_value, axis=-1)` (as
    Keras' Masking). It lowers to math primitives (Binary, Cast, Reduce, Where), no op of its own."""

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise ConfigError(f"Masking '{self.name}': mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        x = input_specs[0]
        if x.rank < 2:
            raise ShapeError(f"{self._where()}: needs an input of rank >= 2 (batch, ..., features), "
                             f"got {format_shape(x.shape)}")
        return [x]

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        return [self.new_mask(node, node.inputs[0].shape[:-1])]

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        base = self._vertex_name(node)
        x = inputs[0]
        keep = _masks.any_last(emitter, self, _masks.not_equal(emitter, self, x, self.mask_value, f"{base}_differs"),
                               f"{base}_keep", keepdims=True)
        zero = _masks.constant(emitter, self, 0, emitter.graph.spec(x).dtype, f"{base}_zero")
        out = emitter.op("Where", [keep, x, zero], {}, self, name=base)[0]
        if node is not None:
            mask = emitter.op("Squeeze", [keep], {"axes": [-1]}, self, name=f"{base}_mask")[0]
            emitter.bind_mask(node.outputs[0].mask, mask)
        return [out]
