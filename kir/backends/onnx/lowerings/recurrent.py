"""SimpleRNN / GRU / LSTM -> ONNX RNN / GRU / LSTM (weights from recurrent_weights), and Reverse.

ONNX wants time-major input (layout 0): x is transposed to (t, b, f). Y (t, 1, b, u) becomes
Keras' sequence by Squeeze + Transpose (flipped along time for go_backwards, see
recurrent_weights); Y_h / Y_c (1, b, u) become the last output and the states by Squeeze.
Initial states (the inputs after x, (b, u)) are Unsqueezed to initial_h / initial_c (1, b, u);
the optional inputs between (B, sequence_lens) are left '' when absent.
Outputs nobody asked for are left unnamed so onnxruntime does not compute them."""

from __future__ import annotations

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


@LOWERINGS.register("Reverse")
def reverse(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.flip(inputs[0], int(attrs["axis"]) % ctx.input_spec(0).rank)]
