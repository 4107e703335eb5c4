"""float16 with a block list: the listed ops stay float32 behind Casts; parity with float32 is reported."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

import kir
from kir import layers as L
from kir.backends.onnx.float16 import DEFAULT_BLOCK_LIST, kept_float32


def normed_model():
    x = kir.Input(shape=(16,), name="x")
    h = L.Dense(32, activation="relu", name="fc")(x)
    h = L.LayerNormalization(name="norm")(h)
    h = L.Dense(8, name="logits")(h)
    out = L.Softmax(name="probs")(h)
    return kir.Model(x, out, name="normed")


def run_file(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_block_list_keeps_softmax_and_norm_float32(tmp_path) -> None:
    model = normed_model()
    x = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32) * 4
    model.export(tmp_path / "f32.onnx")
    model.export(tmp_path / "f16.onnx", dtype="float16")
    proto = onnx.load(str(tmp_path / "f16.onnx"))
    float32_nodes = kept_float32(proto)
    by_op = {n.name: n.op_type for n in proto.graph.node}
    assert {by_op[n] for n in float32_nodes} == {"LayerNormalization", "Softmax"}
    assert {"Softmax", "LayerNormalization"} <= DEFAULT_BLOCK_LIST
    gemm_weights = [t for t in proto.graph.initializer if t.name.endswith("kernel")]
    assert gemm_weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in gemm_weights)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    ref, half = run_file(tmp_path / "f32.onnx", x), run_file(tmp_path / "f16.onnx", x)
    err = float(np.max(np.abs(half - ref)))
    print(f"float16 with block list: max abs error vs float32 {err:.2e}")
    assert err < 5e-3


def test_empty_block_list_converts_everything(tmp_path) -> None:
    normed_model().export(tmp_path / "all.onnx", dtype="float16", keep_float32=())
    assert kept_float32(onnx.load(str(tmp_path / "all.onnx"))) == []


def test_float16_io(tmp_path) -> None:
    model = normed_model()
    model.export(tmp_path / "io.onnx", dtype="float16", io_dtype="float16")
    proto = onnx.load(str(tmp_path / "io.onnx"))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    x = np.random.default_rng(1).normal(size=(4, 16)).astype(np.float16)
    out = run_file(tmp_path / "io.onnx", x)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), model.predict(x.astype(np.float32), backend="numpy"),
                               atol=5e-3)


def test_contrib_op_then_blocked_op(tmp_path) -> None:
    """onnx cannot type onnxruntime's BiasGelu (O2's fused Dense+gelu); the Casts around the
    LayerNormalization after it must still be right."""
    x = kir.Input(shape=(5, 16), name="x")
    h = L.Dense(32, activation="gelu", name="fc")(x)
    h = L.LayerNormalization(name="norm")(h)
    out = L.Dense(4, activation="softmax", name="o")(h)
    model = kir.Model(x, out, name="gelu")
    model.export(tmp_path / "f32.onnx")
    model.export(tmp_path / "f16.onnx", dtype="float16")
    proto = onnx.load(str(tmp_path / "f16.onnx"))
    assert any(n.op_type == "BiasGelu" for n in proto.graph.node)
    xs = np.random.default_rng(0).normal(size=(8, 5, 16)).astype(np.float32)
    assert np.max(np.abs(run_file(tmp_path / "f16.onnx", xs) - run_file(tmp_path / "f32.onnx", xs))) < 5e-3
