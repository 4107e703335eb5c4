"""Numpy reference lowerings against Keras 3 layers with the same config and weights."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import kir.backends.numpy.lowerings  # noqa: E402,F401
from kir.activations import NAMES  # noqa: E402
from kir.activations import get as canonical_activation  # noqa: E402
from kir.backends.numpy.context import NumpyContext  # noqa: E402
from kir.backends.numpy.table import LOWERINGS  # noqa: E402
from kir.errors import FeedError  # noqa: E402
from kir.ir.ops import infer  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

RNG = np.random.default_rng(0)
HYPO = settings(max_examples=12, deadline=None, derandomize=True)
CTX = NumpyContext()


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def run(op: str, attrs: dict, inputs: list[np.ndarray], params: dict | None = None) -> np.ndarray:
    """Run the kir lowering and check its output against the op's shape rule too."""
    params = params or {}
    (out,) = LOWERINGS.lookup(op)(CTX, attrs, inputs, params)
    specs = [TensorSpec((None, *x.shape[1:]), str(x.dtype)) for x in inputs]
    (spec,) = infer(op, attrs, specs, {k: np.shape(v) for k, v in params.items()})
    assert spec.shape == (None, *out.shape[1:]), f"rule says {spec.shape}, lowering gave {out.shape}"
    assert out.dtype == np.dtype(spec.dtype)
    return out


def keras_run(layer, inputs, weights=None, **call_kwargs) -> np.ndarray:
    """Build a Keras layer for the inputs, set weights (Keras order), and run it."""
    shapes = [x.shape for x in inputs] if isinstance(inputs, list) else inputs.shape
    layer.build(shapes)
    if weights is not None:
        layer.set_weights(weights)
    return keras.ops.convert_to_numpy(layer(inputs, **call_kwargs))


# ---------------------------------------------------------------- activations, Dense


@pytest.mark.parametrize("name", NAMES)
def test_activation_matches_keras(name):
    x = np.linspace(-6, 6, 42, dtype=np.float32).reshape(2, 3, 7)
    expected = keras.ops.convert_to_numpy(keras.activations.get(name)(x))
    assert_close(run("Activation", {"activation": canonical_activation(name)}, [x]), expected)


@pytest.mark.parametrize("activation", ["linear", "relu", "softmax", "gelu"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 6)])
def test_dense_matches_keras(activation, use_bias, shape):
    x = rand(*shape)
    weights = [rand(6, 5)] + ([rand(5)] if use_bias else [])
    params = dict(zip(["kernel", "bias"], weights))
    attrs = {"units": 5, "activation": activation, "use_bias": use_bias}
    expected = keras_run(keras.layers.Dense(5, activation=activation, use_bias=use_bias), x, weights)
    assert_close(run("Dense", attrs, [x], params), expected)


# ---------------------------------------------------------------- convolutions


def conv_attrs(filters, kernel_size, strides, padding, dilation, activation="linear", use_bias=True):
    return {
        "filters": filters, "kernel_size": list(kernel_size), "strides": list(strides),
        "padding": padding, "dilation_rate": list(dilation), "activation": activation,
        "use_bias": use_bias, "data_format": "channels_last",
    }


CONV1D_CASES = [
    (3, 1, "valid", 1), (3, 2, "valid", 1), (4, 2, "same", 1), (3, 1, "same", 2),
    (3, 1, "causal", 1), (2, 1, "causal", 3), (3, 3, "causal", 1), (5, 1, "valid", 2),
]


@pytest.mark.parametrize("k,s,padding,d", CONV1D_CASES)
def test_conv1d_matches_keras(k, s, padding, d):
    x = rand(2, 11, 3)
    weights = [rand(k, 3, 4), rand(4)]
    layer = keras.layers.Conv1D(4, k, strides=s, padding=padding, dilation_rate=d, activation="relu")
    expected = keras_run(layer, x, weights)
    attrs = conv_attrs(4, [k], [s], padding, [d], "relu")
    assert_close(run("Conv1D", attrs, [x], dict(zip(["kernel", "bias"], weights))), expected)


CONV2D_CASES = [
    ((3, 3), (1, 1), "valid", (1, 1)), ((3, 3), (2, 2), "same", (1, 1)), ((2, 3), (2, 1), "valid", (1, 1)),
    ((3, 2), (1, 1), "same", (2, 2)), ((3, 3), (1, 1), "valid", (2, 1)), ((4, 4), (3, 3), "same", (1, 1)),
    ((1, 1), (2, 2), "valid", (1, 1)),
]


@pytest.mark.parametrize("k,s,padding,d", CONV2D_CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv2d_matches_keras(k, s, padding, d, use_bias):
    x = rand(2, 9, 8, 3)
    weights = [rand(*k, 3, 5)] + ([rand(5)] if use_bias else [])
    layer = keras.layers.Conv2D(5, k, strides=s, padding=padding, dilation_rate=d, use_bias=use_bias)
    expected = keras_run(layer, x, weights)
    attrs = conv_attrs(5, k, s, padding, d, use_bias=use_bias)
    assert_close(run("Conv2D", attrs, [x], dict(zip(["kernel", "bias"], weights))), expected)


@given(
    h=st.integers(3, 12), w=st.integers(3, 12), c=st.integers(1, 4), f=st.integers(1, 4),
    k=st.integers(1, 3), s=st.integers(1, 3), padding=st.sampled_from(["valid", "same"]),
)
@HYPO
def test_conv2d_random_shapes_match_keras(h, w, c, f, k, s, padding):
    x = rand(1, h, w, c)
    weights = [rand(k, k, c, f), rand(f)]
    expected = keras_run(keras.layers.Conv2D(f, k, strides=s, padding=padding), x, weights)
    attrs = conv_attrs(f, [k, k], [s, s], padding, [1, 1])
    assert_close(run("Conv2D", attrs, [x], dict(zip(["kernel", "bias"], weights))), expected)


@pytest.mark.parametrize("op,shape", [("Conv1D", (2, 10, 3)), ("Conv2D", (2, 7, 6, 3))])
def test_conv_channels_first_is_transposed_channels_last(op, shape):
    n = len(shape) - 2
    x = rand(*shape)
    params = {"kernel": rand(*([3] * n), 3, 4), "bias": rand(4)}
    attrs = conv_attrs(4, [3] * n, [2] * n, "same", [1] * n)
    last = run(op, attrs, [x], params)
    first = run(op, {**attrs, "data_format": "channels_first"}, [np.moveaxis(x, -1, 1)], params)
    assert_close(first, np.moveaxis(last, -1, 1))


def test_conv2d_on_224_image_matches_keras():
    x = rand(2, 224, 224, 3)
    weights = [rand(3, 3, 3, 16), rand(16)]
    layer = keras.layers.Conv2D(16, 3, padding="same", activation="relu")
    expected = keras_run(layer, x, weights)
    attrs = conv_attrs(16, [3, 3], [1, 1], "same", [1, 1], "relu")
    assert_close(run("Conv2D", attrs, [x], dict(zip(["kernel", "bias"], weights))), expected)


# ---------------------------------------------------------------- pooling

POOL_CASES = [((2,), None, "valid"), ((3,), (2,), "valid"), ((3,), (2,), "same"), ((2,), (1,), "same"),
              ((4,), (3,), "same")]
POOL2D_CASES = [((2, 2), None, "valid"), ((3, 3), (2, 2), "same"), ((3, 2), (1, 2), "same"),
                ((2, 3), (2, 1), "valid"), ((3, 3), (3, 3), "same")]


def pool_attrs(pool, strides, padding, data_format="channels_last"):
    return {"pool_size": list(pool), "strides": list(strides or pool), "padding": padding,
            "data_format": data_format}


@pytest.mark.parametrize("kind", ["Max", "Average"])
@pytest.mark.parametrize("dims,case", [(1, c) for c in POOL_CASES] + [(2, c) for c in POOL2D_CASES])
def test_pooling_matches_keras(kind, dims, case):
    pool, strides, padding = case
    op = f"{kind}Pooling{dims}D"
    x = rand(2, *([7, 8][:dims]), 3)
    expected = keras_run(getattr(keras.layers, op)(pool, strides=strides, padding=padding), x)
    attrs = pool_attrs(pool, strides, padding)
    assert_close(run(op, attrs, [x]), expected)
    first = run(op, {**attrs, "data_format": "channels_first"}, [np.moveaxis(x, -1, 1)])
    assert_close(first, np.moveaxis(expected, -1, 1))


@pytest.mark.parametrize("kind", ["Max", "Average"])
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_keras(kind, dims, keepdims):
    op = f"Global{kind}Pooling{dims}D"
    x = rand(2, *([5, 6][:dims]), 3)
    expected = keras_run(getattr(keras.layers, op)(keepdims=keepdims), x)
    attrs = {"data_format": "channels_last", "keepdims": keepdims}
    assert_close(run(op, attrs, [x]), expected)
    first = run(op, {**attrs, "data_format": "channels_first"}, [np.moveaxis(x, -1, 1)])
    assert_close(first, np.moveaxis(expected, -1, 1) if keepdims else expected)


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
def test_batch_norm_inference_matches_keras(axis, center, scale):
    x = rand(3, 4, 5, 6, scale=3.0)
    size = x.shape[axis]
    roles = (["gamma"] if scale else []) + (["beta"] if center else []) + ["moving_mean", "moving_variance"]
    weights = [rand(size) for _ in roles[:-1]] + [np.abs(rand(size)) + 0.1]
    layer = keras.layers.BatchNormalization(axis=axis, center=center, scale=scale, epsilon=1e-3)
    expected = keras_run(layer, x, weights, training=False)
    attrs = {"axis": axis % x.ndim, "epsilon": 1e-3, "momentum": 0.99, "center": center, "scale": scale}
    assert_close(run("BatchNormalization", attrs, [x], dict(zip(roles, weights))), expected)


@pytest.mark.parametrize("axis", [[-1], [1, 2], [2]])
@pytest.mark.parametrize("center,scale", [(True, True), (False, False)])
def test_layer_norm_matches_keras(axis, center, scale):
    x = rand(2, 3, 4, 5, scale=2.0) + 1.0
    shape = tuple(x.shape[a] for a in sorted(a % x.ndim for a in axis))
    roles = (["gamma"] if scale else []) + (["beta"] if center else [])
    weights = [rand(*shape) for _ in roles]
    layer = keras.layers.LayerNormalization(axis=axis, center=center, scale=scale, epsilon=1e-3)
    expected = keras_run(layer, x, weights)
    attrs = {"axis": [a % x.ndim for a in axis], "epsilon": 1e-3, "center": center, "scale": scale}
    assert_close(run("LayerNormalization", attrs, [x], dict(zip(roles, weights))), expected)


# ---------------------------------------------------------------- merges

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@pytest.mark.parametrize("op", ["Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract"])
@given(shape=shapes, n=st.integers(2, 4), batch=st.integers(1, 3))
@HYPO
def test_elementwise_merge_matches_keras(op, shape, n, batch):
    n = 2 if op == "Subtract" else n
    xs = [rand(batch, *shape) for _ in range(n)]
    expected = keras.ops.convert_to_numpy(getattr(keras.layers, op)()(xs))
    assert_close(run(op, {}, xs), expected)


def test_elementwise_merge_broadcasts_size_one_dims_like_keras():
    xs = [rand(2, 3, 1), rand(2, 1, 4)]
    expected = keras.ops.convert_to_numpy(keras.layers.Add()(xs))
    assert_close(run("Add", {}, xs), expected)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data())
@HYPO
def test_concatenate_matches_keras(shape, data):
    axis = data.draw(st.integers(1, len(shape)))
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    xs = []
    for size in sizes:
        s = list(shape)
        s[axis - 1] = size
        xs.append(rand(2, *s))
    expected = keras.ops.convert_to_numpy(keras.layers.Concatenate(axis=axis)(xs))
    assert_close(run("Concatenate", {"axis": axis}, xs), expected)


DOT_CASES = [((5,), (5,), (1, 1)), ((3, 5), (10, 3), (1, 2)), ((4, 5), (4, 6), (1, 1)),
             ((4, 5), (5,), (2, 1)), ((2, 3, 4), (4, 2), (3, 1)), ((6,), (3, 6), (1, 2))]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("sx,sy,axes", DOT_CASES)
def test_dot_matches_keras(sx, sy, axes, normalize):
    xs = [rand(3, *sx), rand(3, *sy)]
    expected = keras.ops.convert_to_numpy(keras.layers.Dot(axes=axes, normalize=normalize)(xs))
    assert_close(run("Dot", {"axes": list(axes), "normalize": normalize}, xs), expected)


# ---------------------------------------------------------------- reshaping, Embedding


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_matches_keras(data_format):
    x = rand(2, 3, 4, 5)
    expected = keras_run(keras.layers.Flatten(data_format=data_format), x)
    assert_close(run("Flatten", {"data_format": data_format}, [x]), expected)


@pytest.mark.parametrize("target", [[12, 5], [-1, 10], [3, -1, 2], [60]])
def test_reshape_matches_keras(target):
    x = rand(2, 3, 4, 5)
    expected = keras_run(keras.layers.Reshape(tuple(target)), x)
    assert_close(run("Reshape", {"target_shape": target}, [x]), expected)


@pytest.mark.parametrize("dims", [[2, 1], [3, 1, 2], [1, 2, 3]])
def test_permute_matches_keras(dims):
    x = rand(2, 3, 4, 5) if len(dims) == 3 else rand(2, 3, 4)
    expected = keras_run(keras.layers.Permute(tuple(dims)), x)
    assert_close(run("Permute", {"dims": dims}, [x]), expected)


def test_transpose_permutes_all_axes():
    x = rand(2, 3, 4, 5)
    assert_close(run("Transpose", {"perm": [0, 3, 1, 2]}, [x]), np.transpose(x, (0, 3, 1, 2)))


def test_repeat_vector_matches_keras():
    x = rand(2, 5)
    expected = keras_run(keras.layers.RepeatVector(3), x)
    assert_close(run("RepeatVector", {"n": 3}, [x]), expected)


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
def test_embedding_matches_keras(dtype):
    ids = RNG.integers(0, 10, size=(3, 7)).astype(dtype)
    table = rand(10, 4)
    expected = keras_run(keras.layers.Embedding(10, 4), ids, [table])
    attrs = {"input_dim": 10, "output_dim": 4, "mask_zero": False}
    assert_close(run("Embedding", attrs, [ids], {"embeddings": table}), expected)


@pytest.mark.parametrize("bad", [10, -1])
def test_embedding_refuses_out_of_range_ids(bad):
    ids = np.array([[1, bad]], dtype=np.int32)
    with pytest.raises(FeedError, match=f"token id {bad} outside \\[0, 10\\)"):
        LOWERINGS.lookup("Embedding")(CTX, {"input_dim": 10, "output_dim": 4}, [ids], {"embeddings": rand(10, 4)})


@pytest.mark.parametrize("op", ["Dropout", "Identity"])
def test_dropout_and_identity_are_identity_at_inference(op):
    x = rand(4, 6)
    expected = keras_run(keras.layers.Dropout(0.5), x, training=False) if op == "Dropout" else x
    out = run(op, {"rate": 0.5, "noise_shape": None, "seed": None} if op == "Dropout" else {}, [x])
    assert_close(out, expected)
