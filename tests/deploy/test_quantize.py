"""int8 through onnxruntime.quantization: dynamic, static QDQ, auto, exclusions, the per-layer report."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from kir.backends.numpy import run
from kir.backends.onnx.quantize import layer_of
from kir.errors import ConfigError


def ops(path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def props(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def run_file(path, x) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_dynamic_mlp_int8_close_to_reference(mlp, digits_x, tmp_path) -> None:
    path = tmp_path / "mlp.onnx"
    result = mlp.export(path, quantize="dynamic", quantize_sample=digits_x)
    report = result.quantization
    assert "MatMulInteger" in ops(path) and "Gemm" not in ops(path)
    assert [e.layer for e in report.layers] == ["fc1", "fc2", "predictions"]
    assert all(e.scheme == "dynamic" and 0 < e.relative < 0.05 for e in report.layers)
    ref = run(mlp.to_graph(), [digits_x])[0]
    got = run_file(path, digits_x)
    assert np.max(np.abs(got - ref)) < 0.02 and report.output_error < 0.05
    assert props(path)["kir_quantize"] == "dynamic" and props(path)["kir_int8_layers"] == "fc1,fc2,predictions"
    assert "fc1" in str(report) and "output max relative error" in str(report)


def test_static_qdq_cnn_per_channel(cnn, images, tmp_path) -> None:
    np.savez(tmp_path / "calib.npz", image=images)
    path = tmp_path / "cnn.onnx"
    report = cnn.export(path, quantize="static", calibration=tmp_path / "calib.npz").quantization
    model = onnx.load(str(path))
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    weight_dq = [n for n in dq if n.input[0].startswith("conv1/kernel")]
    assert weight_dq, "the conv weights are int8 initializers behind a DequantizeLinear (QDQ)"
    scale = next(t for t in model.graph.initializer if t.name == weight_dq[0].input[1])
    assert list(scale.dims) == [4], "per-channel: one scale per output channel"
    assert {e.layer: e.scheme for e in report.layers}["conv1"] == "static"
    ref = run(cnn.to_graph(), [images])[0]
    assert np.max(np.abs(run_file(path, images) - ref)) < 0.05


def test_auto_without_calibration_keeps_conv_float_and_says_why(cnn, images) -> None:
    from kir.backends.onnx.export import optimized_graph, to_onnx
    from kir.backends.onnx.quantize import quantize

    graph, _ = optimized_graph(cnn.to_graph())
    model, report = quantize(to_onnx(cnn), graph, "auto", sample=images)
    assert any("Conv stays float" in r for r in report.reasons)
    assert report.schemes["conv1"] == "float" and report.schemes["digits"] == "dynamic"
    assert "ConvInteger" not in {n.op_type for n in model.graph.node}
    # never slower than float: a kept int8 file was measured faster, else the float file comes back
    assert report.float_ms is not None and report.int8_ms is not None
    if report.quantized:
        assert report.int8_ms < report.float_ms
    else:
        assert "MatMulInteger" not in {n.op_type for n in model.graph.node}
        assert any("not faster" in r for r in report.reasons)


def test_auto_tolerance_keeps_worst_layer_float(mlp, digits_x) -> None:
    from kir.backends.onnx.export import optimized_graph, to_onnx
    from kir.backends.onnx.quantize import quantize

    graph, _ = optimized_graph(mlp.to_graph())
    _, report = quantize(to_onnx(mlp), graph, "auto", sample=digits_x, tolerance=1e-6)
    assert report.schemes["fc1"] == "float"
    assert any("layer 'fc1' stays float" in r for r in report.reasons)


def test_exclude_by_layer_name(mlp, digits_x, tmp_path) -> None:
    path = tmp_path / "mlp.onnx"
    result = mlp.export(path, quantize="dynamic", quantize_exclude=["predictions"], quantize_sample=digits_x)
    report = result.quantization
    model = onnx.load(str(path))
    assert [n.op_type for n in model.graph.node if n.name.startswith("predictions/")][0] == "MatMul"
    assert {e.layer: e.scheme for e in report.layers}["predictions"] == "float"
    assert {e.layer: e.relative for e in report.layers}["fc1"] > 0


def test_lstm_dynamic(lstm, tmp_path) -> None:
    path = tmp_path / "lstm.onnx"
    report = lstm.export(path, quantize="dynamic").quantization
    assert "DynamicQuantizeLSTM" in ops(path)
    assert {e.layer: e.scheme for e in report.layers}["lstm"] == "dynamic"


def test_calibration_of_the_wrong_shape_is_a_feed_error(mlp, tmp_path) -> None:
    from kir.errors import FeedError

    with pytest.raises(FeedError, match=r"input 'pixels' of the calibration data: expected shape \(None, 64\), "
                                        r"got \(8, 63\)"):
        mlp.export(tmp_path / "m.onnx", quantize="static", calibration=np.zeros((8, 63), np.float32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"quantize": "int4"}, "quantize must be one of dynamic, static, auto, got 'int4'"),
    ({"quantize": "static"}, "quantize='static' needs calibration data"),
    ({"quantize": "dynamic", "quantize_exclude": ["fc3"]}, "quantize_exclude: model has no layer 'fc3'. Did you mean"),
    ({"quantize": "dynamic", "dtype": "float16"}, "quantize works on float32 models"),
    ({"calibration": np.zeros((2, 64), np.float32)}, "calibration / quantize_exclude / quantize_sample need quantize="),
    ({"quantize": "static", "calibration": "missing.npz"}, "calibration file 'missing.npz' does not exist"),
    ({"quantize": "static", "calibration": {"images": np.zeros((2, 64), np.float32), "y": np.zeros(2)}},
     "calibration data has no array for input 'pixels'"),
])
def test_bad_options_name_the_culprit(mlp, tmp_path, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        mlp.export(tmp_path / "m.onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_layer_of_longest_prefix() -> None:
    layers = ["enc", "enc/dense", "dense"]
    assert layer_of("enc/dense/Gemm", layers) == "enc/dense"
    assert layer_of("enc/Add", layers) == "enc"
    assert layer_of("dense_2/Gemm", layers) is None


def test_auto_with_calibration_tries_plans_and_reports_choice(cnn, images) -> None:
    from kir.backends.onnx.export import optimized_graph, to_onnx
    from kir.backends.onnx.quantize import quantize

    graph, _ = optimized_graph(cnn.to_graph())
    model, report = quantize(to_onnx(cnn), graph, "auto", calibration=images)
    tried = next(r for r in report.reasons if r.startswith("auto tried"))
    assert "dynamic " in tried and "conv-static " in tried and " static " in tried and "is fastest" in tried
    if report.quantized:
        assert report.int8_ms < report.float_ms and report.output_error < 0.1
