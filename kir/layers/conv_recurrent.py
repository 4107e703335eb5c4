"""Convolutional LSTMs: ConvLSTM1D, ConvLSTM2D, ConvLSTM3D (Keras 3's arguments, weights and defaults).

An LSTM whose input and recurrent transformations are convolutions: inputs (batch, time,
*spatial, channels), states h and c (batch, *spatial', filters). Weights in Keras' order and
layout: kernel (*kernel_size, channels, 4 filters), recurrent_kernel (*kernel_size, filters,
4 filters), bias (4 filters,), gates i, f, c, o.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kir import activations
from kir.errors import ConfigError, ShapeError
from kir.ir.spec import TensorSpec, format_shape
from kir.layers import _args
from kir.layers.conv import RankedLayer
from kir.layers.tensor import KTensor


class _ConvLSTM(RankedLayer):
    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        self.filters = _args.int_tuple(filters, 1, "filters", where)[0]
        self.kernel_size = _args.int_tuple(kernel_size, self.rank, "kernel_size", where)
        self.strides = _args.int_tuple(strides, self.rank, "strides", where)
        self.dilation_rate = _args.int_tuple(dilation_rate, self.rank, "dilation_rate", where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{where}: strides > 1 is not compatible with dilation_rate > 1 (as in Keras); got "
                              f"strides={tuple(self.strides)} and dilation_rate={tuple(self.dilation_rate)}")
        self.padding = _args.padding(padding, where)
        self.data_format = _args.data_format(data_format, where)
        if self.data_format != "channels_last":
            raise ConfigError(f"{where}: data_format='{self.data_format}' is not supported by kir's ConvLSTM; "
                              f"use channels_last (batch, time, *spatial, channels)")
        _args.kernel_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer, activity_regularizer)
        self.recurrent_activation = activations.get(recurrent_activation, self.name)
        _args.initializer_args(self, recurrent_initializer=recurrent_initializer)
        _args.regularizer_args(self, recurrent_regularizer=recurrent_regularizer)
        _args.constraint_args(self, kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                              bias_constraint=bias_constraint)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.dropout = _args.rate(dropout, f"{where}: dropout")
        self.recurrent_dropout = _args.rate(recurrent_dropout, f"{where}: recurrent_dropout")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ConfigError(f"{where}: seed must be an int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        if stateful:
            raise ConfigError(f"{where}: stateful=True is not supported by kir; state is reset every batch")

    def _call_kwarg_inputs(self, kwargs: dict[str, Any]) -> list[KTensor]:
        """`initial_state=[h, c]` (None: zeros) as the op's inputs after x."""
        rest = {k: v for k, v in kwargs.items() if k != "initial_state"}
        if rest:
            return super()._call_kwarg_inputs(rest)
        states = kwargs["initial_state"]
        if states is None:
            return []
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != 2 or not all(isinstance(s, KTensor) for s in states):
            kinds = ", ".join(type(s).__name__ for s in states) or "nothing"
            raise ConfigError(f"{self._where()}: initial_state must be 2 symbolic tensors [h, c] of shape "
                              f"(batch, *spatial, filters), got {kinds}")
        return states

    def _accepts_several(self) -> bool:
        """`layer([x, h, c])`, the list form of `layer(x, initial_state=[h, c])`."""
        return True

    def build(self, input_specs: list[TensorSpec]) -> None:
        x = input_specs[0]
        if x.rank != self.rank + 3:
            raise ShapeError(f"{self._where()}: expects inputs of rank {self.rank + 3} (batch, time, "
                             f"{'spatial, ' * self.rank}channels), got {format_shape(x.shape)}")
        if None in x.shape[2:]:
            raise ShapeError(f"{self._where()}: the spatial and channel dimensions of {format_shape(x.shape)} "
                             f"must be known (Keras' ConvLSTM needs them static); only batch and time may be None")
        g = 4 * self.filters
        self.add_weight("kernel", (*self.kernel_size, x.shape[-1], g), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (*self.kernel_size, self.filters, g), self.recurrent_initializer)
        if self.use_bias:
            self.add_weight("bias", (g,), self.bias_initializer)
            if self.unit_forget_bias:  # Keras: the forget block is ones, the rest from bias_initializer
                bias = self.get_weight("bias").copy()
                bias[self.filters: 2 * self.filters] = np.float32(1.0)
                self._weights["bias"] = bias

    def ir_attrs(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate),
                "data_format": self.data_format, "activation": self.activation,
                "recurrent_activation": self.recurrent_activation, "use_bias": self.use_bias,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


class ConvLSTM1D(_ConvLSTM, rank=1):
    """ConvLSTM over sequences of 1-D signals (batch, time, steps, channels)."""


class ConvLSTM2D(_ConvLSTM, rank=2):
    """ConvLSTM over sequences of images (batch, time, rows, cols, channels)."""


class ConvLSTM3D(_ConvLSTM, rank=3):
    """ConvLSTM over sequences of volumes (batch, time, depth, rows, cols, channels)."""
