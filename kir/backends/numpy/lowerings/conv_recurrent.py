"""Reference lowering of ConvLSTM1D/2D/3D (Keras 3's ConvLSTMCell, float32, channels_last).

Per step: z = conv(x_t, kernel) + bias + conv_same(h, recurrent_kernel); gates i, f, c, o are the
four `filters`-wide blocks of z; c = f c + i act(z_c), h = o act(c). The input convolution of
all steps is one call (time folded into batch); only the recurrent convolution loops. With
`go_backwards` the steps run (and the sequence comes out) in reverse, as Keras. Dropout is
training-only, so inference ignores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from kir.backends.numpy.context import NumpyContext
from kir.backends.numpy.lowerings._windows import pad_amounts
from kir.backends.numpy.lowerings.activations import activate
from kir.backends.numpy.lowerings.conv import convolve
from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops._checks import as_list


def _project(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, attrs: Mapping[str, Any]) -> np.ndarray:
    """conv(x_t, kernel) + bias for every step at once: (b, t, *s, c) -> (t, b, *s', 4f), time-major."""
    n = x.ndim - 3
    batch, steps = x.shape[:2]
    folded = x.reshape(batch * steps, *x.shape[2:])
    y = convolve(folded, kernel, as_list(attrs.get("strides", 1), n), as_list(attrs.get("dilation_rate", 1), n),
                 attrs.get("padding", "valid"))
    if bias is not None:
        y = y + bias
    y = y.reshape(batch, steps, *y.shape[1:])
    return np.moveaxis(y, 1, 0)


def _recurrent_conv(h: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The stride-1 'same' convolution of h (b, *s, f) with kernel (*k, f, 4f) as one matmul over all
    kernel taps (im2col): a state is small, and one wide matmul is ~4x faster than one per tap."""
    n = h.ndim - 2
    window = kernel.shape[:n]
    pads = pad_amounts(h.shape[1:-1], window, [1] * n, [1] * n, "same")
    padded = np.pad(h, [(0, 0), *pads, (0, 0)])
    patches = np.lib.stride_tricks.sliding_window_view(padded, window, axis=tuple(range(1, n + 1)))
    patches = patches.transpose(0, *range(1, n + 1), *range(n + 2, 2 * n + 2), n + 1)  # (b, *s, *k, f)
    rows = patches.reshape(-1, int(np.prod(window)) * h.shape[-1])
    return (rows @ kernel.reshape(rows.shape[1], -1)).reshape(*h.shape[:-1], kernel.shape[-1])


@LOWERINGS.register("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(ctx: NumpyContext, attrs: Mapping[str, Any], inputs: list[np.ndarray],
              params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """[sequence (b, t, *s', f) or last h (b, *s', f)] (+ final h, c if return_state)."""
    x = np.asarray(inputs[0], dtype=np.float32)
    if attrs.get("go_backwards", False):
        x = x[:, ::-1]
    kernel = np.asarray(params["kernel"], dtype=np.float32)
    recurrent = np.asarray(params["recurrent_kernel"], dtype=np.float32)
    bias = np.asarray(params["bias"], dtype=np.float32) if attrs.get("use_bias", True) and "bias" in params else None
    f = int(attrs["filters"])
    act, rec_act = attrs.get("activation", "tanh"), attrs.get("recurrent_activation", "sigmoid")
    projected = _project(x, kernel, bias, attrs)  # (t, b, *s', 4f)
    state_shape = (x.shape[0], *projected.shape[2:-1], f)
    if len(inputs) > 1:
        h, c = (np.asarray(s, dtype=np.float32) for s in inputs[1:3])
    else:
        h = c = np.zeros(state_shape, dtype=np.float32)
    outputs = []
    for x_t in projected:
        z = x_t + _recurrent_conv(h, recurrent)
        i = activate(rec_act, z[..., :f])
        forget = activate(rec_act, z[..., f: 2 * f])
        g = activate(act, z[..., 2 * f: 3 * f])
        o = activate(rec_act, z[..., 3 * f:])
        c = forget * c + i * g
        h = o * activate(act, c)
        outputs.append(h)
    if not attrs.get("return_sequences", False):
        first = h
    elif outputs:
        first = np.stack(outputs, axis=1)
    else:  # zero steps: an empty sequence of the right shape
        first = np.zeros((x.shape[0], 0, *state_shape[1:]), dtype=np.float32)
    result = [np.asarray(first, dtype=np.float32)]
    if attrs.get("return_state", False):
        result += [np.asarray(h, dtype=np.float32), np.asarray(c, dtype=np.float32)]
    return result
