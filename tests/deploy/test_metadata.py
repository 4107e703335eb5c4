"""Named dynamic dims, user metadata, class labels, layouts and id bounds in the ONNX file."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import kir
from kir import layers as L
from kir.errors import ConfigError


def props(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def token_model():
    tokens = kir.Input(shape=(None, 64), name="tokens", dim_names=("seq", None))
    out = L.Dense(4, name="proj")(tokens)
    return kir.Model(tokens, out, name="named")


def test_named_dims_in_file_and_config_roundtrip(tmp_path) -> None:
    model = token_model()
    model.export(tmp_path / "m.onnx")
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert dims(graph.input[0]) == ["batch", "seq", 64]
    assert dims(graph.output[0]) == ["batch", "seq", 4]
    assert model.layers[0].get_config()["dim_names"] == ["seq", None]
    model.save(tmp_path / "m.kir")
    again = kir.models.load_model(tmp_path / "m.kir")
    assert again.layers[0].dim_names == ("seq", None)


@pytest.mark.parametrize("kwargs, message", [
    ({"shape": (None, 64), "dim_names": ("seq",)}, "dim_names has 1 entries but shape (None, 64) has 2 dims"),
    ({"shape": (None, 64), "dim_names": ("seq", "width")}, "dim name 'width' names a static dim (64)"),
    ({"shape": (None,), "dim_names": ("batch",)}, "'batch' is the batch dim's name"),
    ({"shape": (None,), "dim_names": ("two words",)}, "dim name 'two words' must be an identifier"),
    ({"shape": (None,), "dim_names": "seq"}, "dim_names must be a tuple"),
])
def test_bad_dim_names(kwargs, message) -> None:
    with pytest.raises(ConfigError, match="Input 'ids': " + message.replace("(", r"\(").replace(")", r"\)")):
        kir.Input(name="ids", **kwargs)


def test_metadata_labels_layout(cnn, tmp_path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"digit {i}" for i in range(10)) + "\n")
    cnn.export(tmp_path / "c.onnx", metadata={"owner": "vision", "threshold": 0.5}, labels=labels)
    meta = props(tmp_path / "c.onnx")
    assert meta["owner"] == "vision" and meta["threshold"] == "0.5"
    assert json.loads(meta["kir_labels"]) == [f"digit {i}" for i in range(10)]
    assert json.loads(meta["kir_layout"]) == {"image": "NHWC"}
    cnn.export(tmp_path / "n.onnx", nchw_io=True)
    assert json.loads(props(tmp_path / "n.onnx")["kir_layout"]) == {"image": "NCHW"}


def test_embedding_bounds_recorded(lstm, tmp_path) -> None:
    lstm.export(tmp_path / "l.onnx")
    assert json.loads(props(tmp_path / "l.onnx")["kir_embedding_ids"]) == {"tokens": 50}


@pytest.mark.parametrize("kwargs, message", [
    ({"metadata": {"kir_version": "9"}}, "metadata key 'kir_version': keys starting with 'kir_' are kir's own"),
    ({"metadata": ["a"]}, "metadata must be a dict of str -> str, got list"),
    ({"labels": ["a", "b", "c"]}, "3 labels given but output 'digits' has 10 classes"),
    ({"labels": "nope.txt"}, "labels file 'nope.txt' does not exist"),
])
def test_bad_metadata(cnn, tmp_path, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cnn.export(tmp_path / "c.onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_predict_still_matches_with_named_dims(tmp_path) -> None:
    from kir.backends.onnx import Runtime

    model = token_model()
    model.export(tmp_path / "m.onnx")
    x = np.random.default_rng(0).random((2, 5, 64), dtype=np.float32)
    np.testing.assert_allclose(Runtime(tmp_path / "m.onnx", providers="CPUExecutionProvider").run(x)[0],
                               model.predict(x, backend="numpy"), rtol=1e-5, atol=1e-5)


def test_runtime_reads_labels_and_metadata(cnn, tmp_path) -> None:
    from kir.backends.onnx import Runtime

    cnn.export(tmp_path / "c.onnx", labels=[f"d{i}" for i in range(10)], metadata={"owner": "vision"})
    runtime = Runtime(tmp_path / "c.onnx", providers="CPUExecutionProvider")
    assert runtime.labels == [f"d{i}" for i in range(10)]
    assert runtime.metadata["owner"] == "vision" and json.loads(runtime.metadata["kir_layout"]) == {"image": "NHWC"}
    cnn.export(tmp_path / "plain.onnx")
    assert Runtime(tmp_path / "plain.onnx", providers="CPUExecutionProvider").labels is None
