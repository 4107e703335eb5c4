"""MultiHeadAttention over `attention_axes` of (batch, d1, ..., dn, features) inputs follows Keras 3
(its einsum path): Keras' weights load unchanged, outputs and scores equal Keras' on the numpy
and TensorFlow backends (ONNX: tests/onnx/test_explicit_masks_onnx.py) for attention_axes=(1,),
(2,), (1, 2) and None on images, with an attention_mask; one fit epoch equals Keras'; bad axes and
masks are KirErrors."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402
from kir.ir.ops import infer  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from tests.helpers import assert_close, assert_files_round_trip  # noqa: E402

AXES = [(1,), (2,), (1, 2), None]


def images(lib, axes, masked: bool = False):
    """Cross-attention between two (batch, 3, 4, c) images, scores returned; with `masked`, an
    attention_mask of the scores' shape without the heads axis."""
    q, v = lib.Input((3, 4, 5)), lib.Input((3, 4, 6))
    mha = lib.layers.MultiHeadAttention(2, 3, value_dim=2, attention_axes=axes, name="mha")
    inputs, kwargs = [q, v], {}
    if masked:
        scores = infer("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "attention_axes": axes,
                                              "return_scores": True},
                       [TensorSpec((None, 3, 4, 5)), TensorSpec((None, 3, 4, 6))])[1].shape
        n = 2 * len(axes or (1, 2))
        mask = lib.Input(scores[1:-n - 1] + scores[-n:], dtype="bool")
        inputs.append(mask)
        kwargs["attention_mask"] = mask
    y, s = mha(q, v, return_attention_scores=True, **kwargs)
    return lib.Model(inputs, [y, s])


def feeds(model, seed=0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [rng.normal(size=(2, *t.shape[1:])).astype("float32") for t in model.inputs[:2]]
    if len(model.inputs) > 2:
        out.append(rng.random((2, *model.inputs[2].shape[1:])) > 0.3)
    return out


@pytest.mark.parametrize("axes", AXES)
def test_attention_axes_follow_keras(axes):
    theirs = images(keras, axes, masked=axes == (1, 2))
    ours = images(kir, axes, masked=axes == (1, 2))
    ours.set_weights(theirs.get_weights())
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    x = feeds(ours)
    expected = theirs.predict(x, verbose=0)
    assert ours.outputs[0].shape == tuple(theirs.outputs[0].shape)  # Keras' symbolic scores shape is (b, h, 3, 3)
    assert ours.outputs[1].shape[1:] == expected[1].shape[1:]
    for backend in ("numpy", "tensorflow"):
        for got, want in zip(ours.predict(x, backend=backend), expected):
            assert got.shape == want.shape
            assert_close(got, want, rtol=1e-5)


def test_scores_shape_follows_keras_equations():
    q, v = TensorSpec((None, 3, 4, 5)), TensorSpec((None, 3, 7, 5))
    attrs = {"num_heads": 2, "key_dim": 3, "return_scores": True}
    assert infer("MultiHeadAttention", {**attrs, "attention_axes": [2]}, [q, v])[1] == \
        TensorSpec((None, 3, 2, 4, 7))
    assert infer("MultiHeadAttention", {**attrs, "attention_axes": [-2]}, [q, v])[1] == \
        TensorSpec((None, 3, 2, 4, 7))


def test_bad_axes_and_masks_are_kir_errors():
    L = kir.layers
    with pytest.raises(ConfigError, match="attention_axes must be an int, list, or tuple"):
        L.MultiHeadAttention(2, 3, attention_axes="rows")
    q = kir.Input((3, 4, 5))
    with pytest.raises(ShapeError, match=r"attention_axes=\[3\] must be distinct axes among 1..2"):
        L.MultiHeadAttention(2, 3, attention_axes=3)(q, q)
    with pytest.raises(ShapeError, match=r"must agree on the axes outside attention_axes=\[2\]"):
        L.MultiHeadAttention(2, 3, attention_axes=2)(q, kir.Input((5, 4, 5)))
    with pytest.raises(ShapeError, match=r"use_causal_mask with attention_axes"):
        L.MultiHeadAttention(2, 3, attention_axes=2)(q, q, use_causal_mask=True)
    with pytest.raises(ShapeError, match=r"attention_mask .* does not broadcast to the scores"):
        L.MultiHeadAttention(2, 3, attention_axes=2)(q, q, attention_mask=kir.Input((3, 5, 4), dtype="bool"))


def pooled(lib):
    """Self-attention over the rows and columns of a (batch, 3, 4, 5) image, pooled to one value."""
    L = lib.layers
    x = lib.Input((3, 4, 5))
    y = L.MultiHeadAttention(2, 3, attention_axes=(1, 2))(x, x)
    return lib.Model(x, L.Dense(1)(L.GlobalAveragePooling2D()(y)))


@pytest.mark.slow  # ~4 s of CPU: a Keras fit and a TensorFlow program
def test_one_fit_epoch_over_attention_axes_equals_keras():
    theirs, ours = pooled(keras), pooled(kir)
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3, 4, 5)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    theirs.compile(keras.optimizers.SGD(0.1), "mse")
    ours.compile(kir.optimizers.SGD(0.1), "mse")
    h_theirs = theirs.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history
    h_ours = ours.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.slow  # ~4 s of CPU: Keras saves and loads
def test_attention_axes_survive_keras_and_kir_files_both_ways(tmp_path):
    theirs, ours = images(keras, (2,), masked=True), images(kir, (2,), masked=True)
    ours.set_weights(theirs.get_weights())
    assert_files_round_trip(ours, theirs, feeds(ours), tmp_path)
