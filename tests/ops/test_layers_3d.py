"""Conv3D, MaxPooling3D/AveragePooling3D and GlobalMaxPooling3D/GlobalAveragePooling3D against Keras 3:
the same arguments, weight layout (kd, kh, kw, in, out) and order; shape rules, the numpy reference and
the TensorFlow backend give Keras' outputs (weights copied, batch 1 and 3), channels_last and
channels_first; .kir and .keras files round-trip. ONNX parity: tests/onnx/test_layers_3d.py."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.errors import ShapeError  # noqa: E402
from kir.ir.ops import infer  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from kir.models import load_model  # noqa: E402
from tests.fixtures.factories import randomize  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.ops.test_new_layers import feeds  # noqa: E402

# (layer class name, constructor arguments, input shape without batch): the same call builds the
# kir layer and the Keras one.
CASES = {
    "conv3d_valid": ("Conv3D", {"filters": 3, "kernel_size": 2}, (3, 4, 5, 2)),
    "conv3d_same_strided": ("Conv3D", {"filters": 4, "kernel_size": (2, 3, 2), "strides": (1, 2, 2),
                                       "padding": "same", "activation": "relu"}, (4, 5, 6, 2)),
    "conv3d_dilated_no_bias": ("Conv3D", {"filters": 2, "kernel_size": 2, "dilation_rate": (2, 1, 2),
                                          "use_bias": False, "activation": "tanh"}, (5, 4, 6, 3)),
    "conv3d_same_dilated": ("Conv3D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
                            (4, 5, 5, 2)),
    "conv3d_channels_first": ("Conv3D", {"filters": 3, "kernel_size": (1, 2, 3), "strides": 2, "padding": "same",
                                         "data_format": "channels_first"}, (2, 4, 5, 6)),
    "max_pooling3d": ("MaxPooling3D", {}, (4, 5, 6, 2)),
    "max_pooling3d_same": ("MaxPooling3D", {"pool_size": (2, 2, 3), "strides": (1, 2, 2), "padding": "same"},
                           (3, 5, 7, 2)),
    "max_pooling3d_channels_first": ("MaxPooling3D", {"pool_size": 2, "strides": 1,
                                                      "data_format": "channels_first"}, (2, 3, 4, 5)),
    "average_pooling3d": ("AveragePooling3D", {"pool_size": (2, 1, 2)}, (4, 3, 5, 2)),
    "average_pooling3d_same": ("AveragePooling3D", {"pool_size": 3, "strides": 2, "padding": "same"}, (4, 5, 6, 2)),
    "average_pooling3d_channels_first": ("AveragePooling3D", {"pool_size": 2, "padding": "same",
                                                              "data_format": "channels_first"}, (2, 3, 5, 4)),
    "global_max_pooling3d": ("GlobalMaxPooling3D", {}, (3, 4, 5, 2)),
    "global_max_pooling3d_keepdims": ("GlobalMaxPooling3D", {"keepdims": True}, (3, 4, 5, 2)),
    "global_average_pooling3d": ("GlobalAveragePooling3D", {}, (3, 4, 5, 2)),
    "global_average_pooling3d_first_keepdims": ("GlobalAveragePooling3D", {"keepdims": True,
                                                                           "data_format": "channels_first"},
                                                (2, 3, 4, 5)),
}


def pair(case: str):
    """(kir model, Keras' predict as a function of x) of one layer, kir's random weights copied into Keras.

    Keras 3 on TensorFlow's CPU runs a channels_first Conv3D through XLA, and adding the bias to that
    result gives wrong values (the convolution alone is right); so a channels_first Conv3D is checked
    against Keras' channels_last Conv3D (the same weights) on the moved axes."""
    name, kwargs, shape = CASES[case]
    x = L.Input(shape, name="x")
    layer = getattr(L, name)(**kwargs)
    model = randomize(kir.Model(x, layer(x), name="m"), seed=1)
    moved = name == "Conv3D" and kwargs.get("data_format") == "channels_first"
    kx = keras.Input((*shape[1:], shape[0]) if moved else shape)
    klayer = getattr(keras.layers, name)(**{**kwargs, "data_format": "channels_last"} if moved else kwargs)
    kmodel = keras.Model(kx, klayer(kx))
    assert [w.shape for w in klayer.get_weights()] == [w.shape for w in layer.get_weights()]
    klayer.set_weights(layer.get_weights())
    if moved:
        return model, lambda xs: np.moveaxis(kmodel.predict(np.moveaxis(xs, 1, -1), verbose=0), -1, 1)
    return model, lambda xs: kmodel.predict(xs, verbose=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_shape_rule_matches_keras(case):
    name, kwargs, shape = CASES[case]
    expected = getattr(keras.layers, name)(**kwargs).compute_output_shape((None, *shape))
    assert tuple(getattr(L, name)(**kwargs)(L.Input(shape)).shape) == tuple(expected)


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_keras(case, backend):
    model, keras_predict = pair(case)
    for x in (feeds(CASES[case][2], 1), feeds(CASES[case][2], 3)):
        assert_close(model.predict(x, backend=backend), keras_predict(x), rtol=1e-5)


def test_conv3d_kernel_layout_and_aliases_are_keras():
    layer = L.Conv3D(5, (2, 3, 4))
    layer(L.Input((6, 6, 6, 7)))
    assert [w.shape for w in layer.get_weights()] == [(2, 3, 4, 7, 5), (5,)]
    assert L.Convolution3D is L.Conv3D and L.MaxPool3D is L.MaxPooling3D and L.AvgPool3D is L.AveragePooling3D
    assert L.GlobalAvgPool3D is L.GlobalAveragePooling3D and L.GlobalMaxPool3D is L.GlobalMaxPooling3D
    assert L.MaxPooling3D().pool_size == L.AveragePooling3D((2, 2, 2)).pool_size == [2, 2, 2]
    assert L.MaxPooling3D().name.startswith("max_pooling3d") and L.Conv3D(1, 1).name.startswith("conv3d")


def test_shape_rules_check_inputs():
    attrs = {"filters": 2, "kernel_size": [2, 2, 2], "padding": "valid"}
    with pytest.raises(ShapeError, match="depth, rows, cols"):
        infer("Conv3D", attrs, [TensorSpec((None, 4, 4, 3), "float32")])
    with pytest.raises(ShapeError, match="channels"):
        infer("Conv3D", attrs, [TensorSpec((None, 4, 4, 4, 3), "float32")], {"kernel": (2, 2, 2, 5, 2)})
    with pytest.raises(ShapeError, match="does not fit"):
        infer("MaxPooling3D", {"pool_size": [2, 2, 2]}, [TensorSpec((None, 4, 1, 4, 3), "float32")])
    with pytest.raises(ShapeError, match="rank"):
        L.GlobalAveragePooling3D()(L.Input((3, 4, 5)))
    (spec,) = infer("Conv3D", {**attrs, "data_format": "channels_first", "padding": "same", "strides": [2, 1, 2]},
                    [TensorSpec((None, 3, 5, 4, 7), "float32")])
    assert spec.shape == (None, 2, 3, 4, 4)


def _volume_model() -> kir.Model:
    """A small 3-D network with every new layer, channels_last and channels_first mixed."""
    x = L.Input((6, 7, 8, 2), name="volume")
    y = L.Conv3D(4, 3, padding="same", activation="relu", name="c1")(x)
    y = L.BatchNormalization(name="bn")(y)
    y = L.MaxPooling3D(name="p1")(y)
    a = L.Conv3D(3, (1, 2, 2), strides=(1, 1, 2), name="c2")(y)
    a = L.AveragePooling3D((1, 2, 2), padding="same", name="p2")(a)
    b = L.GlobalAveragePooling3D(name="gap")(y)
    c = L.GlobalMaxPooling3D(keepdims=True, name="gmp")(y)
    z = L.Dense(5, activation="softmax", name="head")(L.Concatenate(name="cat")([L.Flatten(name="flat")(a), b]))
    return randomize(kir.Model(x, [z, c], name="volumes"), seed=3)


def test_kir_file_round_trip(tmp_path):
    model = _volume_model()
    model.save(str(tmp_path / "v.kir"))
    loaded = load_model(str(tmp_path / "v.kir"))
    xs = feeds((6, 7, 8, 2), 3)
    for got, want in zip(loaded.predict(xs), model.predict(xs)):
        np.testing.assert_array_equal(got, want)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]


def test_keras_file_with_3d_layers_loads(tmp_path):
    kx = keras.Input((6, 7, 8, 2))
    y = keras.layers.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding="same", activation="elu", name="c1")(kx)
    y = keras.layers.MaxPooling3D((2, 2, 2), padding="same", name="p1")(y)
    a = keras.layers.Conv3D(2, (2, 1, 2), dilation_rate=(1, 1, 2), use_bias=False, name="c2")(y)
    a = keras.layers.AveragePooling3D((1, 2, 1), name="p2")(a)
    f = keras.layers.Conv3D(2, 2, data_format="channels_first", name="cf")(keras.layers.Permute((4, 1, 2, 3))(y))
    b = keras.layers.GlobalAveragePooling3D(name="gap")(y)
    c = keras.layers.GlobalMaxPooling3D(keepdims=True, name="gmp")(a)
    kmodel = keras.Model(kx, [a, b, c, f])
    rng = np.random.default_rng(0)
    kmodel.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3 for w in kmodel.get_weights()])
    kmodel.save(tmp_path / "m.keras")
    model = load_model(tmp_path / "m.keras")
    x = feeds((6, 7, 8, 2), 3)
    for got, want in zip(model.predict(x), kmodel.predict(x, verbose=0)):
        assert_close(got, want, rtol=1e-4)


def test_saved_keras_file_with_3d_layers_opens_in_keras(tmp_path):
    model = _volume_model()
    model.save(str(tmp_path / "m.keras"))
    kmodel = keras.models.load_model(tmp_path / "m.keras")
    xs = feeds((6, 7, 8, 2), 3)
    for got, want in zip(kmodel.predict(xs, verbose=0), model.predict(xs)):
        assert_close(got, want, rtol=1e-4)


def test_volume_model_on_every_backend():
    model = _volume_model()
    xs = feeds((6, 7, 8, 2), 3)
    want = model.predict(xs)
    for backend in ("tensorflow", "onnx"):
        for got, expected in zip(model.predict(xs, backend=backend), want):
            assert_close(got, expected, rtol=1e-5)


def test_conv3d_model_trains():
    x = L.Input((4, 5, 6, 2))
    y = L.Conv3D(3, 2, padding="same", activation="relu")(x)
    y = L.GlobalAveragePooling3D()(L.AveragePooling3D()(L.MaxPooling3D((1, 1, 1))(y)))
    model = randomize(kir.Model(x, L.Dense(1)(y)), seed=0)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(16, 4, 5, 6, 2)).astype(np.float32)
    ys = rng.normal(size=(16, 1)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    history = model.fit(xs, ys, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
