"""Keras masks across nested model boundaries: a nested Model / Sequential called on a masked
tensor runs its inner layers on that mask, and its outputs carry the inner outputs' masks, as
Keras 3's Functional.compute_mask; on every backend, through .kir save/load and in a fit step."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")

import kir  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

BACKENDS = ("numpy", "tensorflow", "onnx")
STEPS = 6
IDS = np.array([[1, 2, 3, 0, 0, 0],    # right padded
                [0, 0, 0, 4, 5, 6],    # left padded
                [3, 0, 4, 0, 5, 0],    # holes
                [9, 8, 7, 6, 5, 4]])   # unpadded
TARGETS = np.array([[1.0], [0.0], [1.0], [0.0]], dtype="float32")


def _encoder_nested(lib, mask_zero=True):
    """Embedding(mask_zero) -> LSTM(seq) inside an inner model; the outer LSTM reads its mask."""
    ids = lib.Input((STEPS,), dtype="int32")
    seq = lib.layers.LSTM(4, return_sequences=True)(lib.layers.Embedding(12, 3, mask_zero=mask_zero)(ids))
    encoder = lib.Model(ids, seq, name="encoder")
    outer_ids = lib.Input((STEPS,), dtype="int32")
    h = lib.layers.LSTM(3)(encoder(outer_ids))
    return lib.Model(outer_ids, lib.layers.Dense(1, activation="sigmoid")(h))


def _sequential_nested(lib, mask_zero=True):
    """A Sequential inner LSTM(seq) called on a masked Embedding output; its output mask reaches the outer LSTM."""
    ids = lib.Input((STEPS,), dtype="int32")
    e = lib.layers.Embedding(12, 3, mask_zero=mask_zero)(ids)
    inner = lib.Sequential([lib.Input((STEPS, 3)), lib.layers.LSTM(4, return_sequences=True)], name="inner")
    h = lib.layers.LSTM(3)(inner(e))
    return lib.Model(ids, lib.layers.Dense(1, activation="sigmoid")(h))


BUILDS = [_encoder_nested, _sequential_nested]


@pytest.mark.parametrize("build", BUILDS, ids=["encoder", "sequential"])
def test_masks_cross_nested_models_like_keras_on_every_backend(build, tmp_path):
    theirs, ours = build(keras), build(kir)
    ours.set_weights(theirs.get_weights())
    expected = np.asarray(theirs.predict(IDS, verbose=0))
    unmasked = build(kir, mask_zero=False)
    unmasked.set_weights(theirs.get_weights())
    assert np.abs(unmasked.predict(IDS) - expected).max() > 1e-4  # the masks matter (tolerance: ~1e-6)
    call = [v for v in map(ours.to_graph().vertex, ours.to_graph().vertex_ids()) if v.op == "Call"][0]
    assert [s.dtype for s in call.outputs] == ["float32", "bool"]  # the inner output's mask comes out
    for backend in BACKENDS:
        assert_close(ours.predict(IDS, backend=backend), expected, rtol=2e-6)
    ours.save(tmp_path / "m.kir")
    loaded = kir.models.load_model(tmp_path / "m.kir")
    for backend in BACKENDS:
        assert_close(loaded.predict(IDS, backend=backend), expected, rtol=2e-6)


@pytest.mark.parametrize("build", BUILDS, ids=["encoder", "sequential"])
def test_a_fit_step_through_a_nested_masked_model_matches_keras(build):
    theirs, ours = build(keras), build(kir)
    ours.set_weights(theirs.get_weights())
    theirs.compile(keras.optimizers.SGD(0.5), "binary_crossentropy")
    ours.compile(kir.optimizers.SGD(0.5), "binary_crossentropy")
    h_theirs = theirs.fit(IDS, TARGETS, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    h_ours = ours.fit(IDS, TARGETS, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=1e-5)


def test_a_nested_models_output_mask_weights_the_loss_like_keras():
    def build(lib):
        ids = lib.Input((STEPS,), dtype="int32")
        seq = lib.layers.LSTM(4, return_sequences=True)(lib.layers.Embedding(12, 3, mask_zero=True)(ids))
        encoder = lib.Model(ids, seq, name="encoder")
        outer_ids = lib.Input((STEPS,), dtype="int32")
        return lib.Model(outer_ids, lib.layers.Dense(1)(encoder(outer_ids)))  # the sequence output keeps the mask

    theirs, ours = build(keras), build(kir)
    ours.set_weights(theirs.get_weights())
    y = np.random.default_rng(0).normal(size=(len(IDS), STEPS, 1)).astype("float32")
    theirs.compile(keras.optimizers.SGD(0.1), "mse")
    ours.compile(kir.optimizers.SGD(0.1), "mse")
    h_theirs = theirs.fit(IDS, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    h_ours = ours.fit(IDS, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=1e-5)
