"""Shape rules of the convolutional LSTMs (ConvLSTM1D, ConvLSTM2D, ConvLSTM3D), channels_last.

A ConvLSTM maps (batch, time, *spatial, channels) to the last hidden state (batch, *spatial',
filters) or, with `return_sequences`, every step's state (batch, time, *spatial', filters);
`return_state` appends the final h and c (each (batch, *spatial', filters)). spatial' is what
the input convolution (kernel_size, strides, padding, dilation_rate) makes of spatial; the
recurrent convolution is 'same' with stride 1, so it keeps spatial'. Optional inputs after x are
the initial states h and c. The weights are Keras': kernel (*k, channels, 4 filters),
recurrent_kernel (*k, filters, 4 filters), bias (4 filters,), gates i, f, c, o.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import as_list, differ, fmt, window_output_length
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec

#: op type -> number of spatial axes
RANKS = {"ConvLSTM1D": 1, "ConvLSTM2D": 2, "ConvLSTM3D": 3}


def step_shape(op: str, x: TensorSpec, attrs: Mapping[str, Any]) -> tuple[int | None, ...]:
    """(batch, *spatial', filters): the shape of h and c for an input x (batch, time, *spatial, channels)."""
    n = RANKS[op]
    window = as_list(attrs["kernel_size"], n)
    strides = as_list(attrs.get("strides", 1), n)
    dilation = as_list(attrs.get("dilation_rate", 1), n)
    padding = attrs.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise ShapeError(f"{op} padding must be 'valid' or 'same', got '{padding}'")
    out = []
    for axis, (size, k, s, d) in enumerate(zip(x.shape[2:-1], window, strides, dilation)):
        length = window_output_length(size, k, s, d, padding)
        if length is not None and length <= 0:
            raise ShapeError(
                f"{op} kernel_size {tuple(window)} does not fit input shape {fmt(x)} with padding='{padding}': "
                f"spatial axis {axis + 2} has {size} positions but the window spans {(k - 1) * d + 1}; use "
                f"padding='same', a smaller kernel_size or a larger input"
            )
        out.append(length)
    return (x.shape[0], *out, int(attrs["filters"]))


def _check_params(op: str, x: TensorSpec, filters: int, window: list[int], params: Mapping[str, tuple]) -> None:
    """The weights fit the input channels and the filters (a shared layer keeps its weights)."""
    gated = 4 * filters
    kernel = params.get("kernel")
    if kernel is not None:
        if differ(x.shape[-1], kernel[-2]):
            raise ShapeError(
                f"{op} was built for inputs with {kernel[-2]} channels (kernel {fmt(kernel)}) but got input "
                f"shape {fmt(x)}; call it on inputs with {kernel[-2]} channels or use a new {op} layer"
            )
        if tuple(kernel[:-2]) != tuple(window) or kernel[-1] != gated:
            raise ShapeError(f"{op} kernel has shape {fmt(kernel)}, expected "
                             f"{fmt((*window, kernel[-2], gated))} for filters={filters}")
    recurrent = params.get("recurrent_kernel")
    if recurrent is not None and tuple(recurrent) != (*window, filters, gated):
        raise ShapeError(f"{op} recurrent_kernel has shape {fmt(recurrent)}, expected "
                         f"{fmt((*window, filters, gated))} for filters={filters}")
    bias = params.get("bias")
    if bias is not None and tuple(bias) != (gated,):
        raise ShapeError(f"{op} bias has shape {fmt(bias)}, expected ({gated},) for filters={filters}")


def _check_states(op: str, state: tuple[int | None, ...], states: Sequence[TensorSpec]) -> None:
    """Initial states are both given or none, each of h's shape."""
    if len(states) not in (0, 2):
        raise ShapeError(f"{op} takes its input x and optionally 2 initial states (h, c), got "
                         f"{1 + len(states)} input tensors; pass initial_state=[h, c]")
    for name, spec in zip(("h", "c"), states):
        if spec.rank != len(state) or any(differ(a, b) for a, b in zip(spec.shape, state)):
            raise ShapeError(f"{op} initial state {name} must have shape {fmt(state)} "
                             f"(batch, *spatial, filters), got {fmt(spec)}")


def _conv_lstm_rule(op: str):
    n = RANKS[op]

    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]) -> list[TensorSpec]:
        """(b, t, *s, c) [+ h, c (b, *s', f)] -> [(b, t, *s', f) or (b, *s', f)] + [h, c] if return_state."""
        if not inputs:
            raise ShapeError(f"{op} takes an input tensor x, got none")
        x = inputs[0]
        if x.rank != n + 3:
            dims = ", ".join(["rows", "cols", "depth"][:n]) if n > 1 else "steps"
            raise ShapeError(f"{op} expects a {n + 3}D input (batch, time, {dims}, channels), got shape "
                             f"{fmt(x)} of rank {x.rank}")
        if attrs.get("data_format", "channels_last") != "channels_last":
            raise ShapeError(f"{op} runs channels_last only, got data_format='{attrs['data_format']}'")
        filters = int(attrs["filters"])
        if filters <= 0:
            raise ShapeError(f"{op} needs filters > 0, got {filters}")
        _check_params(op, x, filters, as_list(attrs["kernel_size"], n), params)
        state = step_shape(op, x, attrs)
        _check_states(op, state, inputs[1:])
        dtype = x.dtype if x.dtype.startswith("float") else "float32"
        first = (state[0], x.shape[1], *state[1:]) if attrs.get("return_sequences", False) else state
        specs = [TensorSpec(first, dtype)]
        if attrs.get("return_state", False):
            specs += [TensorSpec(state, dtype), TensorSpec(state, dtype)]
        return specs

    rule.__name__ = f"{op.lower()}_rule"
    return shape_rule(op)(rule)


conv_lstm1d_rule = _conv_lstm_rule("ConvLSTM1D")
conv_lstm2d_rule = _conv_lstm_rule("ConvLSTM2D")
conv_lstm3d_rule = _conv_lstm_rule("ConvLSTM3D")
