"""ConvLSTM1D/2D/3D in ONNX (batched input Conv + Scan): onnxruntime equals the numpy reference
(which tests/ops/test_conv_lstm.py holds to Keras 3), for static and unknown time lengths."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from kir.backends.numpy import run
from kir.backends.onnx import Runtime, export
from kir.layers import BatchNormalization, ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, Input
from kir.models import Model, Sequential
from tests.helpers import assert_close
from tests.onnx.util import CPU, check_parity

pytest.importorskip("onnxruntime")


def model_of(cls, step: tuple, steps: int | None = 4, seed: int = 0, **config) -> Model:
    """One ConvLSTM layer over (batch, steps, *step) with random (non-zero bias) weights."""
    inp = Input((steps, *step))
    layer = cls(**config)
    model = Model(inp, layer(inp), name=f"m_{layer.name}")
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in layer.get_weights()])
    return model


CASES = [
    ("same_seq", ConvLSTM2D, (6, 5, 2), dict(filters=3, kernel_size=3, padding="same", return_sequences=True)),
    ("valid_last", ConvLSTM2D, (6, 5, 2), dict(filters=2, kernel_size=(3, 2))),
    ("strides_state", ConvLSTM2D, (7, 5, 2), dict(filters=3, kernel_size=3, strides=(2, 1), padding="same",
                                                  return_state=True)),
    ("dilated_backwards", ConvLSTM2D, (6, 5, 1), dict(filters=2, kernel_size=2, dilation_rate=2, go_backwards=True,
                                                      return_sequences=True, return_state=True)),
    ("relu_nobias", ConvLSTM2D, (5, 5, 2), dict(filters=2, kernel_size=3, activation="relu",
                                                recurrent_activation="hard_sigmoid", use_bias=False)),
    ("1d", ConvLSTM1D, (7, 2), dict(filters=3, kernel_size=2, padding="same", return_sequences=True)),
    ("3d", ConvLSTM3D, (3, 4, 3, 1), dict(filters=2, kernel_size=2, padding="same", return_state=True)),
]


def op_types(path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.mark.parametrize("steps", [4, None], ids=["unrolled", "scan"])
@pytest.mark.parametrize("name,cls,step,config", CASES, ids=[c[0] for c in CASES])
def test_onnx_matches_numpy(tmp_path, name, cls, step, config, steps):
    """A static time length is unrolled, an unknown one runs in a Scan; both equal the reference."""
    path = check_parity(model_of(cls, step, steps=steps, **config), tmp_path, batches=(1, 3))
    assert ("Scan" in op_types(path)) == (steps is None)


def test_unknown_time_length_runs_any_length(tmp_path):
    """One file (time dim None, as in the conv_lstm example) runs sequences of 1, 3 and 70 steps."""
    model = model_of(ConvLSTM2D, (6, 5, 2), steps=None, filters=2, kernel_size=3, padding="same",
                     return_sequences=True)
    path = tmp_path / "m.onnx"
    export(model, path)
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert not dims[1].HasField("dim_value")  # time stays symbolic
    runtime = Runtime(path, providers=CPU)
    graph = model.to_graph()
    for steps in (1, 3, 70):
        x = np.random.default_rng(steps).normal(size=(2, steps, 6, 5, 2)).astype("float32")
        (got,), (want,) = runtime.run([x]), run(graph, [x])
        assert got.shape == (2, steps, 6, 5, 2)
        assert_close(got, want)


@pytest.mark.parametrize("steps", [3, None], ids=["unrolled", "scan"])
def test_initial_states_and_stacked_layers(tmp_path, steps):
    x, h, c = Input((steps, 6, 5, 2), name="x"), Input((6, 5, 3), name="h"), Input((6, 5, 3), name="c")
    first = ConvLSTM2D(3, 3, padding="same", return_sequences=True)
    y = first(x, initial_state=[h, c])
    y = BatchNormalization()(y)
    y, h_last, c_last = ConvLSTM2D(2, 3, return_state=True)(y)
    model = Model([x, h, c], [y, h_last, c_last], name=f"stacked_{steps}")
    rng = np.random.default_rng(7)
    first.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in first.get_weights()])
    check_parity(model, tmp_path, batches=(1, 2))


@pytest.mark.parametrize("opset", [13, 21])
def test_opsets(tmp_path, opset):
    seq = Sequential([ConvLSTM2D(2, 3, padding="same", input_shape=(None, 5, 5, 1), return_sequences=True)])
    check_parity(seq, tmp_path, batches=(2,), opset=opset)


def test_long_static_sequences_use_the_scan(tmp_path):
    from kir.backends.onnx.lowerings.conv_recurrent import UNROLL_MAX_STEPS

    model = model_of(ConvLSTM1D, (3, 1), steps=UNROLL_MAX_STEPS + 1, filters=1, kernel_size=2,
                     return_sequences=True)
    path = check_parity(model, tmp_path, batches=(2,))
    assert "Scan" in op_types(path)


@pytest.mark.parametrize("steps", [3, None], ids=["unrolled", "scan"])
def test_float16_export(tmp_path, steps):
    """dtype='float16': the Scan (whose body the conversion does not enter) stays float32 with Casts."""
    model = model_of(ConvLSTM2D, (5, 5, 1), steps=steps, filters=2, kernel_size=3, padding="same",
                     return_sequences=True)
    path = tmp_path / "half.onnx"
    export(model, path, dtype="float16")
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 5, 1)).astype("float32")
    (got,) = Runtime(path, providers=CPU).run([x])
    assert_close(got, run(model.to_graph(), [x])[0], rtol=2e-3)
