"""SimpleRNN, GRU and LSTM as a compiled loop (Keras 3 cells, gate order and bias layout), and Reverse.

The input projection of all time steps is one matmul; the recurrence runs in `tf.scan`, which
XLA compiles into a single while loop and TensorFlow differentiates through. With
`go_backwards` the sequence is processed (and returned) in reverse order, like Keras. The
initial states are the inputs after x (`initial_state=`), else zeros. With `masked` the last
input is the bool mask: a masked step keeps the states and repeats the previous output (zeros
with `zero_output_for_mask`), as Keras' rnn (see the numpy reference).
"""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.lowerings.activations import activate
from kir.backends.tensorflow.lowerings.core import matmul_last
from kir.backends.tensorflow.table import LOWERINGS


def _project(attrs, x, kernel, bias):
    x = tf.cast(x, kernel.dtype)  # the compute dtype: kernels are read cast to it
    if attrs.get("go_backwards", False):
        x = tf.reverse(x, [1])
    proj = matmul_last(x, kernel)
    if bias is not None:
        proj = proj + bias
    return tf.transpose(proj, [1, 0, 2])  # time-major (t, b, G*u)


def _run(attrs, projected, states: tuple, step, inputs=None):
    """Scan `step` over time; outputs [sequence or last output] (+ final states if return_state)."""
    if attrs.get("masked", False):
        return _run_masked(attrs, projected, states, step, inputs[-1])
    stacked = tf.scan(lambda s, x_t: step(x_t, s), projected, initializer=states)
    last = tuple(s[-1] for s in stacked)
    if attrs.get("return_sequences", False):
        first = tf.transpose(stacked[0], [1, 0, 2])
    else:
        first = last[0]
    out = [first]
    if attrs.get("return_state", False):
        out += list(last)
    return out


def _run_masked(attrs, projected, states: tuple, step, mask):
    """The scan with Keras' mask semantics; the carry is (output, *states)."""
    mask = tf.cast(mask, tf.bool)
    if attrs.get("go_backwards", False):
        mask = tf.reverse(mask, [1])
    mask = tf.transpose(mask)[:, :, tf.newaxis]  # (t, b, 1) in processing order
    zero_output = bool(attrs.get("zero_output_for_mask", False))

    def body(carry, elems):
        x_t, keep = elems
        output, old = carry[0], carry[1:]
        new = step(x_t, old)
        output = tf.where(keep, new[0], tf.zeros_like(output) if zero_output else output)
        return (output, *(tf.where(keep, n, o) for n, o in zip(new, old)))

    stacked = tf.scan(body, (projected, mask), initializer=(tf.zeros_like(states[0]), *states))
    last = tuple(s[-1] for s in stacked)
    first = tf.transpose(stacked[0], [1, 0, 2]) if attrs.get("return_sequences", False) else last[0]
    return [first] + (list(last[1:]) if attrs.get("return_state", False) else [])


def _initial(attrs, inputs, units: int, count: int, dtype: str = "float32") -> tuple:
    """The initial states (in the compute `dtype`): the inputs after x (before the mask) when given,
    else zeros (batch, units)."""
    if attrs.get("masked", False):
        inputs = inputs[:-1]
    if len(inputs) > 1:
        return tuple(tf.cast(s, dtype) for s in inputs[1: 1 + count])
    return tuple(tf.zeros(tf.stack([tf.shape(inputs[0])[0], units]), dtype) for _ in range(count))


def _bias(attrs, params):
    return params.get("bias") if attrs.get("use_bias", True) else None


def _gated(attrs, params):
    """GRU/LSTM: units, activation, recurrent activation, recurrent kernel, bias (or None)."""
    return (int(attrs["units"]), attrs.get("activation", "tanh"), attrs.get("recurrent_activation", "sigmoid"),
            params["recurrent_kernel"], _bias(attrs, params))


@LOWERINGS.register("SimpleRNN")
def simple_rnn(ctx, attrs, inputs, params):
    x, u = inputs[0], int(attrs["units"])
    act = attrs.get("activation", "tanh")
    rk = params["recurrent_kernel"]
    projected = _project(attrs, x, params["kernel"], _bias(attrs, params))

    def step(x_t, states):
        return (activate(act, x_t + tf.matmul(states[0], rk)),)

    return _run(attrs, projected, _initial(attrs, inputs, u, 1, ctx.compute_dtype), step, inputs)


@LOWERINGS.register("GRU")
def gru(ctx, attrs, inputs, params):
    x, (u, act, rec_act, rk, bias) = inputs[0], _gated(attrs, params)
    reset_after = attrs.get("reset_after", True)
    if bias is not None and reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, None
    projected = _project(attrs, x, params["kernel"], input_bias)

    def step(x_t, states):
        h = states[0]
        if reset_after:
            inner = tf.matmul(h, rk)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
        else:
            inner = tf.matmul(h, rk[:, : 2 * u])
        z = activate(rec_act, x_t[:, :u] + inner[:, :u])
        r = activate(rec_act, x_t[:, u: 2 * u] + inner[:, u: 2 * u])
        if reset_after:
            rec_h = r * inner[:, 2 * u:]
        else:
            rec_h = tf.matmul(r * h, rk[:, 2 * u:])
        cand = activate(act, x_t[:, 2 * u:] + rec_h)
        return (z * h + (1 - z) * cand,)

    return _run(attrs, projected, _initial(attrs, inputs, u, 1, ctx.compute_dtype), step, inputs)


@LOWERINGS.register("LSTM")
def lstm(ctx, attrs, inputs, params):
    x, (u, act, rec_act, rk, bias) = inputs[0], _gated(attrs, params)
    projected = _project(attrs, x, params["kernel"], bias)

    def step(x_t, states):
        h, c = states
        z = x_t + tf.matmul(h, rk)
        i = activate(rec_act, z[:, :u])
        f = activate(rec_act, z[:, u: 2 * u])
        g = activate(act, z[:, 2 * u: 3 * u])
        o = activate(rec_act, z[:, 3 * u:])
        c = f * c + i * g
        return (o * activate(act, c), c)

    return _run(attrs, projected, _initial(attrs, inputs, u, 2, ctx.compute_dtype), step, inputs)


@LOWERINGS.register("Reverse")
def reverse(ctx, attrs, inputs, params):
    return [tf.reverse(inputs[0], [int(attrs["axis"])])]
