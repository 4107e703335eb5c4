"""A subclassed layer that sets `supports_masking = True` (in the class or in `__init__`, as keras.io
does) passes its input's mask on, as Keras 3's `Layer.__call__` does; without it the mask stops
there, as in Keras. Checked against Keras twins in predict and in 2 SGD epochs, and through .kir."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

RNG = np.random.default_rng(4)
X = RNG.integers(1, 20, (16, 6))
X[:, 4:] = 0
X[3, 2:] = 0
Y = RNG.normal(size=(16, 1)).astype("float32")


def scale_class(base, masking: str):
    """A layer doubling its input; `masking`: 'class', 'init' (set in __init__) or 'none'."""

    class Scale(base):
        if masking == "class":
            supports_masking = True

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if masking == "init":
                self.supports_masking = True

        def call(self, inputs):
            return inputs * 2.0

    return Scale


def twins(masking: str):
    models = []
    for lib in (kir, keras):
        inp = lib.Input(shape=(6,), dtype="int32")
        h = lib.layers.Embedding(20, 4, mask_zero=True)(inp)
        h = scale_class(lib.layers.Layer, masking)()(h)
        h = lib.layers.LSTM(3)(h)
        models.append(lib.models.Model(inp, lib.layers.Dense(1)(h)))
    ours, theirs = models
    theirs.set_weights(ours.get_weights())
    return ours, theirs


@pytest.mark.filterwarnings("ignore:.*does not support masking:UserWarning")
@pytest.mark.parametrize("masking", ["class", "init", "none"])
def test_masks_pass_a_subclassed_layer_as_in_keras(masking, tmp_path):
    ours, theirs = twins(masking)
    want = theirs.predict(X, verbose=0)
    assert_close(ours.predict(X), want, rtol=1e-6)
    path = str(tmp_path / "m.kir")
    ours.save(path)
    assert_close(kir.models.load_model(path).predict(X), want, rtol=1e-6)
    ours.compile(optimizer=kir.optimizers.SGD(0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours_loss = ours.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)
    for got, exp in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert_close(got, exp, rtol=1e-5)


def test_the_mask_matters_here():
    """The masked and unmasked twins differ, so the parity above is about the mask."""
    masked, _ = twins("class")
    unmasked, _ = twins("none")
    unmasked.set_weights(masked.get_weights())
    assert np.abs(masked.predict(X) - unmasked.predict(X)).max() > 1e-3
