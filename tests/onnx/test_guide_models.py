"""The user guide's models through ONNX equal the numpy reference at batch 1 and 7 (one file,
dynamic batch); reduced sizes by default, the guide's full sizes behind `slow`."""

from __future__ import annotations

import onnx
import pytest

from tests.fixtures import factories
from tests.onnx.util import check_parity

SMALL = ["mlp", "sequential_mlp", "cnn", "headline", "shared_lstm", "inception", "residual", "shared_vision",
         "vqa", "video_qa", "time_distributed_mlp"]


@pytest.mark.parametrize("name", SMALL)
def test_guide_model_matches_numpy_reference(name, tmp_path) -> None:
    check_parity(getattr(factories, name)(), tmp_path)


def test_headline_io_names_and_batch_dim(tmp_path) -> None:
    path = check_parity(factories.headline(), tmp_path)
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["main_input", "aux_input"]
    assert [o.name for o in graph.output] == ["main_output", "aux_output"]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32
    for value in list(graph.input) + list(graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"


def test_shared_layers_share_one_initializer(tmp_path) -> None:
    for model, shared in ((factories.shared_lstm(), "W"), (factories.shared_vision(), "kernel:oihw")):
        path = check_parity(model, tmp_path, batches=(2,))
        names = [t.name for t in onnx.load(str(path)).graph.initializer]
        assert len(names) == len(set(names))
        assert sum(n.endswith(shared) for n in names) == (1 if shared == "W" else 2), names


@pytest.mark.parametrize(("level", "transposes"), [("O0", 4), ("O2", 2)])
def test_conv_chain_has_only_boundary_transposes(tmp_path, level, transposes) -> None:
    """O0: NHWC<->NCHW pairs between consecutive convolutions cancel in the lowering (one entry,
    three towers back to NHWC); O2: the layout pass sinks them through the Concat (in and out)."""
    path = check_parity(factories.inception(), tmp_path, batches=(1,), optimize=level)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Conv") == 5
    assert ops.count("Transpose") == transposes


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception", "residual"])
def test_full_size_conv_models(name, tmp_path) -> None:
    model = getattr(factories, name)(size=256, **({"filters": 64} if name == "inception" else {}))
    check_parity(model, tmp_path, batches=(1, 2))


@pytest.mark.slow
def test_full_size_shared_lstm_and_headline(tmp_path) -> None:
    check_parity(factories.shared_lstm(steps=280, features=256, units=64), tmp_path, batches=(1, 7))
    check_parity(factories.headline(vocab=10000, length=100, embed=512, units=32), tmp_path, batches=(1, 7))


@pytest.mark.slow
def test_full_size_vqa(tmp_path) -> None:
    check_parity(factories.vqa("full"), tmp_path, batches=(1, 2))


def test_embedding_to_lstm_transposes_the_ids_not_the_vectors(tmp_path) -> None:
    path = check_parity(factories.headline(), tmp_path, batches=(3,))
    nodes = onnx.load(str(path)).graph.node
    transposes = [n for n in nodes if n.op_type == "Transpose"]
    assert [list(t.input) for t in transposes] == [["main_input"]]
    assert [n.op_type for n in nodes].count("Gather") == 1
