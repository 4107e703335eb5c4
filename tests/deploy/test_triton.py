"""The Triton model repository: files, and config.pbtxt validated against Triton's own ModelConfig schema."""

from __future__ import annotations

import pytest

text_format = pytest.importorskip("google.protobuf.text_format")
model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")

from kir.backends.onnx.triton import write_repository  # noqa: E402
from kir.errors import ConfigError  # noqa: E402


def parse(text: str):
    """Strict parse: an unknown field or a wrong enum value raises ParseError."""
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_repository_layout_and_schema(lstm, tmp_path) -> None:
    triton, result = write_repository(lambda p: lstm.export(p, guard_ids=True), tmp_path / "repo", "sentiment",
                                      max_batch=16)
    assert result.path == str(tmp_path / "repo" / "sentiment" / "1" / "model.onnx")
    assert sorted(p.name for p in (tmp_path / "repo" / "sentiment").iterdir()) == ["1", "config.pbtxt"]
    cfg = parse((tmp_path / "repo" / "sentiment" / "config.pbtxt").read_text())
    assert cfg.name == "sentiment" and cfg.platform == "onnxruntime_onnx" and cfg.max_batch_size == 16
    assert [(i.name, model_config_pb2.DataType.Name(i.data_type), list(i.dims)) for i in cfg.input] == \
        [("tokens", "TYPE_INT32", [6])]
    assert [(o.name, model_config_pb2.DataType.Name(o.data_type), list(o.dims)) for o in cfg.output] == \
        [("score", "TYPE_FP32", [1])]
    assert list(cfg.dynamic_batching.preferred_batch_size) == [1, 8, 16]
    assert cfg.instance_group[0].count == 1
    warm = cfg.model_warmup[0]
    assert warm.batch_size == 1 and warm.inputs["tokens"].zero_data and list(warm.inputs["tokens"].dims) == [6]
    assert not cfg.optimization.execution_accelerators.gpu_execution_accelerator


def test_fp16_tensorrt_accelerator_labels_and_dynamic_dims(tmp_path) -> None:
    import kir
    from kir import layers as L

    x = kir.Input(shape=(None, 8), name="frames", dim_names=("time", None))
    y = L.Dense(3, activation="softmax", name="classes")(L.GlobalAveragePooling1D(name="pool")(x))
    model = kir.Model(x, y, name="clf")
    triton, _ = write_repository(lambda p: model.export(p, dtype="float16"), tmp_path, "clf", fp16=True,
                                 labels=["cat", "dog", "eel"])
    cfg = parse(triton.config)
    assert list(cfg.input[0].dims) == [-1, 8], "dims without the batch, -1 for the dynamic time dim"
    assert cfg.output[0].label_filename == "labels.txt"
    assert (tmp_path / "clf" / "labels.txt").read_text() == "cat\ndog\neel\n"
    trt = cfg.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert trt.name == "tensorrt" and trt.parameters["precision_mode"] == "FP16"
    assert cfg.model_warmup[0].inputs["frames"].random_data


def test_static_batch_has_no_max_batch(mlp, tmp_path) -> None:
    triton, _ = write_repository(lambda p: mlp.export(p, batch_size=4), tmp_path, "mlp")
    cfg = parse(triton.config)
    assert cfg.max_batch_size == 0 and list(cfg.input[0].dims) == [4, 64]
    assert not cfg.HasField("dynamic_batching")


def test_bad_name(mlp, tmp_path) -> None:
    with pytest.raises(ConfigError, match="Triton model name 'a/b' must be a plain folder name"):
        write_repository(lambda p: mlp.export(p), tmp_path, "a/b")


def test_failed_export_leaves_no_repository(mlp, tmp_path) -> None:
    with pytest.raises(ConfigError, match="metadata key 'kir_x'"):
        write_repository(lambda p: mlp.export(p, metadata={"kir_x": "1"}), tmp_path / "repo", "mlp")
    assert list(tmp_path.iterdir()) == []
