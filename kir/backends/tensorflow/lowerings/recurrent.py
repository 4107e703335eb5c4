"""SimpleRNN, GRU and LSTM as a compiled loop (Keras 3 cells, gate order and bias layout), and Reverse.

The input projection of all time steps is one matmul; the recurrence runs in `tf.scan`, which
XLA compiles into a single while loop and TensorFlow differentiates through. With
`go_backwards` the sequence is processed (and returned) in reverse order, like Keras. The
initial states are the inputs after x (`initial_state=`), else zeros. With `masked` the last
input is the bool mask: a masked step keeps the states and repeats the previous output (zeros
with `zero_output_for_mask`), as Keras' rnn (see the numpy reference). LSTM and GRU run on
TensorFlow's fused cuDNN kernel instead where Keras 3 would (a GPU, `use_cudnn`; see
kir/backends/tensorflow/cudnn_rnn.py); on a CPU the scan below runs as before.

While training, `dropout` / `recurrent_dropout` follow Keras 3's cells (`dropout_masks`): one
input mask (batch, features) and one recurrent mask (batch, units) per sequence, drawn once and
used at every step. SimpleRNN, and GRU/LSTM with `recurrent_dropout == 0` (Keras'
implementation 2), draw one input mask, applied to the whole sequence before the projection (so
also before the fused cuDNN call). A GRU/LSTM with `recurrent_dropout > 0` runs as Keras'
implementation 1: one input and one recurrent mask per gate. With both rates 0, or outside
training, the graph is the plain one.
"""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow import cudnn_rnn
from kir.backends.tensorflow.lowerings.activations import activate
from kir.backends.tensorflow.lowerings.core import matmul_last
from kir.backends.tensorflow.table import LOWERINGS


def dropout_masks(seed, shape, rate: float, count: int, salt: int, dtype="float32") -> list | None:
    """`count` inverted-dropout masks of `shape` (0 or 1/(1-rate)) from the stateless (2,) `seed`
    (ctx.seed: layer seed or vertex path + training step), or None when `rate` is 0. `salt`: 0 the
    input masks, 1 the recurrent ones, + 2 going backwards; the tests rebuild a lowering's masks.
    Each mask's seed is `seed` folded with (salt, gate), so nearby layer seeds draw unrelated masks."""
    if rate <= 0.0:
        return None
    ones = tf.ones(shape, dtype)
    fold = tf.random.experimental.stateless_fold_in
    return [tf.nn.experimental.stateless_dropout(ones, rate, seed=fold(seed, salt * 4 + g + 1)) for g in range(count)]


def _dropout(ctx, attrs, inputs, units: int, gates: int):
    """Keras' RNN dropout while training: (inputs, per-gate input masks, recurrent masks). A single
    input mask is applied here, to all of x; per-gate masks (GRU/LSTM with recurrent_dropout, as
    Keras' implementation 1) go to `_project`, recurrent masks to the step. Nothing when not training."""
    rate, rec_rate = float(attrs.get("dropout", 0.0)), float(attrs.get("recurrent_dropout", 0.0))
    if not ctx.training or (rate <= 0.0 and rec_rate <= 0.0):
        return inputs, None, None
    count = gates if gates > 1 and rec_rate > 0.0 else 1
    seed, x = ctx.seed(attrs.get("seed")), inputs[0]
    batch = tf.shape(x)[0]
    # Bidirectional's directions never share masks (Keras' two copied cells lose the seed)
    salt = 2 if attrs.get("go_backwards", False) else 0
    masks = dropout_masks(seed, tf.stack([batch, int(x.shape[-1])]), rate, count, salt, ctx.compute_dtype)
    rec_masks = dropout_masks(seed, tf.stack([batch, units]), rec_rate, count, salt + 1, ctx.compute_dtype)
    if masks is not None and count == 1:
        inputs, masks = [tf.cast(x, ctx.compute_dtype) * masks[0][:, tf.newaxis], *inputs[1:]], None
    return inputs, masks, rec_masks


def _gate_matmul(h, kernel, masks):
    """h @ kernel, or with one mask per gate: the gates' (h * mask_g) @ kernel_g side by side."""
    if masks is None:
        return tf.matmul(h, kernel)
    parts = tf.split(kernel, len(masks), axis=-1)
    return tf.concat([matmul_last(h * m, k) for m, k in zip(masks, parts)], axis=-1)


def _project(attrs, x, kernel, bias, masks=None):
    x = tf.cast(x, kernel.dtype)  # the compute dtype: kernels are read cast to it
    if attrs.get("go_backwards", False):
        x = tf.reverse(x, [1])
    proj = matmul_last(x, kernel) if masks is None else _gate_matmul(x, kernel, [m[:, tf.newaxis] for m in masks])
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
    u = int(attrs["units"])
    inputs, _, rec = _dropout(ctx, attrs, inputs, u, 1)
    act = attrs.get("activation", "tanh")
    rk = params["recurrent_kernel"]
    projected = _project(attrs, inputs[0], params["kernel"], _bias(attrs, params))

    def step(x_t, states):
        h = states[0] if rec is None else states[0] * rec[0]
        return (activate(act, x_t + tf.matmul(h, rk)),)

    return _run(attrs, projected, _initial(attrs, inputs, u, 1, ctx.compute_dtype), step, inputs)


@LOWERINGS.register("GRU")
def gru(ctx, attrs, inputs, params):
    states = _initial(attrs, inputs, int(attrs["units"]), 1, ctx.compute_dtype)
    inputs, masks, rec = _dropout(ctx, attrs, inputs, int(attrs["units"]), 3)
    return cudnn_rnn.dispatch(ctx, "GRU", attrs, inputs, params, states,
                              lambda: _gru_scan(attrs, inputs, params, states, masks, rec))


def _gru_scan(attrs, inputs, params, states, masks=None, rec=None):
    """Keras' GRUCell; with per-gate `masks`/`rec` (recurrent_dropout) its implementation 1, where
    reset_after=False resets the masked h: (r * (h * rec_h)) @ U_h."""
    x, (u, act, rec_act, rk, bias) = inputs[0], _gated(attrs, params)
    reset_after = attrs.get("reset_after", True)
    if bias is not None and reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, None
    projected = _project(attrs, x, params["kernel"], input_bias, masks)

    def step(x_t, states):
        h = states[0]
        if reset_after:
            inner = _gate_matmul(h, rk, rec)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
        else:
            inner = _gate_matmul(h, rk[:, : 2 * u], None if rec is None else rec[:2])
        z = activate(rec_act, x_t[:, :u] + inner[:, :u])
        r = activate(rec_act, x_t[:, u: 2 * u] + inner[:, u: 2 * u])
        if reset_after:
            rec_h = r * inner[:, 2 * u:]
        else:
            rec_h = tf.matmul(r * (h if rec is None else h * rec[2]), rk[:, 2 * u:])
        cand = activate(act, x_t[:, 2 * u:] + rec_h)
        return (z * h + (1 - z) * cand,)

    return _run(attrs, projected, states, step, inputs)


@LOWERINGS.register("LSTM")
def lstm(ctx, attrs, inputs, params):
    states = _initial(attrs, inputs, int(attrs["units"]), 2, ctx.compute_dtype)
    inputs, masks, rec = _dropout(ctx, attrs, inputs, int(attrs["units"]), 4)
    return cudnn_rnn.dispatch(ctx, "LSTM", attrs, inputs, params, states,
                              lambda: _lstm_scan(attrs, inputs, params, states, masks, rec))


def _lstm_scan(attrs, inputs, params, states, masks=None, rec=None):
    """Keras' LSTMCell; with per-gate `masks`/`rec` (recurrent_dropout) its implementation 1."""
    x, (u, act, rec_act, rk, bias) = inputs[0], _gated(attrs, params)
    projected = _project(attrs, x, params["kernel"], bias, masks)

    def step(x_t, states):
        h, c = states
        z = x_t + _gate_matmul(h, rk, rec)
        i = activate(rec_act, z[:, :u])
        f = activate(rec_act, z[:, u: 2 * u])
        g = activate(act, z[:, 2 * u: 3 * u])
        o = activate(rec_act, z[:, 3 * u:])
        c = f * c + i * g
        return (o * activate(act, c), c)

    return _run(attrs, projected, states, step, inputs)


@LOWERINGS.register("Reverse")
def reverse(ctx, attrs, inputs, params):
    return [tf.reverse(inputs[0], [int(attrs["axis"])])]
