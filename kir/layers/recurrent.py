"""Recurrent layers: SimpleRNN, GRU, LSTM (Keras 3 gate order, weights and defaults)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kir import activations
from kir.errors import ConfigError, ShapeError, check_positive_int
from kir.ir.spec import TensorSpec, format_shape
from kir.layers import _args
from kir.layers.base import Layer
from kir.layers.tensor import KTensor

if TYPE_CHECKING:
    from kir.ir.graph import Ref
    from kir.layers.emitter import Emitter
    from kir.layers.node import Node


def initial_state_inputs(layer: Layer, kwargs: dict[str, Any], names: Sequence[str]) -> list[KTensor]:
    """A recurrent call's keyword arguments: `initial_state=` (a tensor or a list, one per state in
    `names`; None starts from zeros) as the op's inputs after x. Anything else is refused as
    `Layer` refuses it."""
    rest = {k: v for k, v in kwargs.items() if k != "initial_state"}
    if rest:
        return Layer._call_kwarg_inputs(layer, rest)
    states = kwargs["initial_state"]
    if states is None:
        return []
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    if len(states) != len(names) or not all(isinstance(s, KTensor) for s in states):
        kinds = ", ".join(type(s).__name__ for s in states) or "nothing"
        raise ConfigError(f"{layer._where()}: initial_state must be {len(names)} symbolic tensor(s) of shape "
                          f"(batch, units): [{', '.join(names)}], got {kinds}")
    return states


class _RNN(Layer):
    """A masked input (Embedding(mask_zero=True), Masking) makes the op `masked`: its mask is the
    op's last input, masked steps carry the state (docs/ops.md, "Masks"); the sequence output
    carries the mask on, the last output and the states carry none (Keras' compute_mask). A call
    with `initial_state=` applies no mask, as in Keras 3."""

    gates: ClassVar[int] = 1
    supports_masking = True
    call_takes_mask = True

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, zero_output_for_mask: bool = False,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        self.units = check_positive_int(units, f"{where}: units")
        _args.kernel_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer, activity_regularizer)
        _args.initializer_args(self, recurrent_initializer=recurrent_initializer)
        _args.regularizer_args(self, recurrent_regularizer=recurrent_regularizer)
        _args.constraint_args(self, kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                              bias_constraint=bias_constraint)
        self.dropout = _args.rate(dropout, f"{where}: dropout")
        self.recurrent_dropout = _args.rate(recurrent_dropout, f"{where}: recurrent_dropout")
        if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))):
            raise ConfigError(f"{where}: seed must be an int or None (it seeds the dropout masks), got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        if stateful:
            raise ConfigError(f"{where}: stateful=True is not supported by kir; state is reset every batch")
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)

    def state_names(self) -> tuple[str, ...]:
        """The states the cell carries, in Keras' order: h (LSTM: h and c)."""
        return ("h", "c") if self.gates == 4 else ("h",)

    def _call_kwarg_inputs(self, kwargs: dict[str, Any]) -> list[KTensor]:
        return initial_state_inputs(self, kwargs, self.state_names())

    def _accepts_several(self) -> bool:
        """`layer([x, *states])`, the list form of `layer(x, initial_state=states)` (.kir files
        record a call with its initial states this way)."""
        return True

    def build(self, input_specs: list[TensorSpec]) -> None:
        x = input_specs[0]
        if x.rank != 3 or x.shape[-1] is None:
            raise ShapeError(f"{self._where()}: expects inputs of shape (batch, timesteps, features) with known "
                             f"features, got {format_shape(x.shape)}")
        g = self.gates * self.units
        self.add_weight("kernel", (x.shape[-1], g), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (self.units, g), self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self.bias_initializer)
            self._init_bias()

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def _init_bias(self) -> None:
        """Hook for LSTM's unit_forget_bias."""

    def ir_attrs(self) -> dict[str, Any]:
        attrs = {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                 "return_sequences": self.return_sequences, "return_state": self.return_state,
                 "go_backwards": self.go_backwards, "dropout": self.dropout,
                 "recurrent_dropout": self.recurrent_dropout}
        if self.zero_output_for_mask:
            attrs["zero_output_for_mask"] = True
        if self.seed is not None:  # seeds the training-time dropout masks
            attrs["seed"] = self.seed
        return attrs

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        return sequence_masks(self.return_sequences, node, masks)

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        # Keras 3 fills in `mask=` only for a call with one tensor argument: with initial_state=
        # the mask is not applied (the sequence output still carries it on)
        # an explicit mask= applies with initial_state= too
        mask = emitter.input_mask(node) if len(inputs) == 1 or (node is not None and node.masks) else None
        return emit_masked(self, emitter, inputs, mask, self._vertex_name(node))


def sequence_masks(return_sequences: bool, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
    """Keras' RNN compute_mask: the input mask passes to the sequence output only."""
    first = masks[0] if masks and return_sequences else None
    return [first] + [None] * (len(node.outputs) - 1)


def emit_masked(layer: _RNN, emitter: Emitter, inputs: list[Ref], mask: Ref | None, name: str) -> list[Ref]:
    """One recurrent vertex; with a mask, attribute `masked` and the mask as its last input."""
    if mask is None:
        return emitter.layer_op(layer, inputs, name=name)
    return emitter.layer_op(layer, [*inputs, mask], {**layer.ir_attrs(), "masked": True}, name=name)


class SimpleRNN(_RNN):
    """Fully connected RNN: h = activation(x W + h U + b)."""

    gates = 1


class _GatedRNN(_RNN):
    """GRU and LSTM: their gates use `recurrent_activation`. `use_cudnn` ("auto", True, False) is
    Keras 3's: whether TensorFlow may run the fused cuDNN kernel (docs/ops.md, "Fused cuDNN LSTM/GRU")."""

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_cudnn: Any = "auto", **kwargs: Any):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation, self.name)
        if not (isinstance(use_cudnn, (bool, np.bool_)) or use_cudnn == "auto"):
            raise ConfigError(f"{type(self).__name__} '{self.name}': invalid value received for argument "
                              f"`use_cudnn`. Expected one of {{'auto', True, False}}. "
                              f"Received: use_cudnn={use_cudnn!r}")
        self.use_cudnn = use_cudnn if use_cudnn == "auto" else bool(use_cudnn)

    def ir_attrs(self) -> dict[str, Any]:
        attrs = {**super().ir_attrs(), "recurrent_activation": self.recurrent_activation}
        if self.unroll:  # both only steer the TensorFlow backend's choice of kernel
            attrs["unroll"] = True
        if self.use_cudnn != "auto":
            attrs["use_cudnn"] = self.use_cudnn
        return attrs


class GRU(_GatedRNN):
    """Gated recurrent unit, gates z, r, h; `reset_after=True` (Keras 3 default, cuDNN-compatible)."""

    gates = 3

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 reset_after: bool = True, use_cudnn: Any = "auto", **kwargs: Any):
        super().__init__(units, activation, recurrent_activation, use_cudnn, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def ir_attrs(self) -> dict[str, Any]:
        return {**super().ir_attrs(), "reset_after": self.reset_after}


class LSTM(_GatedRNN):
    """Long short-term memory, gates i, f, c, o; `unit_forget_bias` starts the forget bias at 1."""

    gates = 4

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 unit_forget_bias: bool = True, use_cudnn: Any = "auto", **kwargs: Any):
        super().__init__(units, activation, recurrent_activation, use_cudnn, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _init_bias(self) -> None:
        if self.unit_forget_bias:
            bias = self.get_weight("bias").copy()
            bias[self.units:2 * self.units] = np.float32(1.0)
            self._weights["bias"] = bias
