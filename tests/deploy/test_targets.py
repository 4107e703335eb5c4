"""Runtime targets: the onnxruntime-optimized file for cpu, a clear answer for missing providers,
and provider (name, options) pairs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from kir.backends.onnx import Runtime, resolve_providers
from kir.backends.onnx.targets import optimize_for, target_path
from kir.errors import ConfigError


def test_cpu_target_writes_optimized_model(mlp, digits_x, tmp_path) -> None:
    path = str(tmp_path / "mlp.onnx")
    mlp.export(path)
    result = optimize_for(path, "cpu")
    assert result.path == str(tmp_path / "mlp.cpu.onnx") == target_path(path, "cpu")
    assert "wrote the onnxruntime-optimized model for CPUExecutionProvider" in result.message
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    fast = ort.InferenceSession(result.path, so, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(fast.run(None, {"pixels": digits_x})[0],
                               Runtime(path, providers="CPUExecutionProvider").run(digits_x)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target, provider", [("cuda", "CUDAExecutionProvider"),
                                              ("tensorrt", "TensorrtExecutionProvider")])
def test_gpu_targets(mlp, tmp_path, target, provider) -> None:
    path = str(tmp_path / "mlp.onnx")
    mlp.export(path)
    result = optimize_for(path, target)
    if provider in ort.get_available_providers():  # a GPU machine with onnxruntime-gpu
        assert result.path is not None and result.message.startswith(f"target {target}: wrote")
    else:
        assert result.path is None
        assert result.message.startswith(f"target {target}: {provider} is not available in this onnxruntime")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.onnx"]


def test_unknown_target(mlp, tmp_path) -> None:
    mlp.export(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="target must be one of cpu, cuda, tensorrt, got 'tpu'"):
        optimize_for(str(tmp_path / "m.onnx"), "tpu")


def test_provider_pairs(mlp, digits_x, tmp_path) -> None:
    mlp.export(tmp_path / "m.onnx")
    pair = ("CPUExecutionProvider", {})
    assert resolve_providers([pair]) == [pair]
    runtime = Runtime(tmp_path / "m.onnx", providers=[pair])
    assert runtime.provider == "CPUExecutionProvider" and runtime.device == "cpu"
    values = runtime.run_on_device(runtime.to_device(digits_x))
    np.testing.assert_allclose(values[0].numpy(), runtime.run(digits_x)[0], rtol=1e-6)
    with pytest.raises(ConfigError, match="a provider is a name or a \\(name, options dict\\) pair"):
        resolve_providers([("CPUExecutionProvider", "fast")])
