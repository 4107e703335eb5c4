"""Conv1DTranspose/Conv2DTranspose, UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D, ELU and the noise
layers (GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D/2D) against Keras 3: the same
arguments, weight layout and order; shape rules, the numpy reference and the TensorFlow backend give
Keras' outputs (weights copied, batch 1 and 7); the noise layers are identities at inference and, on
the TensorFlow training backend, have the mean and variance of Keras' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.backends.tensorflow.program import Program  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402
from kir.ir.ops import infer  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from kir.passes import run_pipeline  # noqa: E402
from tests.fixtures.factories import randomize  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

# (layer class name, constructor arguments, input shape without batch): the same call builds the
# kir layer and the Keras one.
CASES = {
    "conv2d_transpose_valid": ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, (5, 6, 3)),
    "conv2d_transpose_same_s2": ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2,
                                                     "padding": "same", "activation": "relu"}, (5, 6, 3)),
    "conv2d_transpose_valid_s3_k2": ("Conv2DTranspose", {"filters": 2, "kernel_size": (2, 3), "strides": (3, 2)},
                                     (4, 5, 3)),
    "conv2d_transpose_out_pad": ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2,
                                                     "output_padding": 1, "use_bias": False}, (4, 4, 2)),
    "conv2d_transpose_same_out_pad": ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": (2, 3),
                                                          "padding": "same", "output_padding": (1, 2),
                                                          "activation": "tanh"}, (4, 5, 2)),
    "conv2d_transpose_even_kernel_same": ("Conv2DTranspose", {"filters": 3, "kernel_size": 4, "strides": 2,
                                                              "padding": "same"}, (3, 5, 2)),
    "conv1d_transpose_valid": ("Conv1DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2}, (6, 3)),
    "conv1d_transpose_same": ("Conv1DTranspose", {"filters": 2, "kernel_size": 5, "padding": "same",
                                                  "activation": "sigmoid"}, (7, 3)),
    "conv1d_transpose_out_pad": ("Conv1DTranspose", {"filters": 2, "kernel_size": 3, "strides": 3,
                                                     "output_padding": 2}, (5, 2)),
    "upsampling2d_nearest": ("UpSampling2D", {"size": (2, 3)}, (3, 4, 2)),
    "upsampling2d_bilinear": ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (3, 4, 2)),
    "upsampling2d_bilinear_3x2": ("UpSampling2D", {"size": (3, 2), "interpolation": "bilinear"}, (4, 5, 3)),
    "upsampling1d": ("UpSampling1D", {"size": 3}, (4, 2)),
    "zero_padding2d": ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, (3, 4, 2)),
    "zero_padding2d_int": ("ZeroPadding2D", {"padding": 1}, (3, 4, 2)),
    "zero_padding1d": ("ZeroPadding1D", {"padding": (2, 1)}, (4, 3)),
    "cropping2d": ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, (5, 6, 2)),
    "cropping2d_int": ("Cropping2D", {"cropping": 1}, (5, 6, 2)),
    "cropping1d": ("Cropping1D", {"cropping": (1, 2)}, (6, 3)),
    "elu": ("ELU", {}, (3, 5)),
    "elu_alpha": ("ELU", {"alpha": 0.3}, (3, 5)),
    "gaussian_noise": ("GaussianNoise", {"stddev": 0.5}, (3, 5)),
    "gaussian_dropout": ("GaussianDropout", {"rate": 0.4}, (3, 5)),
    "alpha_dropout": ("AlphaDropout", {"rate": 0.2}, (3, 5)),
    "spatial_dropout1d": ("SpatialDropout1D", {"rate": 0.3}, (4, 5)),
    "spatial_dropout2d": ("SpatialDropout2D", {"rate": 0.3}, (3, 4, 5)),
}


def pair(case: str):
    """(kir model, Keras model) of one layer, kir's random weights copied into Keras."""
    name, kwargs, shape = CASES[case]
    x = L.Input(shape, name="x")
    layer = getattr(L, name)(**kwargs)
    model = randomize(kir.Model(x, layer(x), name="m"), seed=1)
    kx = keras.Input(shape)
    klayer = getattr(keras.layers, name)(**kwargs)
    kmodel = keras.Model(kx, klayer(kx))
    assert [w.shape for w in klayer.get_weights()] == [w.shape for w in layer.get_weights()]
    klayer.set_weights(layer.get_weights())
    return model, kmodel


def feeds(shape, batch: int) -> np.ndarray:
    return np.random.default_rng(batch).normal(size=(batch, *shape)).astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_shape_rule_matches_keras(case):
    name, kwargs, shape = CASES[case]
    layer = getattr(L, name)(**kwargs)
    x = L.Input(shape)
    y = layer(x)
    expected = getattr(keras.layers, name)(**kwargs).compute_output_shape((None, *shape))
    assert tuple(y.shape) == tuple(expected)
    assert layer.get_config()["name"] == layer.name


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_keras(case, backend):
    model, kmodel = pair(case)
    shape = CASES[case][2]
    for batch in (1, 7):
        x = feeds(shape, batch)
        assert_close(model.predict(x, backend=backend), kmodel.predict(x, verbose=0), rtol=1e-5)


def test_transposed_kernel_layout_is_keras():
    layer = L.Conv2DTranspose(5, (2, 3))
    layer(L.Input((4, 4, 7)))
    assert [w.shape for w in layer.get_weights()] == [(2, 3, 5, 7), (5,)]
    assert L.Conv1DTranspose(2, 3, use_bias=False).get_config()["use_bias"] is False


def test_shape_rules_check_inputs():
    attrs = {"filters": 2, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid"}
    with pytest.raises(ShapeError, match="rank"):
        infer("Conv2DTranspose", attrs, [TensorSpec((None, 4, 3), "float32")])
    with pytest.raises(ShapeError, match="channels"):
        infer("Conv2DTranspose", attrs, [TensorSpec((None, 4, 4, 3), "float32")], {"kernel": (3, 3, 2, 5)})
    with pytest.raises(ShapeError, match="empty"):
        infer("Cropping1D", {"cropping": [[2, 2]]}, [TensorSpec((None, 4, 3), "float32")])
    (spec,) = infer("UpSampling2D", {"size": [2, 3], "data_format": "channels_first"},
                    [TensorSpec((None, 3, 4, 5), "float32")])
    assert spec.shape == (None, 3, 8, 15)


def test_arguments_are_checked():
    with pytest.raises(ConfigError, match="output_padding"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ConfigError, match="dilation_rate"):
        L.Conv2DTranspose(2, 3, dilation_rate=2)
    with pytest.raises(ConfigError, match="interpolation"):
        L.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ConfigError, match="padding"):
        L.ZeroPadding2D(((1, 2, 3), 1))
    with pytest.raises(ConfigError, match="stddev"):
        L.GaussianNoise(2.0)
    with pytest.raises(ShapeError, match="rank 4"):
        L.SpatialDropout2D(0.5)(L.Input((3, 4)))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_channels_first_layers_match_keras(data_format):
    x = feeds((4, 6, 5), 3)
    for name, kwargs in [("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}),
                         ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}),
                         ("ZeroPadding2D", {"padding": (1, 2)}), ("Cropping2D", {"cropping": ((1, 0), (0, 2))})]:
        layer = getattr(L, name)(data_format=data_format, **kwargs)
        inp = L.Input((4, 6, 5))
        model = randomize(kir.Model(inp, layer(inp)))
        klayer = getattr(keras.layers, name)(data_format=data_format, **kwargs)
        klayer.build(x.shape)
        klayer.set_weights(layer.get_weights())
        expected = keras.ops.convert_to_numpy(klayer(x))
        for backend in ("numpy", "tensorflow"):
            assert_close(model.predict(x, backend=backend), expected, rtol=1e-5)


# ---------------------------------------------------------------- noise layers

NOISE = ["gaussian_noise", "gaussian_dropout", "alpha_dropout", "spatial_dropout1d", "spatial_dropout2d"]


@pytest.mark.parametrize("case", NOISE)
def test_noise_layers_vanish_at_inference(case):
    model, _ = pair(case)
    x = feeds(CASES[case][2], 7)
    for backend in ("numpy", "tensorflow"):
        np.testing.assert_array_equal(model.predict(x, backend=backend), x)
    graph = model.to_graph()
    optimized, _ = run_pipeline(graph, "inference", level="O1")
    assert {optimized.vertex(v).op for v in optimized.vertex_ids()} <= {"Input", "Identity"}


def _train_forward(layer, x: np.ndarray) -> np.ndarray:
    """The layer's output on x in a TensorFlow training forward pass (first and second step)."""
    inp = L.Input(x.shape[1:])
    program = Program(kir.Model(inp, layer(inp)).to_graph())
    (first,) = program.forward([tf.constant(x)], training=True)
    program.step_seed.assign_add(1)
    (second,) = program.forward([tf.constant(x)], training=True)
    assert not np.array_equal(first.numpy(), second.numpy())  # fresh noise every step
    return first.numpy()


def test_gaussian_noise_statistics_while_training():
    x = np.full((200, 500), 2.0, np.float32)
    y = _train_forward(L.GaussianNoise(0.5, seed=3), x)
    noise = y - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01


def test_gaussian_dropout_statistics_while_training():
    x = np.full((200, 500), 2.0, np.float32)
    y = _train_forward(L.GaussianDropout(0.3, seed=3), x)
    assert abs(y.mean() - 2.0) < 0.02 and abs(y.std() - 2.0 * math.sqrt(0.3 / 0.7)) < 0.02


def test_alpha_dropout_keeps_selu_statistics_while_training():
    x = np.random.default_rng(0).normal(size=(200, 500)).astype(np.float32)
    y = _train_forward(L.AlphaDropout(0.2, seed=3), x)
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.2) * (1 + 0.2 * alpha_p**2)) ** -0.5
    dropped = np.isclose(y, a * alpha_p - a * alpha_p * 0.2, atol=1e-6)
    assert abs(dropped.mean() - 0.2) < 0.01


@pytest.mark.parametrize("layer, shape", [(lambda: L.SpatialDropout1D(0.4, seed=2), (50, 30, 40)),
                                          (lambda: L.SpatialDropout2D(0.4, seed=2), (50, 6, 5, 40))])
def test_spatial_dropout_drops_whole_channels_while_training(layer, shape):
    x = np.ones(shape, np.float32)
    y = _train_forward(layer(), x)
    flat = y.reshape(shape[0], -1, shape[-1])
    assert np.all(flat == flat[:, :1, :])  # one draw per (sample, channel)
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.6], rtol=1e-6)
    assert abs((flat[:, 0, :] == 0).mean() - 0.4) < 0.03


def test_keras_files_with_the_new_layers_load(tmp_path):
    from kir.models import load_model

    kx = keras.Input((5, 6, 3))
    y = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1, name="up_conv")(kx)
    y = keras.layers.UpSampling2D(interpolation="bilinear", name="up")(y)
    y = keras.layers.ZeroPadding2D(1, name="pad")(y)
    y = keras.layers.Cropping2D(((1, 0), (0, 2)), name="crop")(y)
    y = keras.layers.GaussianNoise(0.1, name="noise")(y)
    y = keras.layers.SpatialDropout2D(0.2, name="sdrop")(y)
    y = keras.layers.ELU(0.5, name="elu")(y)
    z = keras.layers.Reshape((-1, 4))(y)
    z = keras.layers.Conv1DTranspose(2, 3, name="up_conv1d")(z)
    z = keras.layers.UpSampling1D(2, name="up1d")(keras.layers.ZeroPadding1D(1)(keras.layers.Cropping1D(1)(z)))
    z = keras.layers.AlphaDropout(0.1)(keras.layers.GaussianDropout(0.1)(z))
    kmodel = keras.Model(kx, [y, z])
    rng = np.random.default_rng(0)
    kmodel.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3 for w in kmodel.get_weights()])
    kmodel.save(tmp_path / "m.keras")
    model = load_model(tmp_path / "m.keras")
    x = feeds((5, 6, 3), 7)
    for got, want in zip(model.predict(x), kmodel.predict(x, verbose=0)):
        assert_close(got, want, rtol=1e-4)


def test_saved_keras_file_with_the_new_layers_opens_in_keras(tmp_path):
    x = L.Input((4, 5, 3), name="x")
    y = L.Conv2DTranspose(4, 3, strides=2, output_padding=1, activation="relu", name="up_conv")(x)
    y = L.UpSampling2D((1, 2), interpolation="bilinear", name="up")(L.ZeroPadding2D(((1, 0), (0, 2)), name="pad")(y))
    y = L.ELU(0.4, name="elu")(L.Cropping2D(1, name="crop")(L.SpatialDropout2D(0.2, name="sdrop")(y)))
    z = L.Reshape((-1, 4), name="flat")(L.GaussianNoise(0.1, name="noise")(y))
    z = L.Conv1DTranspose(2, 3, padding="same", name="up_conv1d")(L.AlphaDropout(0.1, name="adrop")(z))
    z = L.UpSampling1D(3, name="up1d")(L.Cropping1D((0, 2), name="crop1d")(L.ZeroPadding1D(2, name="pad1d")(z)))
    z = L.SpatialDropout1D(0.2, name="sdrop1d")(L.GaussianDropout(0.2, name="gdrop")(z))
    model = randomize(kir.Model(x, [y, z], name="m"), seed=5)
    model.save(str(tmp_path / "m.keras"))
    kmodel = keras.models.load_model(tmp_path / "m.keras")
    xs = feeds((4, 5, 3), 7)
    for got, want in zip(kmodel.predict(xs, verbose=0), model.predict(xs)):
        assert_close(got, want, rtol=1e-4)


def test_unknown_spatial_sizes_on_every_backend():
    x = L.Input((None, None, 3))
    y = L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1)(x)
    y = L.UpSampling2D(interpolation="bilinear")(L.ZeroPadding2D(1)(y))
    y = L.Conv2DTranspose(2, 4, strides=3)(L.Cropping2D((0, 1))(y))
    model = randomize(kir.Model(x, [y, L.UpSampling2D(3)(x)]))
    for rows, cols in [(5, 4), (3, 7)]:
        xs = feeds((rows, cols, 3), 2)
        want = model.predict(xs)
        # same + output_padding 1: x2; padding +2; bilinear x2; cropping cols -2; valid k4 s3: (n-1)*3 + 4
        assert want[0].shape == (2, ((rows * 2 + 2) * 2 - 1) * 3 + 4, ((cols * 2 + 2) * 2 - 3) * 3 + 4, 2)
        for backend in ("tensorflow", "onnx"):
            for got, expected in zip(model.predict(xs, backend=backend), want):
                assert_close(got, expected, rtol=1e-5)


def test_models_with_the_new_layers_train():
    x = L.Input((6, 5, 2))
    y = L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="elu")(L.GaussianNoise(0.1)(x))
    y = L.UpSampling2D(interpolation="bilinear")(L.SpatialDropout2D(0.2)(y))
    y = L.ELU(0.5)(L.Cropping2D(2)(L.ZeroPadding2D(1)(y)))
    y = L.Conv2D(1, 3, padding="same")(L.AlphaDropout(0.1)(L.GaussianDropout(0.1)(y)))
    model = randomize(kir.Model(x, y), seed=0)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(32, 6, 5, 2)).astype(np.float32)
    ys = rng.normal(size=(32, 22, 18, 1)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    history = model.fit(xs, ys, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
