"""SimpleRNN / GRU / LSTM -> ONNX RNN / GRU / LSTM (weights from recurrent_weights), and Reverse.

ONNX wants time-major input (layout 0): x is transposed to (t, b, f). Y (t, 1, b, u) becomes
Keras' sequence by Squeeze + Transpose (flipped along time for go_backwards, see
recurrent_weights); Y_h / Y_c (1, b, u) become the last output and the states by Squeeze.
Initial states (the inputs after x, (b, u)) are Unsqueezed to initial_h / initial_c (1, b, u);
the optional inputs between (B, sequence_lens) are left '' when absent.
Outputs nobody asked for are left unnamed so onnxruntime does not compute them.

A `masked` op (mask bool (b, t) as its last input) uses one general form, correct for right
padding, left padding and holes alike (the padding side is unknown at export time): masked steps
leave the state alone, so the final state is the cell run over the real steps only. Each row's
real steps are moved to the front in order (TopK of `t + T * masked` gives the source index,
GatherElements moves x), the count of real steps becomes the op's `sequence_lens`, and the
sequence output is gathered back: step t shows the compact step `cumsum(mask)[t] - 1` (with
go_backwards, `exclusive cumsum(mask)[t]`, then flipped into processed order), zeros before
the first real step or, with zero_output_for_mask, at every masked step. A row with no real step
runs one step and takes back its initial state and a zero output. On right-padded batches the
move is the identity and this is exactly ONNX's sequence_lens.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.recurrent_weights import ONNX_OP, onnx_recurrent, reverses_sequence_output
from kir.backends.onnx.table import LOWERINGS


@LOWERINGS.register("SimpleRNN", "GRU", "LSTM")
def recurrent(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    op = ctx.vertex.op
    arrays = {role: ctx.array(role) for role in params}
    weights = onnx_recurrent(op, attrs, arrays, ctx.layer)
    attributes = dict(weights.attributes)
    if ctx.opset < 14:
        attributes.pop("layout", None)  # the attribute exists from opset 14; 0 is the default
    roles = list(params)
    w = ctx.derived(roles, "W", lambda *_: weights.W)
    r = ctx.derived(roles, "R", lambda *_: weights.R)
    b = ctx.derived(roles, "B", lambda *_: weights.B) if attrs.get("use_bias", True) else ""
    if attrs.get("masked", False):
        return _masked(ctx, attrs, inputs[:-1], inputs[-1], [w, r, b], attributes)
    x = ctx.transpose(inputs[0], [1, 0, 2], "time_major")

    sequences = bool(attrs.get("return_sequences", False))
    return_state = bool(attrs.get("return_state", False))
    n_states = (2 if op == "LSTM" else 1) if return_state else (0 if sequences else 1)
    y_name = ctx.unique(f"{ctx.path}/Y") if sequences else ""
    state_names = [ctx.unique(f"{ctx.path}/Y_{s}") for s in ("h", "c")[:n_states]]
    initial = [ctx.unsqueeze(s, [0], f"initial_{n}") for s, n in zip(inputs[1:], ("h", "c"))]
    node_inputs = [x, w, r, b, "", *initial]
    while not node_inputs[-1]:  # trailing optional inputs that are absent are omitted
        node_inputs.pop()
    ctx.node(ONNX_OP[op], node_inputs, ONNX_OP[op], outputs=[y_name, *state_names], **attributes)

    if sequences:
        seq = ctx.squeeze(y_name, [1], "squeeze_direction")
        if reverses_sequence_output(attrs):
            seq = ctx.flip(seq, 0, "processed_order")
        first = ctx.transpose(seq, [1, 0, 2], "batch_major")
    states = [ctx.squeeze(s, [0], f"state_{s[-1]}") for s in state_names]
    if not sequences:
        first = states[0]
    return [first] + (states if return_state else [])


def _masked(ctx: OnnxContext, attrs: Attrs, inputs: list[str], mask: str, wrb: list[str],
            attributes: dict) -> list[str]:
    """The general masked form (module docstring): compact the real steps, run with sequence_lens."""
    op = ctx.vertex.op
    x = inputs[0]
    shape = ctx.op("Shape", x, suffix="shape")
    steps = ctx.op("Gather", shape, ctx.const(1, np.int64, "one"), suffix="steps", axis=0)
    m = ctx.op("Cast", mask, suffix="mask_int", to=TensorProto.INT64)
    key = ctx.op("Add", ctx.op("Range", ctx.const(0, np.int64, "zero"), steps, ctx.const(1, np.int64, "one"),
                               suffix="time"),
                 ctx.op("Mul", ctx.op("Sub", ctx.const(1, np.int64, "one"), m, suffix="padding"), steps,
                        suffix="padding_key"), suffix="order_key")
    _, order = ctx.node("TopK", [key, ctx.unsqueeze(steps, [0], "k")], "compact_order", n_outputs=2,
                        axis=1, largest=0, sorted=1)
    moved = ctx.op("Expand", ctx.unsqueeze(order, [2], "order_3d"), shape, suffix="order_x")
    compact = ctx.op("GatherElements", x, moved, suffix="compact", axis=1)
    lengths = ctx.reduce("ReduceSum", m, [1], keepdims=False, suffix="lengths")
    seq_lens = ctx.op("Cast", ctx.op("Max", lengths, ctx.const(1, np.int64, "one"), suffix="at_least_one"),
                      suffix="sequence_lens", to=TensorProto.INT32)
    has_steps = ctx.unsqueeze(ctx.op("Greater", lengths, ctx.const(0, np.int64, "zero"), suffix="has_steps"),
                              [1], "has_steps_2d")

    sequences = bool(attrs.get("return_sequences", False))
    backwards = bool(attrs.get("go_backwards", False))
    zero_output = bool(attrs.get("zero_output_for_mask", False))
    n_states = 2 if op == "LSTM" else 1
    y_name = ctx.unique(f"{ctx.path}/Y") if sequences else ""
    state_names = [ctx.unique(f"{ctx.path}/Y_{s}") for s in ("h", "c")[:n_states]]
    initial = [ctx.unsqueeze(s, [0], f"initial_{n}") for s, n in zip(inputs[1:], ("h", "c"))]
    node_inputs = [ctx.transpose(compact, [1, 0, 2], "time_major"), *wrb, seq_lens, *initial]
    ctx.node(ONNX_OP[op], node_inputs, ONNX_OP[op], outputs=[y_name, *state_names], **attributes)

    zero = ctx.const(0.0, np.float32, "zero_f")
    finals = [ctx.squeeze(s, [0], f"state_{s[-1]}") for s in state_names]
    states = [ctx.op("Where", has_steps, f, inputs[1 + i] if len(inputs) > 1 else zero, suffix=f"final_{i}")
              for i, f in enumerate(finals)]
    if sequences:
        ys = ctx.transpose(ctx.squeeze(y_name, [1], "squeeze_direction"), [1, 0, 2], "batch_major")
        if backwards:
            index = ctx.op("CumSum", m, ctx.const(1, np.int64, "axis_one"), suffix="index", exclusive=1)
            seen = ctx.op("Less", index, ctx.unsqueeze(lengths, [1], "lengths_2d"), suffix="seen")
        else:
            cumulative = ctx.op("CumSum", m, ctx.const(1, np.int64, "axis_one"), suffix="cumsum")
            index = ctx.op("Max", ctx.op("Sub", cumulative, ctx.const(1, np.int64, "one"), suffix="index_raw"),
                           ctx.const(0, np.int64, "zero"), suffix="index")
            seen = ctx.op("Greater", cumulative, ctx.const(0, np.int64, "zero"), suffix="seen")
        gather = ctx.op("Expand", ctx.unsqueeze(index, [2], "index_3d"), ctx.op("Shape", ys, suffix="y_shape"),
                        suffix="index_y")
        picked = ctx.op("GatherElements", ys, gather, suffix="uncompact", axis=1)
        keep = ctx.unsqueeze(mask if zero_output else seen, [2], "keep")
        first = ctx.op("Where", keep, picked, zero, suffix="sequence")
        if backwards:
            first = ctx.flip(first, 1, "processed_order")
    else:
        if zero_output:  # the last processed step's output: zeros when that step is masked
            last = ctx.op("Gather", mask, ctx.const(0 if backwards else -1, np.int64, "last_step"), axis=1,
                          suffix="last_real")
            keep = ctx.unsqueeze(last, [1], "last_2d")
        else:
            keep = has_steps
        first = ctx.op("Where", keep, finals[0], zero, suffix="last_output")
    return [first] + (states if attrs.get("return_state", False) else [])


@LOWERINGS.register("Reverse")
def reverse(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.flip(inputs[0], int(attrs["axis"]) % ctx.input_spec(0).rank)]
