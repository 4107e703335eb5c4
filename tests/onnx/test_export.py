"""export(): options, metadata, determinism, atomic writes, external data, float16, errors."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest

import kir
from kir import layers as L
from kir.backends.numpy import run
from kir.backends.onnx import DEFAULT_OPSET, LOWERINGS, MAX_OPSET, MIN_OPSET, Runtime, export
from kir.cli.check import random_feeds
from kir.errors import ConfigError, ExportError, UnsupportedOpError
from kir.ir import ops
from kir.ir.graph import Graph
from kir.ir.spec import TensorSpec
from tests.fixtures import factories
from tests.helpers import assert_close
from tests.onnx.util import CPU, check_parity


def hand_graph(op: str, attrs: dict, x_shape: tuple, params: dict[str, np.ndarray] | None = None,
               out_specs: list[TensorSpec] | None = None) -> Graph:
    """Input -> one `op` vertex, built by hand (as passes build graphs)."""
    g = Graph("hand")
    x = g.add_vertex("Input", (), {"name": "x", "shape": list(x_shape), "dtype": "float32"},
                     [TensorSpec(x_shape)], "x")
    keys = {role: g.store.add(f"w/{role}", value) for role, value in (params or {}).items()}
    if out_specs is None:
        out_specs = ops.infer(op, attrs, [TensorSpec(x_shape)], {r: v.shape for r, v in (params or {}).items()})
    y = g.add_vertex(op, [(x, 0)], attrs, out_specs, "layer_y", keys, layer="layer_y")
    g.inputs, g.outputs, g.output_names = [x], [(y, 0)], ["y"]
    return g


# ---------------------------------------------------------------- file contents


def test_metadata_names_and_checker(tmp_path) -> None:
    path = tmp_path / "mlp.onnx"
    result = export(factories.mlp(), path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.producer_name == "kir" and model.producer_version == kir.__version__
    assert kir.__version__ in model.doc_string
    props = {p.key: p.value for p in model.metadata_props}
    assert props["kir_version"] == kir.__version__ and props["kir_model"] == "mlp"
    assert model.opset_import[0].version == DEFAULT_OPSET == result.opset
    assert result.node_counts == {"Gemm": 3, "Relu": 2, "Softmax": 1}
    assert result.parameters == 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    assert result.inputs == [("input", "float32", ("batch", 784))]
    assert result.outputs == [("predictions", "float32", ("batch", 10))]
    assert result.file_bytes == path.stat().st_size


def test_node_and_initializer_names_come_from_layer_names(tmp_path) -> None:
    digit = L.Input(shape=(6, 6, 1), name="digit")
    x = L.Conv2D(2, 3, name="conv")(digit)
    vision = kir.Model(digit, L.Flatten(name="flat")(x), name="vision")
    a, b = L.Input(shape=(6, 6, 1), name="a"), L.Input(shape=(6, 6, 1), name="b")
    out = L.Dense(1, activation="sigmoid", name="same")(L.concatenate([vision(a), vision(b)], name="pair"))
    path = tmp_path / "m.onnx"
    export(kir.Model([a, b], out, name="pairs"), path, optimize="O0")  # O0: one ONNX group per layer call
    graph = onnx.load(str(path)).graph
    assert [n.name for n in graph.node] == [
        "vision_call1/conv/to_channels_first", "vision_call1/conv/Conv", "vision_call1/conv/to_channels_last",
        "vision_call1/flat/Flatten", "vision_call2/conv/to_channels_first", "vision_call2/conv/Conv",
        "vision_call2/conv/to_channels_last", "vision_call2/flat/Flatten", "pair/Concat", "same/Gemm", "same/sigmoid"]
    assert [t.name for t in graph.initializer] == ["conv/kernel:oihw", "conv/bias", "same/kernel", "same/bias"]


def test_static_batch(tmp_path) -> None:
    model = factories.mlp()
    path = tmp_path / "static.onnx"
    export(model, path, batch_size=4)
    dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 4 and not dim.dim_param
    check_parity(model, tmp_path, batches=(4,), batch_size=4)
    with pytest.raises(kir.errors.FeedError, match=re.escape("expected shape (4, 784), got (3, 784)")):
        Runtime(path, providers=CPU).run(np.zeros((3, 784), np.float32))


@pytest.mark.parametrize("opset", [MIN_OPSET, MAX_OPSET])
def test_opset_range_ends_on_guide_models(opset, tmp_path) -> None:
    for name in ("headline", "video_qa", "inception"):
        path = check_parity(getattr(factories, name)(), tmp_path, opset=opset)
        assert onnx.load(str(path)).opset_import[0].version == opset


@pytest.mark.parametrize("opset,ops_expected,ops_absent", [
    (16, {"ReduceMean", "Sqrt", "Div"}, {"LayerNormalization"}),
    (17, {"LayerNormalization"}, {"ReduceMean"}),
])
def test_layernorm_op_from_opset_17(opset, ops_expected, ops_absent, tmp_path) -> None:
    x = L.Input(shape=(3, 6), name="x")
    model = factories.randomize(kir.Model(x, L.LayerNormalization()(x), name="ln"))
    path = check_parity(model, tmp_path, opset=opset)
    used = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ops_expected <= used and not ops_absent & used


def test_channels_first_conv_and_transpose_op_need_no_layout_transposes(tmp_path) -> None:
    rng = np.random.default_rng(0)
    params = {"kernel": rng.normal(size=(3, 3, 2, 4)).astype(np.float32),
              "bias": rng.normal(size=(4,)).astype(np.float32)}
    attrs = {"filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "dilation_rate": [1, 1],
             "activation": "relu", "use_bias": True, "data_format": "channels_first"}
    graph = hand_graph("Conv2D", attrs, (None, 2, 5, 6), params)
    path = check_parity(graph, tmp_path)
    assert [n.op_type for n in onnx.load(str(path)).graph.node] == ["Conv", "Relu"]
    pool = hand_graph("MaxPooling2D", {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                                       "data_format": "channels_first"}, (None, 2, 6, 6))
    path = check_parity(pool, tmp_path)
    assert [n.op_type for n in onnx.load(str(path)).graph.node] == ["MaxPool"]
    transpose = hand_graph("Transpose", {"perm": [0, 2, 3, 1]}, (None, 2, 5, 6))
    check_parity(transpose, tmp_path)


# ---------------------------------------------------------------- determinism and atomic writes


def test_same_model_gives_identical_bytes(tmp_path) -> None:
    model = factories.headline()
    export(model, tmp_path / "a.onnx")
    export(model, tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_failed_export_leaves_no_file_and_keeps_the_old_one(tmp_path) -> None:
    """A lowering that emits an op ONNX does not know fails the checker after staging: the
    target keeps its previous content and no temporary file remains."""

    @LOWERINGS.register("KirTestInvalid")
    def invalid(ctx, attrs, inputs, params):
        return [ctx.op("NotAnOnnxOperator", inputs[0])]

    try:
        graph = hand_graph("KirTestInvalid", {}, (None, 3), out_specs=[TensorSpec((None, 3))])
        with pytest.raises(ExportError, match="no file was written"):
            export(graph, tmp_path / "new.onnx")
        (tmp_path / "old.onnx").write_bytes(b"previous export")
        with pytest.raises(ExportError):
            export(graph, tmp_path / "old.onnx")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["old.onnx"]
        assert (tmp_path / "old.onnx").read_bytes() == b"previous export"
    finally:
        del LOWERINGS._table["KirTestInvalid"]


def test_unsupported_op_names_op_layer_and_backend(tmp_path) -> None:
    graph = hand_graph("FakeOp", {}, (None, 3), out_specs=[TensorSpec((None, 3))])
    with pytest.raises(UnsupportedOpError, match=re.escape(
            "backend 'onnx' has no lowering for op 'FakeOp' (layer 'layer_y'); use another backend or add "
            "a lowering for 'FakeOp' to the 'onnx' table")):
        export(graph, tmp_path / "fake.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options,message", [
    ({"opset": 12}, "opset must be an integer from 13 to 21 (default 17), got 12"),
    ({"opset": 22}, "opset must be an integer from 13 to 21"),
    ({"dtype": "int8"}, "dtype must be 'float32' or 'float16', got 'int8'"),
    ({"optimize": "O3"}, "optimize must be one of O0, O1, O2 (or 0, 1, 2), got 'O3'"),
    ({"dynamic_batch": False}, "dynamic_batch=False needs batch_size=N"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"io_dtype": "float16"}, "io_dtype='float16' needs dtype='float16'"),
])
def test_bad_options(options, message, tmp_path) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        export(factories.mlp(), tmp_path / "m.onnx", **options)
    assert list(tmp_path.iterdir()) == []


def test_bad_paths(tmp_path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        export(factories.mlp(), tmp_path / "missing" / "m.onnx")
    with pytest.raises(ExportError, match="it is a directory"):
        export(factories.mlp(), tmp_path)


def test_model_export_method(tmp_path) -> None:
    model = factories.cnn()
    result = model.export(str(tmp_path / "cnn.onnx"), opset=MIN_OPSET)
    assert result.opset == MIN_OPSET and (tmp_path / "cnn.onnx").exists()


# ---------------------------------------------------------------- external data and float16


def test_external_data_above_threshold(tmp_path) -> None:
    model = factories.mlp()
    path = tmp_path / "big.onnx"
    result = export(model, path, external_data_threshold=1000)
    (data,) = tmp_path.glob("big.onnx.*.data")  # named by the hash of its weights (kir.fileio publishing)
    assert result.external_data == str(data) and data.exists()
    assert data.stat().st_size >= 784 * 64 * 4
    assert path.stat().st_size < 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", data.name]
    onnx.checker.check_model(str(path), full_check=True)
    feeds = random_feeds(model.to_graph(), 7)
    assert_close(Runtime(path, providers=CPU).run(feeds)[0], run(model.to_graph(), feeds)[0])
    first = (path.read_bytes(), data.read_bytes())
    export(model, path, external_data_threshold=1000)
    assert (path.read_bytes(), data.read_bytes()) == first
    small = export(model, tmp_path / "small.onnx")
    assert small.external_data is None and not list(tmp_path.glob("small.onnx*.data"))


@pytest.mark.parametrize("name", ["mlp", "cnn", "headline"])
def test_float16_weights_with_float32_io(name, tmp_path) -> None:
    model = getattr(factories, name)()
    path = tmp_path / "half.onnx"
    export(model, path, dtype="float16")
    proto = onnx.load(str(path))
    assert {t.data_type for t in proto.graph.initializer if t.dims and len(t.dims) > 1} == {onnx.TensorProto.FLOAT16}
    float_io = [v for v in list(proto.graph.input) + list(proto.graph.output)
                if v.type.tensor_type.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    assert {v.type.tensor_type.elem_type for v in float_io} == {onnx.TensorProto.FLOAT}
    feeds = random_feeds(model.to_graph(), 5)
    got = Runtime(path, providers=CPU).run(feeds)
    for g, w in zip(got, run(model.to_graph(), feeds)):
        assert g.dtype == np.float32
        assert_close(g, w, rtol=5e-3)


def test_float16_io(tmp_path) -> None:
    path = tmp_path / "half_io.onnx"
    export(factories.mlp(), path, dtype="float16", io_dtype="float16")
    runtime = Runtime(path, providers=CPU)
    assert runtime.input_specs[0].dtype == "float16"
    assert runtime.run(np.zeros((2, 784), np.float16))[0].dtype == np.float16
