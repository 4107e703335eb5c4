"""The transposed convolutions, UpSampling, ZeroPadding, Cropping, ELU and the noise layers through ONNX:
the exported file (dynamic batch, O0 and O2, every supported opset) equals the numpy reference at
batch 1 and 7; the numpy reference equals Keras (tests/ops/test_new_layers.py)."""

from __future__ import annotations

import onnx
import pytest

import kir
from kir import layers as L
from kir.backends.onnx import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
from tests.fixtures.factories import randomize
from tests.onnx.util import check_parity
from tests.ops.test_new_layers import CASES


def single(case: str) -> kir.Model:
    name, kwargs, shape = CASES[case]
    x = L.Input(shape, name="x")
    return randomize(kir.Model(x, getattr(L, name)(**kwargs)(x), name="m"), seed=2)


@pytest.mark.parametrize("optimize", ["O0", "O2"])
@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, MAX_OPSET])
@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_numpy_reference(case, opset, optimize, tmp_path) -> None:
    check_parity(single(case), tmp_path, opset=opset, optimize=optimize)


def _decoder() -> kir.Model:
    """A conv encoder/decoder: the layout pass runs the convolutions and transposed convolutions
    channels_first, with UpSampling, padding, cropping and merges between them."""
    x = L.Input((8, 10, 3), name="image")
    e = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    e = L.MaxPooling2D()(e)
    d = L.Conv2DTranspose(5, 3, strides=2, padding="same", activation="elu")(e)
    d = L.GaussianNoise(0.2)(L.SpatialDropout2D(0.3)(d))
    u = L.UpSampling2D(interpolation="bilinear")(e)
    u = L.Conv2D(5, 1)(u)
    m = L.Add()([d, u])
    m = L.ELU(0.7)(L.BatchNormalization()(m))
    m = L.Cropping2D(((1, 1), (0, 2)))(L.ZeroPadding2D(1)(m))
    y = L.Conv2DTranspose(2, 2, strides=2, activation="softmax")(m)
    s = L.Conv1DTranspose(3, 3, strides=2, output_padding=1)(L.Reshape((-1, 4))(e))
    s = L.UpSampling1D(2)(L.AlphaDropout(0.1)(L.GaussianDropout(0.2)(s)))
    return randomize(kir.Model(x, [y, s, L.UpSampling2D((2, 1))(m)], name="decoder"), seed=4)


@pytest.mark.parametrize("optimize", ["O0", "O1", "O2"])
def test_decoder_with_layout_pass(optimize, tmp_path) -> None:
    path = check_parity(_decoder(), tmp_path, optimize=optimize)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("ConvTranspose") == 3
    if optimize != "O0":
        assert not {"Identity", "Dropout", "RandomNormalLike", "RandomUniformLike"} & set(ops)


def test_noise_layers_leave_nothing_in_the_file(tmp_path) -> None:
    x = L.Input((6,), name="x")
    y = L.Dense(3)(x)
    for layer in (L.GaussianNoise(0.3), L.GaussianDropout(0.3), L.AlphaDropout(0.3)):
        y = layer(y)
    path = check_parity(randomize(kir.Model(x, y, name="noisy")), tmp_path)
    assert [n.op_type for n in onnx.load(str(path)).graph.node] == ["Gemm"]


@pytest.mark.parametrize("optimize", ["O0", "O2"])
def test_channels_first_layers(optimize, tmp_path) -> None:
    x = L.Input((4, 6, 5), name="x")
    y = L.Conv2DTranspose(3, 3, strides=2, padding="same", data_format="channels_first")(x)
    y = L.UpSampling2D(interpolation="bilinear", data_format="channels_first")(y)
    y = L.ZeroPadding2D((1, 2), data_format="channels_first")(y)
    y = L.Cropping2D(((1, 0), (0, 2)), data_format="channels_first")(y)
    y = L.SpatialDropout2D(0.3, data_format="channels_first")(y)
    z = L.UpSampling2D((2, 3), data_format="channels_first")(x)
    check_parity(randomize(kir.Model(x, [y, z], name="cf")), tmp_path, optimize=optimize)
