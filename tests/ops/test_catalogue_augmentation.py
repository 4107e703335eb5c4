"""The image augmentation layers (RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
RandomContrast) against Keras 3: same arguments and configs; identities at inference on every
backend (and gone after the O1 cleanup); while training on the TensorFlow backend, Keras'
transforms: equal to Keras where the draw is fixed (a degenerate factor range), the documented
distribution otherwise, fresh per step and per image, repeatable for a seed and step."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.backends.tensorflow.program import Program  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402
from kir.passes import run_pipeline  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

CASES = {
    "flip": ("RandomFlip", {}),
    "flip_horizontal": ("RandomFlip", {"mode": "horizontal", "seed": 3}),
    "rotation": ("RandomRotation", {"factor": 0.2}),
    "rotation_range": ("RandomRotation", {"factor": (-0.1, 0.3), "fill_mode": "constant", "fill_value": 1.0,
                                          "interpolation": "nearest"}),
    "zoom": ("RandomZoom", {"height_factor": 0.2}),
    "zoom_both": ("RandomZoom", {"height_factor": (-0.3, 0.1), "width_factor": 0.2, "fill_mode": "wrap"}),
    "translation": ("RandomTranslation", {"height_factor": 0.1, "width_factor": (-0.2, 0.3)}),
    "contrast": ("RandomContrast", {"factor": 0.5}),
    "contrast_range": ("RandomContrast", {"factor": (0.1, 0.4), "value_range": (0, 1)}),
}
SHAPE = (6, 5, 3)


def images(batch: int, shape=SHAPE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, size=(batch, *shape)).astype(np.float32)


def train_forward(layer, x: np.ndarray, step: int = 0) -> np.ndarray:
    """The layer's output on x in a TensorFlow training forward pass at training step `step`."""
    inp = L.Input(x.shape[1:])
    program = Program(kir.Model(inp, layer(inp)).to_graph())
    program.step_seed.assign_add(step)
    (y,) = program.forward([tf.constant(x)], training=True)
    return y.numpy()


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_shape_and_inference_match_keras(case):
    name, kwargs = CASES[case]
    layer = getattr(L, name)(**kwargs)
    klayer = getattr(keras.layers, name)(**kwargs)
    y = layer(L.Input(SHAPE))
    assert tuple(y.shape) == tuple(klayer.compute_output_shape((None, *SHAPE)))
    config = layer.get_config()
    assert set(config) - {"name"} <= set(klayer.get_config())
    assert getattr(L, name).from_config(config).get_config() == config
    inp = L.Input(SHAPE)
    model = kir.Model(inp, getattr(L, name)(**kwargs)(inp))
    x = images(7)
    want = keras.ops.convert_to_numpy(klayer(x, training=False))
    for backend in ("numpy", "tensorflow"):
        np.testing.assert_array_equal(model.predict(x, backend=backend), want)
    optimized, _ = run_pipeline(model.to_graph(), "inference", level="O1")
    assert {optimized.vertex(v).op for v in optimized.vertex_ids()} <= {"Input", "Identity"}


# Degenerate factor ranges fix the draw, so Keras' training output is known exactly.
FIXED = [
    ("RandomRotation", {"factor": (0.25, 0.25)}),
    ("RandomRotation", {"factor": (0.1, 0.1), "fill_mode": "constant", "fill_value": 3.0}),
    ("RandomRotation", {"factor": (-0.05, -0.05), "interpolation": "nearest", "fill_mode": "nearest"}),
    ("RandomZoom", {"height_factor": (0.3, 0.3)}),
    ("RandomZoom", {"height_factor": (-0.4, -0.4), "width_factor": (0.2, 0.2), "fill_mode": "wrap"}),
    ("RandomTranslation", {"height_factor": (0.2, 0.2), "width_factor": (-0.3, -0.3)}),
    ("RandomTranslation", {"height_factor": (-0.1, -0.1), "width_factor": (0.5, 0.5), "fill_mode": "constant"}),
    ("RandomContrast", {"factor": (0.0, 0.0)}),
]


@pytest.mark.parametrize("name, kwargs", FIXED)
def test_fixed_draws_train_like_keras(name, kwargs):
    x = images(3)
    got = train_forward(getattr(L, name)(**kwargs), x)
    want = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(x, training=True))
    assert_close(got, want, rtol=1e-5)


def test_channels_first_rotation_trains_like_keras():
    x = np.moveaxis(images(2), -1, 1)
    kwargs = {"factor": (0.2, 0.2), "data_format": "channels_first"}
    want = keras.ops.convert_to_numpy(keras.layers.RandomRotation(**kwargs)(x, training=True))
    assert_close(train_forward(L.RandomRotation(**kwargs), x), want, rtol=1e-5)


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_random_flip_flips_half_the_images(mode):
    x = images(400, (4, 3, 1))
    y = train_forward(L.RandomFlip(mode, seed=5), x)
    flipped = {"horizontal": x[:, :, ::-1], "vertical": x[:, ::-1], "horizontal_and_vertical": x[:, ::-1, ::-1]}[mode]
    same = np.all(y == x, axis=(1, 2, 3))
    turned = np.all(y == flipped, axis=(1, 2, 3))
    assert np.all(same | turned)
    assert 0.4 < turned.mean() < 0.6


def test_draws_are_per_image_per_step_and_repeatable():
    x = np.repeat(images(1), 64, axis=0)
    first = train_forward(L.RandomRotation(0.3, seed=7), x)
    assert len({first[i].tobytes() for i in range(64)}) == 64  # one angle per image
    np.testing.assert_array_equal(train_forward(L.RandomRotation(0.3, seed=7), x), first)
    assert not np.array_equal(train_forward(L.RandomRotation(0.3, seed=7), x, step=1), first)
    assert not np.array_equal(train_forward(L.RandomRotation(0.3, seed=8), x), first)


def test_random_contrast_factor_distribution():
    x = images(2000, (3, 3, 1))
    y = train_forward(L.RandomContrast((0.2, 0.6), value_range=(-1e6, 1e6), seed=1), x)
    mean = x.mean(axis=(1, 2), keepdims=True)
    c = ((y - mean) / (x - mean)).reshape(2000, -1).mean(axis=1)
    assert c.min() >= 0.8 - 1e-4 and c.max() <= 1.6 + 1e-4  # U(1 - 0.2, 1 + 0.6)
    assert abs(c.mean() - 1.2) < 0.02 and abs(c.std() - 0.8 / np.sqrt(12)) < 0.02
    clipped = train_forward(L.RandomContrast(0.9, seed=1), x)
    assert clipped.min() >= 0 and clipped.max() <= 255


def test_random_translation_shift_distribution():
    """An image with one bright pixel: the pixel moves by U(range) * size, as Keras' formula says."""
    x = np.zeros((500, 21, 21, 1), np.float32)
    x[:, 10, 10] = 1.0
    y = train_forward(L.RandomTranslation((0.0, 0.2), (-0.2, 0.0), fill_mode="constant",
                                          interpolation="nearest", seed=2), x)
    rows, cols = np.unravel_index(y.reshape(500, -1).argmax(axis=1), (21, 21))
    assert rows.min() >= 10 and rows.max() <= 10 + 5 and cols.min() >= 10 - 5 and cols.max() <= 10
    assert abs((rows - 10).mean() - 2.1) < 0.3 and abs((cols - 10).mean() + 2.1) < 0.3


def test_arguments_are_checked():
    with pytest.raises(ConfigError, match="RandomFlip 'f': mode"):
        L.RandomFlip("diagonal", name="f")
    with pytest.raises(ConfigError, match="factor"):
        L.RandomRotation(1.5)
    with pytest.raises(ConfigError, match="height_factor"):
        L.RandomZoom(-1.0)
    with pytest.raises(ConfigError, match="fill_mode"):
        L.RandomTranslation(0.1, 0.1, fill_mode="mirror")
    with pytest.raises(ConfigError, match="value_range"):
        L.RandomContrast(0.2, value_range=(1, 0))
    with pytest.raises(ShapeError, match="layer 'r' .*rank-4"):
        L.RandomRotation(0.1, name="r")(L.Input((5, 3)))


def test_model_with_augmentation_trains_and_exports_without_it(tmp_path):
    import onnx

    x = L.Input((8, 8, 3), name="image")
    y = L.RandomFlip(seed=1)(L.RandomContrast(0.2, seed=2)(x))
    y = L.RandomZoom(0.1, seed=3)(L.RandomTranslation(0.1, 0.1, seed=4)(L.RandomRotation(0.1, seed=5)(y)))
    y = L.Dense(2)(L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(L.Rescaling(1 / 255)(y))))
    model = kir.Model(x, y)
    rng = np.random.default_rng(0)
    xs, ys = images(32, (8, 8, 3)), rng.normal(size=(32, 2)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(xs, ys, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.export(str(tmp_path / "m.onnx"))
    ops = {n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    assert not ops & {"Identity", "RandomUniform", "RandomUniformLike"}
    assert_close(model.predict(xs, backend="onnx"), model.predict(xs), rtol=1e-5)


def test_keras_files_with_augmentation_load_and_save(tmp_path):
    from kir.models import load_model

    kx = keras.Input(SHAPE)
    ky = kx
    for name, kwargs in CASES.values():
        ky = getattr(keras.layers, name)(**kwargs)(ky)
    kmodel = keras.Model(kx, keras.layers.Conv2D(2, 3)(ky))
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    x = images(7)
    want = kmodel.predict(x, verbose=0)
    assert_close(model.predict(x), want, rtol=1e-4)
    model.save(str(tmp_path / "kir.keras"))
    assert_close(keras.models.load_model(tmp_path / "kir.keras").predict(x, verbose=0), want, rtol=1e-4)


def test_summary_matches_keras():
    from tests.models.test_summary import rows

    def build(lib, layers):
        x = layers.Input(SHAPE, name="image")
        y = x
        for i, (name, kwargs) in enumerate(CASES.values()):
            y = getattr(layers, name)(name=f"aug_{i}", **kwargs)(y)
        return lib(x, y, name="augment")

    ours, theirs = [], []
    build(kir.Model, L).summary(line_length=78, print_fn=ours.append)
    build(keras.Model, keras.layers).summary(line_length=78, print_fn=lambda t, **_: theirs.append(t))
    theirs = "".join(theirs).rstrip("\n").split("\n")
    assert rows(ours) == rows(theirs) and ours[-3:] == theirs[-3:]
