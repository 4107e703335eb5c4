"""Convolutions: Conv1D, Conv2D and Conv3D (channels_last like Keras, kernel (k..., in, filters)), their
transposes Conv1DTranspose and Conv2DTranspose (kernel (k..., filters, in), as Keras), and the depthwise
and separable 1-D/2-D convolutions (Keras' weight names and layouts)."""

from __future__ import annotations

from typing import Any

from kir import activations
from kir.errors import ConfigError, ShapeError
from kir.ir.spec import TensorSpec, format_shape
from kir.layers import _args
from kir.layers.base import Layer


class RankedLayer(Layer):
    """A layer family over 1, 2 or 3 spatial dims: `class Conv2D(_Conv, rank=2)` sets `rank`."""

    rank: int = 2

    def __init_subclass__(cls, rank: int = 2, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.rank = rank

    def _channels(self, input_specs: list[TensorSpec]) -> int:
        """The known channel count of a (batch, *spatial, channels) input (channels first or last)."""
        x = input_specs[0]
        if x.rank != self.rank + 2:
            raise ShapeError(f"{self._where()}: expects inputs of rank {self.rank + 2} "
                             f"(batch, {'spatial, ' * self.rank}channels), got {format_shape(x.shape)}")
        channels = x.shape[1 if self.data_format == "channels_first" else -1]
        if channels is None:
            raise ShapeError(f"{self._where()}: the channel dimension of {format_shape(x.shape)} must be known")
        return int(channels)


class _Conv(RankedLayer):
    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        self.filters = _args.int_tuple(filters, 1, "filters", where)[0]
        self.kernel_size = _args.int_tuple(kernel_size, self.rank, "kernel_size", where)
        self.strides = _args.int_tuple(strides, self.rank, "strides", where)
        self.dilation_rate = _args.int_tuple(dilation_rate, self.rank, "dilation_rate", where)
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        self.padding = _args.padding(padding, where, allowed)
        self.data_format = _args.data_format(data_format, where)
        if groups != 1:
            raise ConfigError(f"{where}: groups={groups} is not supported by kir; use groups=1")
        _args.kernel_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer, activity_regularizer)
        _args.constraint_args(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def kernel_shape(self, channels: int) -> tuple[int, ...]:
        return (*self.kernel_size, channels, self.filters)

    def build(self, input_specs: list[TensorSpec]) -> None:
        channels = self._channels(input_specs)
        self.add_weight("kernel", self.kernel_shape(channels), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)

    def ir_attrs(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate), "activation": self.activation,
                "use_bias": self.use_bias, "data_format": self.data_format}


class Conv1D(_Conv, rank=1):
    """Temporal convolution over (batch, steps, channels)."""


class Conv2D(_Conv, rank=2):
    """Spatial convolution over (batch, height, width, channels)."""


class Conv3D(_Conv, rank=3):
    """Volumetric convolution over (batch, depth, rows, cols, channels); kernel (kd, kh, kw, in, filters)."""


Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D


class _ConvTranspose(_Conv):
    """Keras' transposed convolutions: the kernel is (*k, filters, in); the output grows by the strides."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None, dilation_rate: Any = 1,
                 activation: Any = None, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any):
        super().__init__(filters, kernel_size, strides, "valid", data_format, dilation_rate, 1, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        self.padding = _args.padding(padding, where, ("valid", "same"))
        self.output_padding = None if output_padding is None else _output_padding(output_padding, self.strides, where)
        if self.dilation_rate != [1] * self.rank:
            raise ConfigError(f"{where}: dilation_rate={tuple(self.dilation_rate)} is not supported by kir's "
                              f"transposed convolutions; use dilation_rate=1")

    def kernel_shape(self, channels: int) -> tuple[int, ...]:
        return (*self.kernel_size, self.filters, channels)

    def ir_attrs(self) -> dict[str, Any]:
        return {**super().ir_attrs(), "output_padding": self.output_padding}


def _output_padding(value: Any, strides: list[int], where: str) -> list[int]:
    """A non-negative int or tuple per spatial axis, each smaller than its stride (as Keras asks)."""
    items = [value] * len(strides) if isinstance(value, int) else list(value)
    if len(items) != len(strides) or any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < s
                                         for v, s in zip(items, strides)):
        raise ConfigError(f"{where}: output_padding must be a non-negative int or a tuple of {len(strides)}, "
                          f"each smaller than strides {tuple(strides)}, got {value!r}")
    return [int(v) for v in items]


class Conv1DTranspose(_ConvTranspose, rank=1):
    """Transposed temporal convolution over (batch, steps, channels); kernel (k, filters, in)."""


class Conv2DTranspose(_ConvTranspose, rank=2):
    """Transposed spatial convolution over (batch, rows, cols, channels); kernel (kh, kw, filters, in)."""


Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose


class _DepthwiseConv(RankedLayer):
    """Keras' depthwise convolutions: each input channel convolved with its own `depth_multiplier`
    filters; kernel (*k, in, depth_multiplier), bias (in * depth_multiplier)."""

    def __init__(self, kernel_size: Any, strides: Any = 1, padding: str = "valid", depth_multiplier: int = 1,
                 data_format: str | None = None, dilation_rate: Any = 1, activation: Any = None,
                 use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 depthwise_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._window_args(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        self._output_args(activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer)
        _args.initializer_args(self, depthwise_initializer=depthwise_initializer)
        _args.regularizer_args(self, depthwise_regularizer=depthwise_regularizer)
        _args.constraint_args(self, depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)

    def _output_args(self, activation: Any, use_bias: Any, bias_initializer: Any, bias_regularizer: Any,
                     activity_regularizer: Any) -> None:
        """activation, use_bias and the bias/activity arguments every depthwise and separable conv takes."""
        self.activation = activations.get(activation, self.name)
        self.use_bias = bool(use_bias)
        _args.initializer_args(self, bias_initializer=bias_initializer)
        _args.regularizer_args(self, bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer)

    def _window_args(self, kernel_size: Any, strides: Any, padding: Any, depth_multiplier: Any,
                     data_format: Any, dilation_rate: Any) -> None:
        where = f"{type(self).__name__} '{self.name}'"
        self.kernel_size = _args.int_tuple(kernel_size, self.rank, "kernel_size", where)
        self.strides = _args.int_tuple(strides, self.rank, "strides", where)
        self.dilation_rate = _args.int_tuple(dilation_rate, self.rank, "dilation_rate", where)
        self.depth_multiplier = _args.int_tuple(depth_multiplier, 1, "depth_multiplier", where)[0]
        self.padding = _args.padding(padding, where)
        self.data_format = _args.data_format(data_format, where)

    def build(self, input_specs: list[TensorSpec]) -> None:
        channels = self._channels(input_specs)
        self.add_weight("kernel", (*self.kernel_size, channels, self.depth_multiplier), self.depthwise_initializer,
                        regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint)
        if self.use_bias:
            self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer,
                            regularizer=self.bias_regularizer)

    def ir_attrs(self) -> dict[str, Any]:
        return {"kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
                "depth_multiplier": self.depth_multiplier, "dilation_rate": list(self.dilation_rate),
                "activation": self.activation, "use_bias": self.use_bias, "data_format": self.data_format}


class DepthwiseConv1D(_DepthwiseConv, rank=1):
    """Depthwise temporal convolution over (batch, steps, channels); kernel (k, in, depth_multiplier)."""


class DepthwiseConv2D(_DepthwiseConv, rank=2):
    """Depthwise spatial convolution over (batch, rows, cols, channels); kernel (kh, kw, in, depth_multiplier)."""


class _SeparableConv(_DepthwiseConv):
    """Keras' separable convolutions: a depthwise convolution, then a 1x1 one to `filters`;
    depthwise_kernel (*k, in, depth_multiplier), pointwise_kernel (1.., in * depth_multiplier, filters), bias."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, depth_multiplier: int = 1,
                 activation: Any = None, use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 pointwise_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 depthwise_regularizer: Any = None, pointwise_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, depthwise_constraint: Any = None, pointwise_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any):
        Layer.__init__(self, **kwargs)  # its own arguments, not DepthwiseConv's
        where = f"{type(self).__name__} '{self.name}'"
        self.filters = _args.int_tuple(filters, 1, "filters", where)[0]
        self._window_args(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        self._output_args(activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer)
        _args.initializer_args(self, depthwise_initializer=depthwise_initializer,
                               pointwise_initializer=pointwise_initializer)
        _args.regularizer_args(self, depthwise_regularizer=depthwise_regularizer,
                               pointwise_regularizer=pointwise_regularizer)
        _args.constraint_args(self, depthwise_constraint=depthwise_constraint,
                              pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint)

    def build(self, input_specs: list[TensorSpec]) -> None:
        channels = self._channels(input_specs)
        self.add_weight("depthwise_kernel", (*self.kernel_size, channels, self.depth_multiplier),
                        self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                        constraint=self.depthwise_constraint)
        self.add_weight("pointwise_kernel", (*[1] * self.rank, channels * self.depth_multiplier, self.filters),
                        self.pointwise_initializer, regularizer=self.pointwise_regularizer,
                        constraint=self.pointwise_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer)

    def ir_attrs(self) -> dict[str, Any]:
        return {"filters": self.filters, **super().ir_attrs()}


class SeparableConv1D(_SeparableConv, rank=1):
    """Depthwise-separable temporal convolution over (batch, steps, channels)."""


class SeparableConv2D(_SeparableConv, rank=2):
    """Depthwise-separable spatial convolution over (batch, rows, cols, channels)."""


SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
