"""Reference lowerings of SimpleRNN, GRU and LSTM (Keras 3 semantics, float32) and of Reverse.

These are the numeric oracle the ONNX and TensorFlow lowerings are checked against, so they
follow Keras' cells line by line: gate order and bias layout as in Keras' weights, the
initial states from the inputs after x (`initial_state=`) or else zeros, and with
`go_backwards` the time axis is processed in reverse and the sequence output is returned in
that processed (reversed) order, exactly as Keras does.
With `masked` the last input is the bool mask (batch, timesteps), reversed with the sequence for
`go_backwards`: at a masked step the states stay as they were and the output is the previous
step's output (zeros before the first real step, and always zeros with `zero_output_for_mask`),
Keras' rnn with a mask; the last output is the output of the last processed step.
The input projection of all time steps is one matmul; only the recurrent part loops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from kir.backends.numpy.context import NumpyContext
from kir.backends.numpy.lowerings.activations import activate
from kir.backends.numpy.table import LOWERINGS

# step(projected x_t (b, G*u), states) -> new states; states[0] is the output h.
Step = Callable[[np.ndarray, list[np.ndarray]], list[np.ndarray]]


def _project(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, go_backwards: bool) -> np.ndarray:
    """x @ kernel (+ bias) for every time step at once, time-major: (t, b, G*u)."""
    x = np.asarray(x, dtype=np.float32)
    if go_backwards:
        x = x[:, ::-1]
    projected = np.matmul(x, np.asarray(kernel, dtype=np.float32))
    if bias is not None:
        projected = projected + np.asarray(bias, dtype=np.float32)
    return np.ascontiguousarray(projected.transpose(1, 0, 2))


def _mask(attrs: Mapping[str, Any], inputs: list[np.ndarray]) -> np.ndarray | None:
    """The mask time-major (t, b, 1) in processing order, or None when the op is not masked."""
    if not attrs.get("masked", False):
        return None
    mask = np.asarray(inputs[-1], dtype=bool)
    if attrs.get("go_backwards", False):
        mask = mask[:, ::-1]
    return np.ascontiguousarray(mask.T[:, :, np.newaxis])


def _state_inputs(attrs: Mapping[str, Any], inputs: list[np.ndarray]) -> list[np.ndarray]:
    """x and the initial states, without the mask."""
    return inputs[:-1] if attrs.get("masked", False) else inputs


def _run(
    attrs: Mapping[str, Any], projected: np.ndarray, states: list[np.ndarray], step: Step,
    mask: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Loop `step` over time; assemble [sequence or last output] + final states if return_state."""
    outputs = []
    zero_output = bool(attrs.get("zero_output_for_mask", False))
    output = np.zeros_like(states[0])
    for t, x_t in enumerate(projected):
        new = step(x_t, states)
        if mask is None:
            states, output = new, new[0]
        else:
            keep = mask[t]
            output = np.where(keep, new[0], 0.0 if zero_output else output)
            states = [np.where(keep, n, s) for n, s in zip(new, states)]
        outputs.append(output)
    if not attrs.get("return_sequences", False):
        first = output if mask is not None and len(projected) else states[0]
    elif outputs:
        first = np.stack(outputs, axis=1)
    else:  # zero time steps: an empty sequence of the right shape
        first = states[0][:, np.newaxis][:, :0]
    result = [first.astype(np.float32)]
    if attrs.get("return_state", False):
        result += [s.astype(np.float32) for s in states]
    return result


def _initial(inputs: list[np.ndarray], units: int, count: int) -> list[np.ndarray]:
    """The initial states: the inputs after x when given, else zeros (batch, units)."""
    if len(inputs) > 1:
        return [np.asarray(s, dtype=np.float32) for s in inputs[1: 1 + count]]
    return [np.zeros((inputs[0].shape[0], units), dtype=np.float32) for _ in range(count)]


def _f32(params: Mapping[str, np.ndarray], role: str) -> np.ndarray | None:
    value = params.get(role)
    return None if value is None else np.asarray(value, dtype=np.float32)


def _gated(attrs: Mapping[str, Any], params: Mapping[str, np.ndarray]) -> tuple:
    """GRU/LSTM: units, activation, recurrent activation, recurrent kernel, bias (or None)."""
    bias = _f32(params, "bias") if attrs.get("use_bias", True) else None
    return (int(attrs["units"]), attrs.get("activation", "tanh"), attrs.get("recurrent_activation", "sigmoid"),
            _f32(params, "recurrent_kernel"), bias)


@LOWERINGS.register("SimpleRNN")
def simple_rnn(ctx: NumpyContext, attrs: Mapping[str, Any], inputs: list[np.ndarray],
               params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """h_t = activation(x_t W + b + h_{t-1} U)."""
    x, units = inputs[0], int(attrs["units"])
    act = attrs.get("activation", "tanh")
    recurrent = _f32(params, "recurrent_kernel")
    bias = _f32(params, "bias") if attrs.get("use_bias", True) else None
    projected = _project(x, params["kernel"], bias, attrs.get("go_backwards", False))

    def step(x_t: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
        return [activate(act, x_t + states[0] @ recurrent)]

    return _run(attrs, projected, _initial(_state_inputs(attrs, inputs), units, 1), step, _mask(attrs, inputs))


@LOWERINGS.register("GRU")
def gru(ctx: NumpyContext, attrs: Mapping[str, Any], inputs: list[np.ndarray],
        params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Keras' GRUCell: gates z, r, h; reset_after applies r after the recurrent matmul."""
    x, (u, act, rec_act, kernel_r, bias) = inputs[0], _gated(attrs, params)
    reset_after = attrs.get("reset_after", True)
    input_bias, recurrent_bias = (bias[0], bias[1]) if bias is not None and reset_after else (bias, None)
    projected = _project(x, params["kernel"], input_bias, attrs.get("go_backwards", False))

    def step(x_t: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
        h = states[0]
        if reset_after:
            inner = h @ kernel_r
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
        else:
            inner = h @ kernel_r[:, : 2 * u]
        z = activate(rec_act, x_t[:, :u] + inner[:, :u])
        r = activate(rec_act, x_t[:, u: 2 * u] + inner[:, u: 2 * u])
        if reset_after:
            recurrent_h = r * inner[:, 2 * u:]
        else:
            recurrent_h = (r * h) @ kernel_r[:, 2 * u:]
        candidate = activate(act, x_t[:, 2 * u:] + recurrent_h)
        return [z * h + (1 - z) * candidate]

    return _run(attrs, projected, _initial(_state_inputs(attrs, inputs), u, 1), step, _mask(attrs, inputs))


@LOWERINGS.register("LSTM")
def lstm(ctx: NumpyContext, attrs: Mapping[str, Any], inputs: list[np.ndarray],
         params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Keras' LSTMCell: gates i, f, c, o; c_t = f c + i act(.), h_t = o act(c_t)."""
    x, (u, act, rec_act, kernel_r, bias) = inputs[0], _gated(attrs, params)
    projected = _project(x, params["kernel"], bias, attrs.get("go_backwards", False))

    def step(x_t: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
        h, c = states
        gates = x_t + h @ kernel_r
        i = activate(rec_act, gates[:, :u])
        f = activate(rec_act, gates[:, u: 2 * u])
        g = activate(act, gates[:, 2 * u: 3 * u])
        o = activate(rec_act, gates[:, 3 * u:])
        c = f * c + i * g
        return [o * activate(act, c), c]

    return _run(attrs, projected, _initial(_state_inputs(attrs, inputs), u, 2), step, _mask(attrs, inputs))


@LOWERINGS.register("Reverse")
def reverse(ctx: NumpyContext, attrs: Mapping[str, Any], inputs: list[np.ndarray],
            params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Flip one axis (Bidirectional turns its backward layer's sequence back with this)."""
    return [np.flip(inputs[0], axis=int(attrs["axis"])).copy()]
