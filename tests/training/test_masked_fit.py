"""Training with masks follows Keras 3: an IMDB-style model with Embedding(mask_zero=True) on left-
and right-padded batches (same initial weights, shuffle=False) has Keras' loss curve, and then
Keras' predictions on every backend; a sequence output's mask weights the loss and the metrics
as Keras' `apply_mask` does (mean over the real steps only).

SGD: Adam amplifies last-bit differences in the embedding gradients (also without masks), which
would hide what these tests check.
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

STEPS = 10


def _padded(n: int = 48, seed: int = 0) -> np.ndarray:
    """Word ids: even rows padded in front, odd rows behind, lengths 1..STEPS."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, STEPS), "int32")
    for i, length in enumerate(rng.integers(1, STEPS + 1, n)):
        words = rng.integers(1, 40, length)
        if i % 2:
            x[i, :length] = words
        else:
            x[i, STEPS - length:] = words
    return x


def _imdb(lib):
    L = lib.layers
    ids = lib.Input((STEPS,), dtype="int32")
    h = L.Bidirectional(L.LSTM(6))(L.Embedding(40, 8, mask_zero=True)(ids))
    return lib.Model(ids, L.Dense(1, activation="sigmoid")(h))


def _tagger(lib):
    L = lib.layers
    ids = lib.Input((STEPS,), dtype="int32")
    h = L.GRU(6, return_sequences=True)(L.Embedding(40, 8, mask_zero=True)(ids))
    return lib.Model(ids, L.Dense(3, activation="softmax")(h))


def _fit_both(build, y, loss, epochs=3, **fit):
    x = _padded()
    theirs, ours = build(keras), build(kir)
    ours.set_weights(theirs.get_weights())
    theirs.compile(keras.optimizers.SGD(0.5), loss, metrics=["accuracy"])
    ours.compile(kir.optimizers.SGD(0.5), loss, metrics=["accuracy"])
    h_theirs = theirs.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0, **fit).history
    h_ours = ours.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0, **fit).history
    return x, theirs, ours, h_theirs, h_ours


def test_imdb_style_masked_lstm_trains_like_keras_on_left_and_right_padding():
    y = np.random.default_rng(1).integers(0, 2, (48, 1)).astype("float32")
    x, theirs, ours, h_theirs, h_ours = _fit_both(_imdb, y, "binary_crossentropy")
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=1e-5)
    np.testing.assert_allclose(h_ours["accuracy"], h_theirs["accuracy"], atol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    expected = theirs.predict(x, verbose=0)
    for backend in ("numpy", "tensorflow", "onnx"):
        assert_close(ours.predict(x, backend=backend), expected, rtol=1e-5)


def test_a_sequence_output_mask_weights_the_loss_and_metrics_like_keras():
    y = np.random.default_rng(2).integers(0, 3, (48, STEPS))
    sw = np.linspace(0.5, 1.5, 48 * STEPS).astype("float32").reshape(48, STEPS)  # per step, as Keras needs
    x, theirs, ours, h_theirs, h_ours = _fit_both(_tagger, y, "sparse_categorical_crossentropy", epochs=2,
                                                  sample_weight=sw)
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=1e-5)
    np.testing.assert_allclose(h_ours["accuracy"], h_theirs["accuracy"], atol=1e-6)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
