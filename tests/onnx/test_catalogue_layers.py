"""Issue 12's depthwise/separable convolutions, activation layers, activation names and
preprocessing layers through ONNX: the exported file (dynamic batch, O0 and O2) equals the numpy
reference at batch 1 and 7 (which equals Keras: tests/ops/test_catalogue_layers.py); at O2 the
layout pass runs a MobileNet block channels_first with BatchNormalization folded away."""

from __future__ import annotations

import onnx
import pytest

import kir
from kir import layers as L
from kir.activations import NAMES
from kir.backends.onnx import MAX_OPSET, MIN_OPSET
from kir.passes import run_pipeline
from tests.fixtures.factories import randomize
from tests.onnx.util import check_parity
from tests.ops.test_catalogue_layers import CASES


def single(case: str) -> kir.Model:
    name, kwargs, shape = CASES[case]
    x = L.Input(shape, name="x")
    return randomize(kir.Model(x, getattr(L, name)(**kwargs)(x), name="m"), seed=2)


def _ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("optimize", ["O0", "O2"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_numpy_reference(case, optimize, tmp_path) -> None:
    path = check_parity(single(case), tmp_path, optimize=optimize)
    ops = _ops(path)
    name = CASES[case][0]
    if name.startswith("Depthwise"):
        conv = next(n for n in onnx.load(str(path)).graph.node if n.op_type == "Conv")
        assert {a.name: a.i for a in conv.attribute}["group"] == CASES[case][2][-1]
    if name.startswith("Separable"):
        assert ops.count("Conv") == 2
    if name == "Identity" and optimize == "O2":
        assert ops == ["Identity"] or ops == []


@pytest.mark.parametrize("opset", [MIN_OPSET, MAX_OPSET])
def test_every_activation_name_matches_numpy_reference(opset, tmp_path) -> None:
    x = L.Input((6,), name="x")
    model = kir.Model(x, [L.Activation(n, name=f"act_{n}")(x) for n in NAMES], name="acts")
    check_parity(model, tmp_path, opset=opset)


def _mobilenet_block() -> kir.Model:
    """MobileNet-style: depthwise -> BN -> ReLU6 -> 1x1 conv -> BN, a separable conv with BN and relu,
    a PReLU and a softmax head."""
    x = L.Input((12, 12, 3), name="image")
    y = L.Rescaling(1 / 127.5, offset=-1.0)(x)
    y = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False)(y)
    y = L.ReLU(6.0)(L.BatchNormalization()(y))
    y = L.BatchNormalization()(L.Conv2D(8, 1, use_bias=False)(y))
    y = L.SeparableConv2D(8, 3, strides=2, padding="same")(y)
    y = L.Activation("relu")(L.BatchNormalization()(y))
    y = L.DepthwiseConv2D(3)(y)
    y = L.Activation("hard_swish")(L.BatchNormalization()(y))
    y = L.GlobalAveragePooling2D()(y)
    return randomize(kir.Model(x, L.Dense(4, activation="softmax")(y), name="mobilenet"), seed=3)


@pytest.mark.parametrize("optimize", ["O0", "O1", "O2"])
def test_mobilenet_block_with_the_o2_pipeline(optimize, tmp_path) -> None:
    model = _mobilenet_block()
    ops = _ops(check_parity(model, tmp_path, optimize=optimize))
    assert ops.count("Conv") == 5
    if optimize == "O2":
        assert "BatchNormalization" not in ops
        assert ops.count("Transpose") <= 2  # NCHW from the first conv to the pooling
        graph, _ = run_pipeline(model.to_graph(), "inference", level="O2")
        vertices = [graph.vertex(v) for v in graph.vertex_ids()]
        assert not {"BatchNormalization", "ReLU", "Activation"} & {v.op for v in vertices}  # folded and fused
        assert [v.attrs["activation"] for v in vertices if "Conv" in v.op] == [
            "relu6", "linear", "relu", "hard_silu"]


@pytest.mark.parametrize("optimize", ["O0", "O2"])
def test_augmentation_layers_vanish_from_the_file(optimize, tmp_path) -> None:
    x = L.Input((6, 5, 3), name="image")
    y = L.RandomFlip()(L.RandomRotation(0.2)(L.RandomZoom(0.1)(L.RandomTranslation(0.1, 0.2)(x))))
    y = L.Conv2D(2, 3)(L.RandomContrast(0.3)(y))
    ops = _ops(check_parity(randomize(kir.Model(x, y, name="augmented")), tmp_path, optimize=optimize))
    assert "Conv" in ops and not {"Identity", "RandomUniformLike", "RandomUniform"} & set(ops)


@pytest.mark.parametrize("optimize", ["O0", "O2"])
def test_batch_norm_folds_into_following_valid_depthwise_convs(optimize, tmp_path) -> None:
    x = L.Input((9, 9, 3), name="image")
    y = L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)(L.BatchNormalization()(x))
    y = L.SeparableConv2D(4, 3, strides=2)(L.BatchNormalization()(y))
    z = L.SeparableConv1D(2, 2, padding="same")(L.BatchNormalization()(L.Reshape((-1, 4))(y)))
    model = randomize(kir.Model(x, [y, z], name="bn_first"), seed=6)
    check_parity(model, tmp_path, optimize=optimize)
    graph, _ = run_pipeline(model.to_graph(), "inference", level=optimize)
    ops = [graph.vertex(v).op for v in graph.vertex_ids()]
    assert ops.count("BatchNormalization") == (3 if optimize == "O0" else 1)  # 'same' padding keeps its BN
