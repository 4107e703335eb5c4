"""Regression tests for what the differential fuzz (test_fuzz_models.py) found, each against a
Keras twin (same weights) as the oracle, on numpy, TensorFlow and ONNX."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")

import kir  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

RNG = np.random.default_rng(7)


def _agree(build, feeds: list[np.ndarray]) -> None:
    """kir (numpy, TensorFlow, ONNX) predicts what its Keras twin predicts."""
    from kir.backends.onnx import Runtime, to_onnx

    theirs, ours = build(keras), build(kir)
    ours.set_weights(theirs.get_weights())
    want = np.asarray(theirs(feeds, training=False))
    for backend in ("numpy", "tensorflow"):
        assert_close(ours.predict(feeds, backend=backend), want)
    assert_close(Runtime(to_onnx(ours)).run(feeds)[0], want)


def attention_half_explicit(lib):
    """`Attention()([q, v], mask=[qm, None])` on inputs that carry Masking's masks: an explicit
    mask list replaces the implicit masks for both inputs (Keras fills `mask` in only when none is
    given), so the value is unmasked although its tensor carries a mask."""
    L = lib.layers
    x, qm = lib.Input((4, 2)), lib.Input((4,), dtype="bool")
    masked = L.Masking(0.0)(x)
    return lib.Model([x, qm], L.Attention()([masked, masked], mask=[qm, None]))


def test_an_explicit_attention_mask_list_replaces_the_implicit_masks():
    x = RNG.normal(size=(2, 4, 2)).astype("float32")
    x[:, 2] = 0.0  # a step Masking masks: the value must still attend to it
    _agree(attention_half_explicit, [x, np.array([[1, 1, 0, 1], [1, 0, 1, 1]], bool)])


def mha_value_mask_without_key(lib):
    """`mha(q, masked, value_mask=vm, attention_mask=am)`, no key: Keras reads no key mask, so the
    value's own (Masking) mask must not join the explicit value_mask (kir passes the value as the
    key explicitly; its key mask is then the value_mask)."""
    L = lib.layers
    x, vm, am = lib.Input((4, 2)), lib.Input((4,), dtype="bool"), lib.Input((4, 4), dtype="bool")
    return lib.Model([x, vm, am], L.MultiHeadAttention(2, 2)(x, L.Masking(0.0)(x), value_mask=vm, attention_mask=am))


def test_an_explicit_value_mask_without_a_key_ignores_the_values_own_mask(tmp_path):
    x = RNG.normal(size=(2, 4, 2)).astype("float32")
    x[:, 1] = 0.0  # a step Masking masks, yet vm keeps
    feeds = [x, np.array([[1, 1, 0, 1], [1, 1, 1, 0]], bool), RNG.random((2, 4, 4)) > 0.2]
    _agree(mha_value_mask_without_key, feeds)
    model = mha_value_mask_without_key(kir)
    model.save(tmp_path / "m.kir")
    assert_close(kir.models.load_model(tmp_path / "m.kir").predict(feeds), model.predict(feeds))


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
def test_multi_head_attention_loads_from_legacy_h5(tmp_path):
    """A legacy `.h5` lists MHA's weights as 'mha/query/kernel' (two parts after the layer); kir
    read only the last part and refused Keras' and its own files."""
    L = keras.layers
    x = keras.Input((3, 2, 4))
    theirs = keras.Model(x, L.MultiHeadAttention(2, 2, attention_axes=(1,))(x, x))
    theirs.save(tmp_path / "theirs.h5")
    ours = kir.models.load_model(tmp_path / "theirs.h5")
    feed = RNG.normal(size=(2, 3, 2, 4)).astype("float32")
    want = np.asarray(theirs(feed, training=False))
    assert_close(ours.predict(feed), want)
    ours.save(tmp_path / "ours.h5")
    assert_close(kir.models.load_model(tmp_path / "ours.h5").predict(feed), want)


CHANNELS_FIRST_SOFTMAX = [
    ("Conv1D", (3, 5), {"filters": 2, "kernel_size": 2}),
    ("Conv2D", (1, 2, 2), {"filters": 1, "kernel_size": (2, 1)}),  # what the fuzz found: one channel
    ("Conv2DTranspose", (2, 3, 3), {"filters": 2, "kernel_size": 2, "strides": 2}),
    ("DepthwiseConv2D", (2, 4, 4), {"kernel_size": 2}),
]  # not SeparableConv2D: Keras' own channels_first one on TensorFlow's CPU differs from tf.nn's (kir's agrees)


@pytest.mark.parametrize("cls,shape,kwargs", CHANNELS_FIRST_SOFTMAX, ids=[c[0] for c in CHANNELS_FIRST_SOFTMAX])
def test_a_channels_first_conv_softmax_runs_over_the_last_axis_as_keras(cls, shape, kwargs):
    """Keras applies a conv's activation to its output as laid out, so a channels_first softmax runs
    over the last (width) axis; kir ran it over the channels on every engine."""
    from kir.backends.onnx import Runtime, to_onnx

    def build(lib):
        x = lib.Input(shape)
        return lib.Model(x, getattr(lib.layers, cls)(**kwargs, activation="softmax", data_format="channels_first")(x))

    theirs, ours = build(keras), build(kir)
    ours.set_weights([RNG.normal(size=w.shape).astype("float32") for w in theirs.get_weights()])
    theirs.set_weights(ours.get_weights())
    feed = RNG.normal(size=(2, *shape)).astype("float32")
    want = theirs.predict(feed, verbose=0)  # graph mode: TF's eager CPU channels_first conv is not always right
    for backend in ("numpy", "tensorflow"):
        assert_close(ours.predict(feed, backend=backend), want)
    for level in ("O0", "O2"):
        assert_close(Runtime(to_onnx(ours, optimize=level)).run([feed])[0], want)
