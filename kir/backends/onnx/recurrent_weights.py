"""Keras recurrent weights -> the inputs and attributes of ONNX's LSTM, GRU and RNN ops.

Pure numpy, no graph building: the ONNX lowering calls `onnx_recurrent(op, attrs, params)` and
gets W, R, B (initializers, num_directions = 1) plus the node's attributes.

Conventions (ONNX layout=0):
  * W is (1, G*u, features) and R is (1, G*u, u): Keras' kernels transposed, gate blocks
    reordered. LSTM: Keras i, f, c, o -> ONNX i, o, f, c. GRU: z, r, h in both. RNN: one block.
  * B is (1, 2*G*u) = [Wb, Rb]. Keras has one bias except GRU(reset_after=True), whose bias
    rows are (input, recurrent); elsewhere Rb is zero. GRU reset_after=True is ONNX
    `linear_before_reset=1` (r multiplies R h + Rb); reset_after=False is `linear_before_reset=0`
    (r multiplies h before the matmul), which matches Keras because Rb is zero.
  * activations: LSTM [recurrent_activation, activation, activation] (f, g, h);
    GRU [recurrent_activation, activation]; RNN [activation].

How the lowering turns ONNX outputs into Keras outputs:
  * Y is (seq_len, 1, batch, u): Squeeze axis 1, then Transpose perm [1, 0, 2] for
    return_sequences. Y_h / Y_c are (1, batch, u): Squeeze axis 0 gives the final h / c (and the
    non-sequence output is the final h).
  * initial states (`initial_state=`, each (batch, u)) go in as initial_h / initial_c, (1, batch, u)
    after an Unsqueeze of axis 0; they are the state before the first processed step in both
    conventions (also with direction='reverse').
  * go_backwards -> direction='reverse'. ONNX then writes Y in ORIGINAL time order (Y[t] is the
    state after consuming x[t], going from the end), while Keras returns the sequence in the
    processed order (out[k] is the state after consuming x[T-1-k]). So when
    `reverses_sequence_output(attrs)` is true the lowering must flip the sequence output along
    time (Slice with steps=-1 on the time axis, or ReverseSequence). Y_h and Y_c are the final
    states in both conventions and need no flip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from kir.errors import ConfigError, UnsupportedOpError

#: kir op type -> ONNX op type.
ONNX_OP = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}

#: Keras activation -> (ONNX RNN activation, alpha, beta); None = the op takes no alpha/beta.
#: Only entries whose ONNX definition equals Keras 3's are listed.
ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "sigmoid": ("Sigmoid", None, None),
    "tanh": ("Tanh", None, None),
    "relu": ("Relu", None, None),
    "linear": ("Affine", 1.0, 0.0),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),  # Keras 3: relu6(x + 3) / 6
    "elu": ("Elu", 1.0, None),
    "leaky_relu": ("LeakyRelu", 0.2, None),
    "softsign": ("Softsign", None, None),
    "softplus": ("Softplus", None, None),
}

# Keras gate order -> ONNX gate order, as indices of Keras' gate blocks.
_GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (0, 1, 2), "SimpleRNN": (0,)}


class RecurrentUnsupported(UnsupportedOpError):
    """This recurrent layer's configuration has no ONNX equivalent."""

    def __init__(self, op: str, reason: str, layer: str | None = None) -> None:
        super().__init__(op, "onnx", layer)
        where = f" (layer '{layer}')" if layer else ""
        self.args = (
            f"ONNX's {ONNX_OP[op]} op cannot express {op}{where}: {reason}; use activations from "
            f"{', '.join(sorted(ACTIVATIONS))}, or run this model on the numpy or tensorflow backend",
        )


class OnnxRecurrent(NamedTuple):
    """Initializers and attributes of one ONNX LSTM/GRU/RNN node (num_directions = 1)."""

    W: np.ndarray
    R: np.ndarray
    B: np.ndarray
    attributes: dict[str, Any]


def onnx_activations(op: str, attrs: Mapping[str, Any], layer: str | None = None) -> dict[str, Any]:
    """The `activations` attribute and, when any activation needs them, `activation_alpha/beta`.

    onnxruntime consumes the alpha/beta lists one entry per activation that takes one (in the
    order f, g, h), so entries are emitted only for those.
    """
    act = attrs.get("activation", "tanh")
    rec = attrs.get("recurrent_activation", "sigmoid")
    names = {"LSTM": [rec, act, act], "GRU": [rec, act], "SimpleRNN": [act]}[op]
    result: dict[str, Any] = {"activations": []}
    alphas: list[float] = []
    betas: list[float] = []
    for name in names:
        if name not in ACTIVATIONS:
            raise RecurrentUnsupported(op, f"activation '{name}' has no ONNX recurrent equivalent", layer)
        onnx_name, alpha, beta = ACTIVATIONS[name]
        result["activations"].append(onnx_name)
        if alpha is not None:
            alphas.append(alpha)
        if beta is not None:
            betas.append(beta)
    if alphas:
        result["activation_alpha"] = alphas
    if betas:
        result["activation_beta"] = betas
    return result


def reverses_sequence_output(attrs: Mapping[str, Any]) -> bool:
    """True when the lowering must flip ONNX's Y along time to get Keras' sequence output."""
    return bool(attrs.get("go_backwards", False)) and bool(attrs.get("return_sequences", False))


def _reorder(matrix: np.ndarray, op: str, units: int) -> np.ndarray:
    """Keras (rows, G*u) -> ONNX (1, G*u, rows): transpose and reorder the gate blocks."""
    blocks = [matrix[:, g * units: (g + 1) * units] for g in _GATE_ORDER[op]]
    return np.concatenate(blocks, axis=1).T[np.newaxis].astype(np.float32)


def _reorder_bias(bias: np.ndarray, op: str, units: int) -> np.ndarray:
    return np.concatenate([bias[g * units: (g + 1) * units] for g in _GATE_ORDER[op]])


def _check(name: str, value: np.ndarray, expected: tuple, op: str, layer: str | None) -> None:
    if value.shape != expected:
        where = f" of layer '{layer}'" if layer else ""
        raise ConfigError(
            f"{op} weight '{name}'{where} has shape {value.shape}, expected {expected}; "
            f"pass weights in Keras' layout for units={expected[-1] // len(_GATE_ORDER[op])}"
        )


def onnx_recurrent(
    op: str, attrs: Mapping[str, Any], params: Mapping[str, np.ndarray], layer: str | None = None
) -> OnnxRecurrent:
    """W, R, B and node attributes for kir op `op` ('LSTM', 'GRU' or 'SimpleRNN')."""
    if op not in ONNX_OP:
        raise UnsupportedOpError(op, "onnx recurrent weights", layer)
    units = int(attrs["units"])
    gates = len(_GATE_ORDER[op])
    kernel = np.asarray(params["kernel"], dtype=np.float32)
    recurrent = np.asarray(params["recurrent_kernel"], dtype=np.float32)
    _check("kernel", kernel, (kernel.shape[0], gates * units), op, layer)
    _check("recurrent_kernel", recurrent, (units, gates * units), op, layer)
    reset_after = op == "GRU" and bool(attrs.get("reset_after", True))

    input_bias = np.zeros(gates * units, np.float32)
    recurrent_bias = np.zeros(gates * units, np.float32)
    if attrs.get("use_bias", True):
        bias = np.asarray(params["bias"], dtype=np.float32)
        if reset_after:
            _check("bias", bias, (2, gates * units), op, layer)
            input_bias, recurrent_bias = bias[0], bias[1]
        else:
            _check("bias", bias, (gates * units,), op, layer)
            input_bias = bias
    B = np.concatenate(
        [_reorder_bias(input_bias, op, units), _reorder_bias(recurrent_bias, op, units)]
    )[np.newaxis].astype(np.float32)

    attributes: dict[str, Any] = {
        **onnx_activations(op, attrs, layer),
        "hidden_size": units,
        "direction": "reverse" if attrs.get("go_backwards", False) else "forward",
        "layout": 0,
    }
    if op == "GRU":
        attributes["linear_before_reset"] = 1 if reset_after else 0
    return OnnxRecurrent(_reorder(kernel, op, units), _reorder(recurrent, op, units), B, attributes)


def lstm_weights(attrs: Mapping[str, Any], params: Mapping[str, np.ndarray],
                 layer: str | None = None) -> OnnxRecurrent:
    """ONNX LSTM inputs for a Keras LSTM (gates i, f, c, o -> i, o, f, c)."""
    return onnx_recurrent("LSTM", attrs, params, layer)


def gru_weights(attrs: Mapping[str, Any], params: Mapping[str, np.ndarray],
                layer: str | None = None) -> OnnxRecurrent:
    """ONNX GRU inputs for a Keras GRU (reset_after -> linear_before_reset)."""
    return onnx_recurrent("GRU", attrs, params, layer)


def simple_rnn_weights(attrs: Mapping[str, Any], params: Mapping[str, np.ndarray],
                       layer: str | None = None) -> OnnxRecurrent:
    """ONNX RNN inputs for a Keras SimpleRNN."""
    return onnx_recurrent("SimpleRNN", attrs, params, layer)
