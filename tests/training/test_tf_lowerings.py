"""Every TensorFlow lowering against the numpy reference, op family by op family, and the
guide's models (nested models, TimeDistributed, shared layers) end to end."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import activations  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.backends.numpy import LOWERINGS as NUMPY_LOWERINGS  # noqa: E402
from kir.backends.tensorflow import LOWERINGS  # noqa: E402
from tests.fixtures import factories  # noqa: E402
from tests.fixtures.factories import randomize  # noqa: E402

RNG = np.random.default_rng(7)


def _check(model, *shapes, ints=None, atol=2e-5):
    randomize(model, seed=3)
    xs = []
    for i, s in enumerate(shapes):
        if ints and i in ints:
            xs.append(RNG.integers(0, ints[i], s).astype("int32"))
        else:
            xs.append(RNG.normal(size=s).astype("float32"))
    feed = xs[0] if len(xs) == 1 else xs
    expected, got = model.predict(feed), model.predict(feed, backend="tensorflow")
    for e, g in zip(expected if isinstance(expected, list) else [expected], got if isinstance(got, list) else [got]):
        np.testing.assert_allclose(g, e, atol=atol, rtol=1e-4)


def test_every_numpy_op_has_a_tensorflow_lowering():
    missing = set(NUMPY_LOWERINGS.ops()) - set(LOWERINGS.ops())
    assert not missing, f"ops without a TensorFlow lowering: {sorted(missing)}"


@pytest.mark.parametrize("name", activations.NAMES)
def test_activations(name):
    _check(kir.Sequential([L.Activation(name, input_shape=(5,))]), (4, 5))


def test_core_ops():
    x = L.Input((4, 6))
    y = L.Dense(5, activation="tanh")(x)
    y = L.Permute((2, 1))(y)
    y = L.Reshape((-1, 2))(y)
    y = L.Flatten()(y)
    y = L.RepeatVector(3)(y)
    y = L.Dropout(0.5)(y)
    _check(kir.Model(x, y), (3, 4, 6))
    ids = L.Input((7,), dtype="int32")
    _check(kir.Model(ids, L.Embedding(11, 4)(ids)), (2, 7), ints={0: 11})


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_and_pooling1d(padding):
    x = L.Input((12, 3))
    y = L.Conv1D(4, 3, padding=padding, dilation_rate=2 if padding != "valid" else 1, activation="relu")(x)
    pad = "same" if padding == "same" else "valid"
    a = L.MaxPooling1D(2, padding=pad)(y)
    b = L.AveragePooling1D(3, strides=2, padding=pad)(y)
    _check(kir.Model(x, [a, b, L.GlobalMaxPooling1D()(y), L.GlobalAveragePooling1D()(y)]), (2, 12, 3))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_and_pooling2d(padding):
    x = L.Input((9, 9, 2))
    y = L.Conv2D(3, (3, 2), strides=(2, 1), padding=padding)(x)
    a = L.MaxPooling2D((2, 2), padding=padding)(y)
    b = L.AveragePooling2D((2, 2), strides=1, padding=padding)(y)
    c = L.GlobalAveragePooling2D(keepdims=True)(y)
    _check(kir.Model(x, [a, b, c, L.GlobalMaxPooling2D()(y)]), (2, 9, 9, 2))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv3d_and_pooling3d(padding):
    x = L.Input((5, 6, 7, 2))
    y = L.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding=padding, activation="relu")(x)
    z = L.Conv3D(2, (2, 2, 1), dilation_rate=(1, 2, 1), padding=padding, data_format="channels_first")(x)
    a = L.MaxPooling3D((2, 1, 2), padding=padding)(y)
    b = L.AveragePooling3D(2, strides=1, padding=padding, data_format="channels_first")(z)
    c = L.GlobalAveragePooling3D(keepdims=True)(y)
    _check(kir.Model(x, [a, b, c, L.GlobalMaxPooling3D(data_format="channels_first")(z)]), (2, 5, 6, 7, 2))


def test_normalization():
    x = L.Input((5, 6))
    a = L.BatchNormalization()(x)
    b = L.BatchNormalization(axis=1)(x)
    c = L.LayerNormalization()(x)
    d = L.LayerNormalization(axis=[1, 2])(x)
    _check(kir.Model(x, [a, b, c, d]), (3, 5, 6))


def test_merges():
    a, b = L.Input((4,)), L.Input((4,))
    outs = [L.add([a, b]), L.subtract([a, b]), L.multiply([a, b]), L.average([a, b]), L.maximum([a, b]),
            L.minimum([a, b]), L.concatenate([a, b]), L.dot([a, b], axes=1), L.dot([a, b], axes=1, normalize=True)]
    _check(kir.Model([a, b], outs), (3, 4), (3, 4))
    p, q = L.Input((3, 4)), L.Input((5, 4))
    _check(kir.Model([p, q], L.Dot(axes=(2, 2))([p, q])), (2, 3, 4), (2, 5, 4))


@pytest.mark.parametrize("cls,kw", [
    (L.SimpleRNN, dict(return_sequences=True, go_backwards=True)),
    (L.GRU, dict(return_state=True)),
    (L.GRU, dict(reset_after=False, return_sequences=True)),
    (L.LSTM, dict(return_sequences=True, return_state=True)),
    (L.LSTM, dict(go_backwards=True)),
])
def test_recurrent(cls, kw):
    x = L.Input((6, 3))
    out = cls(4, **kw)(x)
    _check(kir.Model(x, out), (2, 6, 3), atol=5e-5)


def test_bidirectional():
    x = L.Input((5, 3))
    _check(kir.Model(x, L.Bidirectional(L.LSTM(4, return_sequences=True))(x)), (2, 5, 3), atol=5e-5)


@pytest.mark.parametrize("name", ["headline", "shared_lstm", "inception", "residual", "shared_vision", "vqa",
                                  "video_qa", "time_distributed_mlp"])
def test_guide_models(name):
    model = getattr(factories, name)()
    shapes, ints = [], {}
    for i, t in enumerate(model.inputs):
        shapes.append((2, *t.shape[1:]))
        if t.dtype.startswith("int"):
            ints[i] = 50
    _check(model, *shapes, ints=ints, atol=1e-4)
