"""Issue 12's convolution, activation and preprocessing layers against Keras 3 (the oracle):
DepthwiseConv1D/2D, SeparableConv1D/2D, ReLU, LeakyReLU, PReLU, Softmax, Rescaling, Normalization,
Identity and every activation name. Same arguments, weight names/layout/order and configs; shape
rules, the numpy reference and the TensorFlow backend give Keras' outputs (weights copied, batch 1
and 7); Normalization.adapt computes Keras' statistics; .keras files load and save."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.activations import NAMES  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402
from tests.fixtures.factories import randomize  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.models.test_summary import rows  # noqa: E402

# (layer class name, constructor arguments, input shape without batch): the same call builds the
# kir layer and the Keras one.
CASES = {
    "depthwise2d": ("DepthwiseConv2D", {"kernel_size": 3}, (6, 7, 3)),
    "depthwise2d_same_s2_mult2": ("DepthwiseConv2D", {"kernel_size": (2, 3), "strides": 2, "padding": "same",
                                                      "depth_multiplier": 2, "activation": "relu6"}, (6, 7, 3)),
    "depthwise2d_dilated": ("DepthwiseConv2D", {"kernel_size": 3, "dilation_rate": 2, "padding": "same",
                                                "use_bias": False}, (6, 7, 3)),
    "depthwise2d_strided_dilated": ("DepthwiseConv2D", {"kernel_size": 3, "dilation_rate": 2, "strides": 2,
                                                        "padding": "same"}, (9, 8, 2)),
    "depthwise1d": ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 3, "strides": 2}, (9, 2)),
    "depthwise1d_same_dilated": ("DepthwiseConv1D", {"kernel_size": 4, "padding": "same", "dilation_rate": 2},
                                 (9, 2)),
    "separable2d": ("SeparableConv2D", {"filters": 5, "kernel_size": 3, "depth_multiplier": 2, "padding": "same",
                                        "activation": "gelu"}, (6, 7, 3)),
    "separable2d_s2": ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "use_bias": False},
                       (7, 7, 3)),
    "separable2d_strided_dilated": ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "strides": 2,
                                                        "dilation_rate": 2, "padding": "same"}, (9, 9, 3)),
    "separable1d": ("SeparableConv1D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
                                        "activation": "swish"}, (9, 3)),
    "relu": ("ReLU", {}, (3, 5)),
    "relu_all_args": ("ReLU", {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.5}, (3, 5)),
    "relu6": ("ReLU", {"max_value": 6.0}, (3, 5)),
    "relu_threshold": ("ReLU", {"threshold": 0.3}, (3, 5)),
    "relu_slope_max": ("ReLU", {"max_value": 1.0, "negative_slope": 0.2}, (3, 5)),
    "leaky_relu": ("LeakyReLU", {}, (3, 5)),
    "leaky_relu_slope": ("LeakyReLU", {"negative_slope": 0.05}, (3, 5)),
    "prelu": ("PReLU", {}, (3, 5)),
    "prelu_shared": ("PReLU", {"shared_axes": [1, 2]}, (4, 5, 3)),
    "softmax": ("Softmax", {}, (3, 5)),
    "softmax_axis1": ("Softmax", {"axis": 1}, (3, 5)),
    "softmax_two_axes": ("Softmax", {"axis": [1, 2]}, (3, 5)),
    "rescaling": ("Rescaling", {"scale": 1 / 127.5, "offset": -1.0}, (4, 5, 3)),
    "rescaling_per_channel": ("Rescaling", {"scale": [0.5, 2.0, -1.0], "offset": [0.0, 1.0, 2.0]}, (4, 5, 3)),
    "normalization_given": ("Normalization", {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 0.25]}, (4, 3)),
    "normalization_scalar_invert": ("Normalization", {"axis": None, "mean": 2.0, "variance": 9.0, "invert": True},
                                    (4, 3)),
    "normalization_weights": ("Normalization", {"axis": (1, -1)}, (4, 5, 3)),
    "identity": ("Identity", {}, (3, 5)),
}


def pair(case: str, seed: int = 1):
    """(kir model, built Keras layer) of one layer, kir's random weights copied into Keras."""
    name, kwargs, shape = CASES[case]
    x = L.Input(shape, name="x")
    layer = getattr(L, name)(**kwargs)
    model = randomize(kir.Model(x, layer(x), name="m"), seed=seed)
    klayer = getattr(keras.layers, name)(**kwargs)
    klayer.build((None, *shape))
    assert [w.path.rsplit("/", 1)[-1] for w in klayer.weights] == layer.weight_names()
    assert [w.shape for w in klayer.get_weights()] == [w.shape for w in layer.get_weights()]
    klayer.set_weights(layer.get_weights())
    if name == "Normalization":
        klayer.finalize_state()  # Keras reads set weights into its statistics only here
    return model, klayer


def feeds(shape, batch: int) -> np.ndarray:
    return np.random.default_rng(batch).normal(size=(batch, *shape)).astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_shape_rule_and_config_match_keras(case):
    name, kwargs, shape = CASES[case]
    layer = getattr(L, name)(**kwargs)
    y = layer(L.Input(shape))
    klayer = getattr(keras.layers, name)(**kwargs)
    assert tuple(y.shape) == tuple(klayer.compute_output_shape((None, *shape)))
    config = layer.get_config()
    assert set(config) - {"name"} <= set(klayer.get_config())
    clone = getattr(L, name).from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_keras(case):
    model, klayer = pair(case)
    shape = CASES[case][2]
    for batch in (1, 7):
        x = feeds(shape, batch)
        want = keras.ops.convert_to_numpy(klayer(x))
        for backend in ("numpy", "tensorflow"):
            assert_close(model.predict(x, backend=backend), want, rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_every_activation_name_matches_keras(backend):
    x = L.Input((6,))
    model = kir.Model(x, [L.Activation(n)(x) for n in NAMES])
    xs = np.linspace(-4, 4, 42, dtype=np.float32).reshape(7, 6)
    for name, got in zip(NAMES, model.predict(xs, backend=backend)):
        want = keras.ops.convert_to_numpy(keras.activations.get(name)(xs))
        assert_close(got, want, rtol=1e-5)
    assert {"hard_silu", "hard_swish", "gelu", "mish", "relu6", "selu", "exponential"} <= set(NAMES)


def test_activation_names_everywhere_activation_is_accepted():
    x = L.Input((5, 4))
    y = L.Dense(3, activation="hard_swish")(x)
    y = L.Conv1D(2, 2, activation="mish")(y)
    y = L.SeparableConv1D(2, 2, activation="log_sigmoid")(y)
    model = randomize(kir.Model(x, y))
    kx = keras.Input((5, 4))
    ky = keras.layers.Dense(3, activation="hard_swish")(kx)
    ky = keras.layers.Conv1D(2, 2, activation="mish")(ky)
    kmodel = keras.Model(kx, keras.layers.SeparableConv1D(2, 2, activation="log_sigmoid")(ky))
    kmodel.set_weights(model.get_weights())
    xs = feeds((5, 4), 7)
    for backend in ("numpy", "tensorflow"):
        assert_close(model.predict(xs, backend=backend), kmodel.predict(xs, verbose=0), rtol=1e-5)


def test_unknown_spatial_sizes():
    x = L.Input((None, None, 3))
    y = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x)
    y = L.SeparableConv2D(4, 3, dilation_rate=2, padding="same")(y)
    model = randomize(kir.Model(x, y))
    assert tuple(y.shape) == (None, None, None, 4)
    kx = keras.Input((None, None, 3))
    ky = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(kx)
    kmodel = keras.Model(kx, keras.layers.SeparableConv2D(4, 3, dilation_rate=2, padding="same")(ky))
    kmodel.set_weights(model.get_weights())
    for rows_, cols in [(5, 8), (9, 4)]:
        xs = feeds((rows_, cols, 3), 2)
        for backend in ("numpy", "tensorflow"):
            assert_close(model.predict(xs, backend=backend), kmodel.predict(xs, verbose=0), rtol=1e-5)


@pytest.mark.parametrize("name, kwargs", [("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}),
                                          ("SeparableConv2D", {"filters": 3, "kernel_size": 3, "padding": "same"})])
def test_channels_first_matches_keras(name, kwargs):
    x = feeds((3, 6, 7), 3)
    layer = getattr(L, name)(data_format="channels_first", **kwargs)
    inp = L.Input((3, 6, 7))
    model = randomize(kir.Model(inp, layer(inp)))
    klayer = getattr(keras.layers, name)(data_format="channels_first", **kwargs)
    klayer.build(x.shape)
    klayer.set_weights(layer.get_weights())
    expected = keras.ops.convert_to_numpy(klayer(x))
    for backend in ("numpy", "tensorflow"):
        assert_close(model.predict(x, backend=backend), expected, rtol=1e-5)


# ---------------------------------------------------------------- Normalization.adapt

@pytest.mark.parametrize("axis, shape", [(-1, (40, 4)), (None, (40, 4)), ((1, 2), (30, 5, 4, 3))])
def test_normalization_adapt_matches_keras(axis, shape):
    data = np.random.default_rng(0).normal(3.0, 2.0, size=shape).astype(np.float32)
    for given in (data, [data[:7], data[7:19], data[19:]]):
        layer, klayer = L.Normalization(axis=axis), keras.layers.Normalization(axis=axis)
        layer.adapt(given)
        klayer.adapt(given)
        assert layer.weight_names() == ["mean", "variance", "count"]
        for ours, theirs in zip(layer.get_weights(), klayer.get_weights()):
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            assert_close(ours, theirs, rtol=1e-5)
    inp = L.Input(shape[1:])
    model = kir.Model(inp, layer(inp))
    want = keras.ops.convert_to_numpy(klayer(data))
    for backend in ("numpy", "tensorflow"):
        assert_close(model.predict(data, backend=backend), want, rtol=1e-5)
    assert not model.trainable_weights


def test_arguments_are_checked():
    with pytest.raises(ConfigError, match="ReLU 're': max_value"):
        L.ReLU(max_value=-1.0, name="re")
    with pytest.raises(ConfigError, match="negative_slope"):
        L.LeakyReLU(negative_slope=-0.1)
    with pytest.raises(ConfigError, match="shared_axes"):
        L.PReLU(shared_axes=[0])
    with pytest.raises(ConfigError, match="axis"):
        L.Softmax(axis="last")
    with pytest.raises(ConfigError, match="both mean and variance"):
        L.Normalization(mean=1.0)
    with pytest.raises(ConfigError, match="scale"):
        L.Rescaling("x")
    with pytest.raises(ConfigError, match="depth_multiplier"):
        L.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ConfigError, match="padding"):
        L.SeparableConv1D(2, 3, padding="causal")
    with pytest.raises(ShapeError, match="layer 'sm' .*axis 3 is out of range"):
        L.Softmax(axis=3, name="sm")(L.Input((4, 5)))
    with pytest.raises(ShapeError, match="layer 'pr' .*shared axis 3"):
        L.PReLU(shared_axes=3, name="pr")(L.Input((4, 5)))
    with pytest.raises(ShapeError, match="channel dimension"):
        L.DepthwiseConv1D(3)(L.Input((5, None)))
    layer = L.Normalization(name="norm")
    layer.adapt(np.ones((4, 3), np.float32))
    with pytest.raises(ShapeError, match="norm"):
        layer(L.Input((5,)))
    dw = L.DepthwiseConv2D(3, name="dw")
    dw(L.Input((5, 5, 3)))
    with pytest.raises(ShapeError, match="dw.*3 channels"):
        dw(L.Input((5, 5, 4)))


def test_leaky_relu_takes_the_old_alpha_name():
    from kir.models.keras_files import layer_map
    from kir.models.keras_files.values import KERAS2

    layer = L.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and "alpha" not in layer.get_config()
    assert layer.get_config()["negative_slope"] == 0.1
    assert L.LeakyReLU().negative_slope == 0.3  # Keras 3's default
    kwargs, problems = layer_map.translate("LeakyReLU", "lr", {"name": "lr", "trainable": True, "dtype": "float32",
                                                               "alpha": 0.25}, KERAS2)  # a tf.keras 2 config
    assert not problems and L.LeakyReLU(**kwargs).negative_slope == 0.25
    assert "alpha" not in layer_map.keras_config(L.LeakyReLU(**kwargs))


# ---------------------------------------------------------------- models: files, summary, training

def _catalogue(lib, layers):
    """A small image model using every layer of this file, every layer named."""
    x = layers.Input((8, 8, 3), name="image")
    y = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(x)
    y = layers.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 3.0], name="norm")(y)
    y = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(y)
    y = layers.ReLU(6.0, name="relu6")(y)
    y = layers.SeparableConv2D(4, 3, strides=2, name="sep")(y)
    y = layers.PReLU(shared_axes=[1, 2], name="prelu")(layers.Identity(name="ident")(y))
    y = layers.Reshape((-1, 4), name="flat")(y)
    y = layers.SeparableConv1D(3, 2, name="sep1d")(layers.DepthwiseConv1D(2, name="dw1d")(y))
    y = layers.LeakyReLU(name="leaky")(y)
    return lib(x, layers.Softmax(axis=1, name="softmax")(y), name="catalogue")


def test_summary_matches_keras():
    ours = []
    _catalogue(kir.Model, L).summary(line_length=78, print_fn=ours.append)
    theirs = []
    _catalogue(keras.Model, keras.layers).summary(line_length=78, print_fn=lambda t, **_: theirs.append(t))
    theirs = "".join(theirs).rstrip("\n").split("\n")
    assert rows(ours) == rows(theirs)
    assert ours[-3:] == theirs[-3:]


def test_keras_file_round_trips(tmp_path):
    from kir.models import load_model

    kmodel = _catalogue(keras.Model, keras.layers)
    rng = np.random.default_rng(0)
    kmodel.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3 for w in kmodel.get_weights()])
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    xs = feeds((8, 8, 3), 7) * 100
    want = kmodel.predict(xs, verbose=0)
    assert_close(model.predict(xs), want, rtol=1e-4)
    model.save(str(tmp_path / "kir.keras"))
    assert_close(keras.models.load_model(tmp_path / "kir.keras").predict(xs, verbose=0), want, rtol=1e-4)


def test_adapted_normalization_in_keras_files(tmp_path):
    from kir.models import load_model

    data = np.random.default_rng(1).normal(5.0, 3.0, size=(50, 6)).astype(np.float32)
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(data)
    kx = keras.Input((6,))
    kmodel = keras.Model(kx, keras.layers.Dense(2, name="d")(norm(kx)))
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    assert_close(model.predict(data), kmodel.predict(data, verbose=0), rtol=1e-4)
    ours = L.Normalization(name="norm")
    ours.adapt(data)
    x = L.Input((6,))
    mine = kir.Model(x, L.Dense(2, name="d")(ours(x)))
    mine.save(str(tmp_path / "kir.keras"))
    back = keras.models.load_model(tmp_path / "kir.keras")
    assert_close(back.get_layer("norm").get_weights()[0], ours.get_weights()[0], rtol=1e-6)
    assert_close(back.predict(data, verbose=0), mine.predict(data), rtol=1e-4)


def test_model_with_the_new_layers_trains():
    x = L.Input((6, 6, 2))
    y = L.Normalization(axis=-1, mean=[0.5, -0.5], variance=[2.0, 0.5])(x)
    y = L.SeparableConv2D(3, 3, padding="same", depth_multiplier=2)(y)
    y = L.PReLU(alpha_initializer="ones", shared_axes=[1, 2])(y)
    y = L.DepthwiseConv2D(3)(L.LeakyReLU(0.1)(y))
    y = L.Softmax()(L.Dense(3)(L.Reshape((-1,))(L.ReLU(max_value=4.0)(y))))
    model = randomize(kir.Model(x, y), seed=0)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(32, 6, 6, 2)).astype(np.float32)
    ys = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = model.get_weights()
    history = model.fit(xs, ys, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_kir_file_round_trips(tmp_path):
    from kir.models import load_model

    model = randomize(_catalogue(kir.Model, L), seed=4)
    x = L.Input((5,), name="v")
    norm = L.Normalization(name="adapted")
    norm.adapt(np.random.default_rng(0).normal(2.0, 3.0, size=(30, 5)).astype(np.float32))
    flat = kir.Model(x, L.Activation("hard_silu")(norm(x)), name="flat")
    for m, shape in ((model, (8, 8, 3)), (flat, (5,))):
        m.save(str(tmp_path / f"{m.name}.kir"))
        back = load_model(tmp_path / f"{m.name}.kir")
        xs = feeds(shape, 7)
        np.testing.assert_array_equal(back.predict(xs), m.predict(xs))
        assert [w.dtype for w in back.get_weights()] == [w.dtype for w in m.get_weights()]


def test_unknown_time_dims_match_keras():
    def build(lib, layers):
        x = layers.Input((None, 4), name="seq")
        y = layers.PReLU(shared_axes=[1], name="prelu")(layers.Rescaling([1.0, 2.0, 0.5, -1.0], name="scale")(x))
        y = layers.Normalization(mean=[0.0, 1.0, 2.0, 3.0], variance=[1.0, 2.0, 3.0, 4.0], name="norm")(y)
        y = layers.DepthwiseConv1D(3, padding="same", name="dw")(layers.ReLU(negative_slope=0.1, name="relu")(y))
        return lib(x, layers.Softmax(axis=1, name="softmax")(y))

    model = randomize(build(kir.Model, L), seed=2)
    kmodel = build(keras.Model, keras.layers)
    kmodel.set_weights(model.get_weights())
    for steps in (3, 8):
        xs = feeds((steps, 4), 7)
        want = kmodel.predict(xs, verbose=0)
        for backend in ("numpy", "tensorflow", "onnx"):
            assert_close(model.predict(xs, backend=backend), want, rtol=1e-5)


def test_weight_regularizers_penalise_like_keras():
    def build(lib, layers):
        x = layers.Input((5, 5, 2))
        y = layers.SeparableConv2D(3, 3, depthwise_regularizer="l2", pointwise_regularizer="l1",
                                   bias_regularizer="l2")(x)
        y = layers.DepthwiseConv2D(2, depthwise_regularizer="l1")(y)
        y = layers.PReLU(alpha_regularizer="l2", alpha_initializer="ones")(y)
        return lib(x, layers.Flatten()(y))

    model, kmodel = randomize(build(kir.Model, L), seed=1), build(keras.Model, keras.layers)
    kmodel.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=(4, 5, 5, 2)).astype(np.float32), rng.normal(size=(4, 12)).astype(np.float32)
    model.compile(loss="mse", optimizer="sgd")
    kmodel.compile(loss="mse", optimizer="sgd")
    assert model.evaluate(xs, ys, verbose=0) == pytest.approx(kmodel.evaluate(xs, ys, verbose=0), rel=1e-5)


@pytest.mark.slow
def test_keras_applications_mobilenet_v2_loads_and_matches(tmp_path):
    """Keras' own MobileNetV2 (DepthwiseConv2D, ReLU(6), BN, ZeroPadding, Add) through a .keras file:
    Keras' outputs on every backend; the O2 ONNX file has its BatchNormalizations folded, one Transpose."""
    import onnx

    from kir.models import load_model

    kmodel = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)
    rng = np.random.default_rng(0)
    weights = []
    for variable, w in zip(kmodel.weights, kmodel.get_weights()):
        if "variance" in variable.path or "gamma" in variable.path:
            w = rng.uniform(0.5, 1.5, w.shape)
        elif "mean" in variable.path or "beta" in variable.path:
            w = rng.normal(0, 0.1, w.shape)
        elif w.ndim >= 2:
            w = rng.normal(0, 1.5 / np.sqrt(np.prod(w.shape[:-1])), w.shape)
        weights.append(w.astype(np.float32))
    kmodel.set_weights(weights)
    kmodel.save(tmp_path / "mobilenet.keras")
    model = load_model(tmp_path / "mobilenet.keras")
    xs = rng.uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    want = kmodel.predict(xs, verbose=0)
    for backend in ("numpy", "tensorflow", "onnx"):
        assert_close(model.predict(xs, backend=backend), want, rtol=1e-5)
    model.export(str(tmp_path / "mobilenet.onnx"))
    ops = [n.op_type for n in onnx.load(str(tmp_path / "mobilenet.onnx")).graph.node]
    assert "BatchNormalization" not in ops and ops.count("Transpose") == 1 and ops.count("Conv") == 52
