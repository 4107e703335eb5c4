"""ConvLSTM1D/2D/3D -> one batched input Conv, then the recurrence unrolled or in an ONNX Scan (ONNX
has no ConvLSTM op).

The input convolution of every step is a single Conv on (batch*time, channels, *spatial) (time
folded into batch, bias included). The recurrence per step is a stride-1 'same' Conv of h with the
recurrent kernel plus the step's projection, split into the gates i, f, c, o. With a static number
of steps (up to `UNROLL_MAX_STEPS`) it is unrolled; otherwise it is the body of a Scan over time,
whose loop state is h and c (NCHW, zeros of the batch's size unless initial states are given) and
the recurrent kernel, carried unchanged so the body reads no outer-scope name (the context prunes
by node inputs). Batch and time stay dynamic in the Scan form, so one file runs any length.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings._windows import pad_attributes
from kir.backends.onnx.lowerings.activations import activate
from kir.backends.onnx.lowerings.conv import oihw
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops._checks import as_list
from kir.ir.ops.conv_recurrent import step_shape

#: A static number of steps up to this is unrolled (one cell per step, the first one without the
#: recurrent Conv of the zero state): 4-10% less onnxruntime CPU time than the Scan for the
#: conv_lstm example's model (15 steps of 40x40, 4 layers of 40 filters; batch 1 and 4; a Scan over
#: explicitly time-major tensors was slower still).
#: Longer or unknown lengths use the Scan, so the file stays small and runs any length.
UNROLL_MAX_STEPS = 64


def _to_first(rank: int) -> list[int]:
    """(b, *s, c) -> (b, c, *s)."""
    return [0, rank - 1, *range(1, rank - 1)]


def _to_last(rank: int) -> list[int]:
    """(b, c, *s) -> (b, *s, c)."""
    return [0, *range(2, rank), 1]


def _cell(cx: OnnxContext, attrs: Attrs, filters: int, window: list[int], h: str | None, c: str | None,
          recurrent: str, x_t: str) -> tuple[str, str]:
    """One step on NCHW tensors: (h', c') from the states (None: zeros) and the step's projection x_t."""
    n = len(window)
    if h is None:  # a zero h adds nothing through the recurrent convolution
        z = x_t
    else:
        pads = pad_attributes([1] * n, window, [1] * n, [1] * n, "same")  # stride 1: sizes do not matter
        z = cx.op("Add", cx.op("Conv", h, recurrent, suffix="recurrent_conv", kernel_shape=window, **pads), x_t,
                  suffix="gates")
    gates = cx.node("Split", [z, cx.ints([filters] * 4, "split")], "split", n_outputs=4, axis=1)
    act, rec_act = attrs.get("activation", "tanh"), attrs.get("recurrent_activation", "sigmoid")
    i, forget, o = (activate(cx, rec_act, gates[k]) for k in (0, 1, 3))
    write = cx.op("Mul", i, activate(cx, act, gates[2]), suffix="write")
    c_new = write if c is None else cx.op("Add", cx.op("Mul", forget, c, suffix="keep"), write, suffix="c")
    return cx.op("Mul", o, activate(cx, act, c_new), suffix="h"), c_new


def _body(ctx: OnnxContext, attrs: Attrs, filters: int, spatial: list[int], window: list[int],
          sequences: bool) -> object:
    """The Scan body: (h, c, R, x_t) -> (h', c', R[, h'])."""
    token = ctx.unique(f"{ctx.path}/scan_body")
    body = OnnxContext(ctx.graph, ctx.opset)
    body.enter(ctx.graph, ctx.vid, ctx.vertex, f"{token}/")
    h, c, r, x_t = (body.unique(f"{token}/{name}") for name in ("h", "c", "recurrent_kernel", "x_t"))
    h_new, c_new = _cell(body, attrs, filters, window, h, c, r, x_t)
    outs = [h_new, c_new, body.op("Identity", r, suffix="recurrent_kernel")]
    if sequences:
        outs.append(body.op("Identity", h_new, suffix="y"))
    for node in body.nodes:  # the body's names are taken in the whole file
        for name in node.output:
            ctx.reserve(name)
    for tensor in body.initializers:
        ctx.reserve(tensor.name)

    def info(name: str, shape: list) -> object:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    state, gated = [None, filters, *spatial], [None, 4 * filters, *spatial]
    kernel = [4 * filters, filters, *window]
    inputs = [info(h, state), info(c, state), info(r, kernel), info(x_t, gated)]
    outputs = [info(outs[0], state), info(outs[1], state), info(outs[2], kernel)]
    if sequences:
        outputs.append(info(outs[3], state))
    return helper.make_graph(body.nodes, token, inputs, outputs, body.initializers)


def _scan(ctx: OnnxContext, attrs: Attrs, filters: int, spatial: list[int], window: list[int], projected: str,
          h0: str, c0: str, recurrent: str) -> tuple[str | None, str, str]:
    """(sequence (b, t, f, *s') or None, last h, last c) by a Scan over axis 1 of projected."""
    sequences = bool(attrs.get("return_sequences", False))
    body = _body(ctx, attrs, filters, spatial, window, sequences)
    outs = ctx.node("Scan", [h0, c0, recurrent, projected], "Scan", n_outputs=4 if sequences else 3, body=body,
                    num_scan_inputs=1, scan_input_axes=[1], scan_output_axes=[1] if sequences else None)
    return (outs[3] if sequences else None), outs[0], outs[1]


def _unrolled(ctx: OnnxContext, attrs: Attrs, filters: int, window: list[int], steps: int, projected: str,
              h: str | None, c: str | None, recurrent: str) -> tuple[str | None, str, str]:
    """The same, one cell per step (a static number of steps)."""
    pieces = ctx.node("Split", [projected, ctx.ints([1] * steps, "split_steps")], "split_steps", n_outputs=steps,
                      axis=1)
    hs = []
    for piece in pieces:
        h, c = _cell(ctx, attrs, filters, window, h, c, recurrent, ctx.squeeze(piece, [1], "step"))
        hs.append(ctx.unsqueeze(h, [1], "step_h") if attrs.get("return_sequences", False) else h)
    sequence = ctx.op("Concat", *hs, suffix="sequence", axis=1) if attrs.get("return_sequences", False) else None
    return sequence, h, c


@LOWERINGS.register("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    spec = ctx.input_spec(0)  # (b, t, *s, c)
    n = spec.rank - 3
    kernel = np.shape(ctx.array("kernel"))
    window, channels, filters = list(kernel[:n]), int(kernel[-2]), int(kernel[-1]) // 4
    sizes = [int(s) for s in spec.shape[2:-1]]
    strides, dilation = as_list(attrs.get("strides", 1), n), as_list(attrs.get("dilation_rate", 1), n)
    out_sizes = [int(s) for s in step_shape(ctx.vertex.op, spec, attrs)[1:-1]]

    x = inputs[0]
    if attrs.get("go_backwards", False):
        x = ctx.flip(x, 1, "go_backwards")
    steps = ctx.transpose(x, [0, 1, n + 2, *range(2, n + 2)], "to_channels_first")  # (b, t, c, *s)
    folded = ctx.reshape(steps, [-1, channels, *sizes], "fold_time")
    conv_args = [folded, ctx.param("kernel", oihw, "oihw")]
    if attrs.get("use_bias", True) and "bias" in params:
        conv_args.append(params["bias"])
    pads = pad_attributes(sizes, window, strides, dilation, attrs.get("padding", "valid"))
    projected = ctx.op("Conv", *conv_args, suffix="input_conv", kernel_shape=window, strides=strides,
                       dilations=dilation, **pads)
    shape = ctx.op("Shape", x, suffix="input_shape")
    batch_time = ctx.op("Slice", shape, ctx.ints([0], "starts"), ctx.ints([2], "ends"), suffix="batch_time")
    unfold = ctx.op("Concat", batch_time, ctx.ints([4 * filters, *out_sizes], "step_dims"), suffix="unfold_shape",
                    axis=0)
    projected = ctx.op("Reshape", projected, unfold, suffix="unfold_time")  # (b, t, 4f, *s')

    recurrent = ctx.param("recurrent_kernel", oihw, "oihw")
    given = [ctx.transpose(s, _to_first(n + 2), f"initial_{k}") for s, k in zip(inputs[1:3], "hc")]
    if spec.shape[1] is not None and 0 < spec.shape[1] <= UNROLL_MAX_STEPS:
        h0, c0 = given or (None, None)
        sequence, h_last, c_last = _unrolled(ctx, attrs, filters, window, int(spec.shape[1]), projected, h0, c0,
                                             recurrent)
    else:
        if not given:
            batch = ctx.op("Slice", shape, ctx.ints([0], "starts"), ctx.ints([1], "ends"), suffix="batch")
            state_shape = ctx.op("Concat", batch, ctx.ints([filters, *out_sizes], "state_dims"),
                                 suffix="state_shape", axis=0)
            given = [ctx.op("ConstantOfShape", state_shape, suffix="zero_state",
                            value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]))] * 2
        sequence, h_last, c_last = _scan(ctx, attrs, filters, out_sizes, window, projected, *given, recurrent)
    h_last = ctx.transpose(h_last, _to_last(n + 2), "h_channels_last")
    first = h_last if sequence is None else ctx.transpose(sequence, [0, 1, *range(3, n + 3), 2],
                                                          "sequence_channels_last")
    if attrs.get("return_state", False):
        return [first, h_last, ctx.transpose(c_last, _to_last(n + 2), "c_channels_last")]
    return [first]
