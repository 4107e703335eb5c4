"""Shape rules of the recurrent ops (SimpleRNN, GRU, LSTM) and of Reverse.

A recurrent op maps (batch, timesteps, features) to the last hidden state (batch, units) or,
with `return_sequences`, to every step's state (batch, timesteps, units); `return_state`
appends the final h (and, for LSTM, the final cell state c). The optional inputs after x are
the initial states (`initial_state=`): h, and for LSTM c, each (batch, units); without them the
states start at zero. With the attribute `masked` the LAST input is a bool mask (batch,
timesteps) (Keras' mask: True for real steps): a masked step leaves the states as they were and
its output is the previous step's output (zeros with `zero_output_for_mask`), as Keras' rnn.
The checks against the weight shapes catch a shared layer reused on a
tensor of a different feature width at call time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec, format_shape

#: Number of stacked gate blocks in each op's kernel: Keras packs the gates along the last axis.
GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
#: Number of recurrent states (h; LSTM also c): the optional initial-state inputs and return_state outputs.
STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2}


def _one_input(op: str, inputs: Sequence[TensorSpec]) -> TensorSpec:
    if len(inputs) != 1:
        raise ShapeError(f"{op} takes exactly 1 input tensor, got {len(inputs)}")
    return inputs[0]


def _check_initial_states(op: str, x: TensorSpec, units: int, states: Sequence[TensorSpec]) -> None:
    """Initial states are all given or none, each (batch, units) with x's batch."""
    names = ("h", "c")[: STATES[op]]
    if len(states) not in (0, len(names)):
        raise ShapeError(
            f"{op} takes its input x and optionally {len(names)} initial state(s) ({', '.join(names)}), "
            f"got {1 + len(states)} input tensors; pass initial_state=[{', '.join(names)}]"
        )
    for name, spec in zip(names, states):
        batches = (x.shape[0], spec.shape[0]) if spec.rank == 2 else ()
        if spec.rank != 2 or spec.shape[1] != units or (None not in batches and batches[0] != batches[1]):
            raise ShapeError(
                f"{op} initial state {name} must have shape {format_shape((x.shape[0], units))} "
                f"(batch, units), got {format_shape(spec.shape)}"
            )


def check_mask(op: str, x: TensorSpec, mask: TensorSpec) -> None:
    """A sequence mask is bool (batch, timesteps) with x's batch and time dims where both are known."""
    dims_ok = mask.rank == 2 and all(a is None or b is None or a == b for a, b in zip(mask.shape, x.shape[:2]))
    if mask.dtype != "bool" or not dims_ok:
        raise ShapeError(f"{op} mask must be bool of shape {format_shape(x.shape[:2])} (batch, timesteps) for "
                         f"input {format_shape(x.shape)}, got {mask.dtype} {format_shape(mask.shape)}")


def _out_dtype(spec: TensorSpec) -> str:
    """Recurrent layers compute in floating point; integer inputs come out as float32."""
    return spec.dtype if spec.dtype.startswith("float") else "float32"


def _check_params(
    op: str, units: int, features: int | None, x: TensorSpec, attrs: Mapping[str, Any],
    param_shapes: Mapping[str, tuple],
) -> None:
    """Weights must fit the input width and the unit count (a shared layer keeps its weights)."""
    gated = GATES[op] * units
    kernel = param_shapes.get("kernel")
    if kernel is not None:
        if features is not None and kernel[0] != features:
            raise ShapeError(
                f"{op} was built for inputs with {kernel[0]} features but got an input with "
                f"{features} features, shape {format_shape(x.shape)}; a shared recurrent layer must "
                f"be called on inputs of the same last dimension ({kernel[0]})"
            )
        if tuple(kernel[1:]) != (gated,):
            raise ShapeError(
                f"{op} kernel has shape {format_shape(tuple(kernel))}, expected "
                f"({kernel[0]}, {gated}) for units={units}"
            )
    recurrent = param_shapes.get("recurrent_kernel")
    if recurrent is not None and tuple(recurrent) != (units, gated):
        raise ShapeError(
            f"{op} recurrent_kernel has shape {format_shape(tuple(recurrent))}, expected "
            f"({units}, {gated}) for units={units}"
        )
    bias = param_shapes.get("bias")
    if bias is not None:
        two_rows = op == "GRU" and attrs.get("reset_after", True)
        expected = (2, gated) if two_rows else (gated,)
        if tuple(bias) != expected:
            raise ShapeError(
                f"{op} bias has shape {format_shape(tuple(bias))}, expected {format_shape(expected)} "
                f"for units={units}"
            )


def _recurrent_rule(op: str):
    """The shape rule of one recurrent op (the rule signature carries no op name, so bind it)."""

    def rule(
        attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], param_shapes: Mapping[str, tuple]
    ) -> list[TensorSpec]:
        """(b, t, f) [+ initial h (b, u) (+ c for LSTM)] [+ mask (b, t) if masked] -> [(b, t, u) or
        (b, u)] + [h (b, u)] + [c (b, u) for LSTM] if return_state."""
        if not inputs:
            raise ShapeError(f"{op} takes an input tensor x, got none")
        x = inputs[0]
        if x.rank != 3:
            raise ShapeError(
                f"{op} expects a 3D input (batch, timesteps, features), got shape "
                f"{format_shape(x.shape)} of rank {x.rank}"
            )
        units = int(attrs["units"])
        if units <= 0:
            raise ShapeError(f"{op} needs units > 0, got {units}")
        batch, steps, features = x.shape
        _check_params(op, units, features, x, attrs, param_shapes)
        states = inputs[1:]
        if attrs.get("masked", False):
            if len(inputs) < 2:
                raise ShapeError(f"{op} with masked=True takes its mask (batch, timesteps) as the last input, got none")
            check_mask(op, x, inputs[-1])
            states = inputs[1:-1]
        _check_initial_states(op, x, units, states)
        dtype = _out_dtype(x)
        out = (batch, steps, units) if attrs.get("return_sequences", False) else (batch, units)
        specs = [TensorSpec(out, dtype)]
        if attrs.get("return_state", False):
            specs += [TensorSpec((batch, units), dtype) for _ in range(STATES[op])]
        return specs

    rule.__name__ = f"{op.lower()}_rule"
    return shape_rule(op)(rule)


simple_rnn_rule = _recurrent_rule("SimpleRNN")
gru_rule = _recurrent_rule("GRU")
lstm_rule = _recurrent_rule("LSTM")


@shape_rule("Reverse")
def reverse_rule(
    attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], param_shapes: Mapping[str, tuple]
) -> list[TensorSpec]:
    """Reversing along one axis keeps shape and dtype; the axis must exist."""
    x = _one_input("Reverse", inputs)
    axis = int(attrs["axis"])
    if not -x.rank <= axis < x.rank:
        raise ShapeError(
            f"Reverse axis {axis} is out of range for input shape {format_shape(x.shape)} "
            f"of rank {x.rank}; use an axis in [{-x.rank}, {x.rank - 1}]"
        )
    return [TensorSpec(x.shape, x.dtype)]
