"""SimpleRNN / GRU / LSTM / Reverse: shape rules, numpy lowerings vs Keras 3, ONNX weights vs onnxruntime."""

from __future__ import annotations

import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from kir.backends.numpy.context import NumpyContext  # noqa: E402
from kir.backends.numpy.lowerings import recurrent as lowerings  # noqa: E402
from kir.backends.onnx.recurrent_weights import (  # noqa: E402
    ONNX_OP,
    RecurrentUnsupported,
    gru_weights,
    lstm_weights,
    onnx_recurrent,
    reverses_sequence_output,
    simple_rnn_weights,
)
from kir.errors import ConfigError, ShapeError, UnsupportedOpError  # noqa: E402
from kir.ir.ops import recurrent as rules  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

BATCH, STEPS, FEATURES, UNITS = 2, 5, 3, 4
CTX = NumpyContext()
LOWERING = {"SimpleRNN": lowerings.simple_rnn, "GRU": lowerings.gru, "LSTM": lowerings.lstm}
RULE = {"SimpleRNN": rules.simple_rnn_rule, "GRU": rules.gru_rule, "LSTM": rules.lstm_rule}


def kir_attrs(op: str, **config) -> dict:
    """The IR attrs of `op` with Keras' defaults, overridden by `config`."""
    attrs = {
        "units": UNITS, "activation": "tanh", "use_bias": True, "return_sequences": False,
        "return_state": False, "go_backwards": False,
    }
    if op != "SimpleRNN":
        attrs["recurrent_activation"] = "sigmoid"
    if op == "GRU":
        attrs["reset_after"] = True
    attrs.update(config)
    return attrs


def random_params(op: str, attrs: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights in Keras' layout (biases non-zero so every bias path is exercised)."""
    rng = np.random.default_rng(seed)
    gated = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[op] * UNITS
    params = {
        "kernel": rng.normal(0, 0.5, (FEATURES, gated)).astype(np.float32),
        "recurrent_kernel": rng.normal(0, 0.5, (UNITS, gated)).astype(np.float32),
    }
    if attrs["use_bias"]:
        shape = (2, gated) if op == "GRU" and attrs["reset_after"] else (gated,)
        params["bias"] = rng.normal(0, 0.5, shape).astype(np.float32)
    return params


def random_input(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (BATCH, STEPS, FEATURES)).astype(np.float32)


def keras_outputs(op: str, attrs: dict, params: dict, x: np.ndarray) -> list[np.ndarray]:
    """Run the real Keras 3 layer with the same config and weights."""
    layer = getattr(keras.layers, op)(**attrs)
    layer.build((None, STEPS, FEATURES))
    layer.set_weights([params[k] for k in ("kernel", "recurrent_kernel", "bias") if k in params])
    out = layer(x)
    out = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in out]


CASES = [
    ("SimpleRNN", {}),
    ("SimpleRNN", {"return_sequences": True, "return_state": True}),
    ("SimpleRNN", {"go_backwards": True, "return_sequences": True}),
    ("SimpleRNN", {"activation": "relu", "use_bias": False}),
    ("SimpleRNN", {"activation": "softsign", "go_backwards": True}),
    ("GRU", {}),
    ("GRU", {"return_sequences": True, "return_state": True}),
    ("GRU", {"reset_after": False}),
    ("GRU", {"reset_after": False, "return_sequences": True, "go_backwards": True}),
    ("GRU", {"go_backwards": True, "return_sequences": True, "return_state": True}),
    ("GRU", {"use_bias": False}),
    ("GRU", {"activation": "relu", "recurrent_activation": "hard_sigmoid", "return_sequences": True}),
    ("LSTM", {}),
    ("LSTM", {"return_sequences": True, "return_state": True}),
    ("LSTM", {"go_backwards": True}),
    ("LSTM", {"go_backwards": True, "return_sequences": True, "return_state": True}),
    ("LSTM", {"use_bias": False, "return_state": True}),
    ("LSTM", {"activation": "linear", "recurrent_activation": "hard_sigmoid", "return_sequences": True}),
    ("LSTM", {"activation": "leaky_relu", "return_sequences": True}),
    ("LSTM", {"activation": "elu", "recurrent_activation": "relu"}),
    ("LSTM", {"activation": "softplus", "return_state": True}),
]
IDS = [op + "-" + ("-".join(f"{k}={v}" for k, v in cfg.items()) or "default") for op, cfg in CASES]


# ---------------------------------------------------------------- numpy lowerings vs Keras 3


@pytest.mark.parametrize("op,config", CASES, ids=IDS)
def test_lowering_matches_keras(op: str, config: dict) -> None:
    attrs = kir_attrs(op, **config)
    params, x = random_params(op, attrs), random_input()
    expected = keras_outputs(op, attrs, params, x)
    actual = LOWERING[op](CTX, attrs, [x], params)
    assert len(actual) == len(expected)
    specs = RULE[op](attrs, [TensorSpec((BATCH, STEPS, FEATURES))], {k: v.shape for k, v in params.items()})
    for got, want, spec in zip(actual, expected, specs):
        assert got.dtype == np.float32
        assert got.shape == spec.shape
        assert_close(got, want)


def test_go_backwards_sequence_is_in_processed_order() -> None:
    """Keras' go_backwards sequence ends with the final state (processed order), not starts."""
    attrs = kir_attrs("GRU", go_backwards=True, return_sequences=True, return_state=True)
    params, x = random_params("GRU", attrs), random_input()
    seq, h = lowerings.gru(CTX, attrs, [x], params)
    assert_close(seq[:, -1], h)
    forward = lowerings.gru(CTX, kir_attrs("GRU", return_sequences=True), [x[:, ::-1]], params)[0]
    assert_close(seq, forward)


def test_reverse_lowering_flips_one_axis() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    (out,) = lowerings.reverse(CTX, {"axis": 1}, [x], {})
    np.testing.assert_array_equal(out, x[:, ::-1, :])
    (out,) = lowerings.reverse(CTX, {"axis": -1}, [x], {})
    np.testing.assert_array_equal(out, x[..., ::-1])


# ---------------------------------------------------------------- shape rules


@pytest.mark.parametrize(
    "rule,config,expected",
    [
        (rules.lstm_rule, {}, [(None, 7)]),
        (rules.lstm_rule, {"return_sequences": True}, [(None, 5, 7)]),
        (rules.lstm_rule, {"return_state": True}, [(None, 7), (None, 7), (None, 7)]),
        (rules.lstm_rule, {"return_sequences": True, "return_state": True},
         [(None, 5, 7), (None, 7), (None, 7)]),
        (rules.gru_rule, {"return_state": True}, [(None, 7), (None, 7)]),
        (rules.gru_rule, {"return_sequences": True}, [(None, 5, 7)]),
        (rules.simple_rnn_rule, {"return_sequences": True, "return_state": True},
         [(None, 5, 7), (None, 7)]),
    ],
)
def test_shape_rule_outputs(rule, config, expected) -> None:
    specs = rule({"units": 7, **config}, [TensorSpec((None, 5, 3))], {})
    assert [s.shape for s in specs] == expected
    assert all(s.dtype == "float32" for s in specs)


def test_shape_rule_dynamic_time_and_weights() -> None:
    shapes = {"kernel": (3, 12), "recurrent_kernel": (3, 12), "bias": (12,)}
    specs = rules.lstm_rule({"units": 3, "return_sequences": True}, [TensorSpec((2, None, 3))], shapes)
    assert [s.shape for s in specs] == [(2, None, 3)]
    gru = rules.gru_rule({"units": 3, "reset_after": True}, [TensorSpec((2, 4, 3))],
                         {"kernel": (3, 9), "recurrent_kernel": (3, 9), "bias": (2, 9)})
    assert [s.shape for s in gru] == [(2, 3)]


def test_shape_rule_rejects_rank() -> None:
    with pytest.raises(ShapeError, match=re.escape(
            "LSTM expects a 3D input (batch, timesteps, features), got shape (None, 5) of rank 2")):
        rules.lstm_rule({"units": 4}, [TensorSpec((None, 5))], {})


def test_shared_lstm_on_other_width_names_both_widths() -> None:
    with pytest.raises(ShapeError, match=re.escape(
            "LSTM was built for inputs with 8 features but got an input with 6 features, shape "
            "(None, 5, 6); a shared recurrent layer must be called on inputs of the same last "
            "dimension (8)")):
        rules.lstm_rule({"units": 4}, [TensorSpec((None, 5, 6))], {"kernel": (8, 16)})


def test_shape_rule_rejects_bias_layout() -> None:
    with pytest.raises(ShapeError, match=re.escape(
            "GRU bias has shape (9,), expected (2, 9) for units=3")):
        rules.gru_rule({"units": 3, "reset_after": True}, [TensorSpec((None, 5, 2))],
                       {"kernel": (2, 9), "bias": (9,)})
    with pytest.raises(ShapeError, match=re.escape(
            "SimpleRNN recurrent_kernel has shape (4, 4), expected (3, 3) for units=3")):
        rules.simple_rnn_rule({"units": 3}, [TensorSpec((None, 5, 2))], {"recurrent_kernel": (4, 4)})


def test_reverse_rule() -> None:
    spec = TensorSpec((None, 5, 3), "float32")
    assert rules.reverse_rule({"axis": 1}, [spec], {}) == [spec]
    assert rules.reverse_rule({"axis": -1}, [spec], {}) == [spec]
    with pytest.raises(ShapeError, match=re.escape(
            "Reverse axis 3 is out of range for input shape (None, 5, 3) of rank 3; "
            "use an axis in [-3, 2]")):
        rules.reverse_rule({"axis": 3}, [spec], {})


# ---------------------------------------------------------------- Keras -> ONNX weights


def build_onnx_model(op: str, attrs: dict, params: dict) -> onnx.ModelProto:
    """One ONNX LSTM/GRU/RNN node fed by our W/R/B, wrapped to Keras' (batch, time, ...) layout.

    This is what the ONNX lowering has to do: transpose X to time-major, squeeze the
    num_directions axis, transpose Y back, flip Y for go_backwards sequences, squeeze Y_h/Y_c.
    """
    W, R, B, attributes = onnx_recurrent(op, attrs, params)
    units = attrs["units"]
    states = ["Y_h", "Y_c"] if op == "LSTM" else ["Y_h"]
    nodes = [
        helper.make_node("Transpose", ["X"], ["X_tm"], perm=[1, 0, 2]),
        helper.make_node(ONNX_OP[op], ["X_tm", "W", "R", "B"], ["Y", *states], **attributes),
        helper.make_node("Squeeze", ["Y", "axis1"], ["Y_sq"]),
        helper.make_node("Transpose", ["Y_sq"], ["Y_bt"], perm=[1, 0, 2]),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (B, "B"))]
    inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (
        ("axis0", [0]), ("axis1", [1]), ("start", [-1]), ("end", [np.iinfo(np.int64).min]),
        ("step", [-1]))]
    seq = "Y_bt"
    if reverses_sequence_output(attrs):
        nodes.append(helper.make_node("Slice", ["Y_bt", "start", "end", "axis1", "step"], ["Y_rev"]))
        seq = "Y_rev"
    for s in states:
        nodes.append(helper.make_node("Squeeze", [s, "axis0"], [s + "_out"]))
    outputs = [seq if attrs["return_sequences"] else "Y_h_out"]
    if attrs["return_state"]:
        outputs += [s + "_out" for s in states]
    graph = helper.make_graph(
        nodes, f"tiny_{op}",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [BATCH, STEPS, FEATURES])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in zip(
            outputs, [[BATCH, STEPS, units] if attrs["return_sequences"] else [BATCH, units]]
            + [[BATCH, units]] * (len(outputs) - 1))],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run_onnx(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": x})


@pytest.mark.parametrize("op,config", CASES, ids=IDS)
def test_onnx_weights_match_numpy_lowering(op: str, config: dict) -> None:
    attrs = kir_attrs(op, **config)
    params, x = random_params(op, attrs, seed=2), random_input(seed=3)
    expected = LOWERING[op](CTX, attrs, [x], params)
    actual = run_onnx(build_onnx_model(op, attrs, params), x)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert_close(got, want)


def test_onnx_layout_of_lstm_weights() -> None:
    """W rows are ONNX gates i, o, f, c taken from Keras' i, f, c, o blocks, transposed."""
    attrs = kir_attrs("LSTM", units=2)
    kernel = np.arange(3 * 8, dtype=np.float32).reshape(3, 8)
    params = {"kernel": kernel, "recurrent_kernel": np.zeros((2, 8), np.float32),
              "bias": np.arange(8, dtype=np.float32)}
    W, R, B, attributes = lstm_weights(attrs, params)
    assert W.shape == (1, 8, 3) and R.shape == (1, 8, 2) and B.shape == (1, 16)
    i, f, c, o = (kernel[:, 2 * g: 2 * g + 2].T for g in range(4))
    np.testing.assert_array_equal(W[0], np.concatenate([i, o, f, c]))
    np.testing.assert_array_equal(B[0], [0, 1, 6, 7, 2, 3, 4, 5] + [0] * 8)
    assert attributes == {"activations": ["Sigmoid", "Tanh", "Tanh"], "hidden_size": 2,
                          "direction": "forward", "layout": 0}


def test_onnx_gru_attributes_and_bias() -> None:
    after = kir_attrs("GRU", go_backwards=True)
    params = random_params("GRU", after)
    W, R, B, attributes = gru_weights(after, params)
    np.testing.assert_array_equal(B[0], np.concatenate([params["bias"][0], params["bias"][1]]))
    assert attributes["linear_before_reset"] == 1 and attributes["direction"] == "reverse"
    before = kir_attrs("GRU", reset_after=False)
    params = random_params("GRU", before)
    _, _, B, attributes = gru_weights(before, params)
    np.testing.assert_array_equal(B[0], np.concatenate([params["bias"], np.zeros(12, np.float32)]))
    assert attributes["linear_before_reset"] == 0


def test_onnx_activation_alpha_beta_lists() -> None:
    attrs = kir_attrs("LSTM", activation="linear", recurrent_activation="hard_sigmoid")
    _, _, _, attributes = lstm_weights(attrs, random_params("LSTM", attrs))
    assert attributes["activations"] == ["HardSigmoid", "Affine", "Affine"]
    assert attributes["activation_alpha"] == [pytest.approx(1 / 6), 1.0, 1.0]
    assert attributes["activation_beta"] == [0.5, 0.0, 0.0]
    rnn = kir_attrs("SimpleRNN", activation="relu")
    _, _, B, attributes = simple_rnn_weights(rnn, random_params("SimpleRNN", rnn))
    assert attributes["activations"] == ["Relu"] and "activation_alpha" not in attributes


def test_onnx_rejects_inexpressible_activation() -> None:
    attrs = kir_attrs("LSTM", activation="swish")
    with pytest.raises(UnsupportedOpError, match=re.escape(
            "ONNX's LSTM op cannot express LSTM (layer 'enc'): activation 'swish' has no ONNX "
            "recurrent equivalent; use activations from elu, hard_sigmoid,")) as info:
        onnx_recurrent("LSTM", attrs, random_params("LSTM", attrs), layer="enc")
    assert isinstance(info.value, RecurrentUnsupported)


def test_onnx_rejects_wrong_weight_layout() -> None:
    attrs = kir_attrs("GRU", reset_after=True)
    params = random_params("GRU", kir_attrs("GRU", reset_after=False))
    with pytest.raises(ConfigError, match=re.escape(
            "GRU weight 'bias' of layer 'g' has shape (12,), expected (2, 12)")):
        gru_weights(attrs, params, layer="g")


def test_reverses_sequence_output() -> None:
    assert reverses_sequence_output({"go_backwards": True, "return_sequences": True})
    assert not reverses_sequence_output({"go_backwards": True, "return_sequences": False})
    assert not reverses_sequence_output({"go_backwards": False, "return_sequences": True})
