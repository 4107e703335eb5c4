"""Training through traced code on the TensorFlow backend follows Keras: a subclassed layer's
weights (Param vertices) train, and a short SGD fit from copied weights ends at Keras' weights."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
import kir.backend as K  # noqa: E402
from kir import layers as L  # noqa: E402
from tests.tracing.test_vs_keras import antirectifier_pair  # noqa: E402


def test_short_sgd_fit_through_a_traced_layer_follows_keras():
    ours, theirs, layer = antirectifier_pair()
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 3)).astype("float32")
    before = layer.get_weights()[0].copy()
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    h1 = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-4)
    assert not np.allclose(layer.get_weights()[0], before)  # the traced layer's own weight trained
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_frozen_traced_layer_keeps_its_weights_an_unfrozen_one_trains():
    class Noisy(L.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale + 0.1 * K.random_normal(K.shape(x))

    x = L.Input((4,))
    noisy = Noisy()
    model = kir.Model(x, L.Dense(1)(noisy(x)))
    data = np.ones((16, 4), "float32"), np.zeros((16, 1), "float32")
    noisy.trainable = False
    model.compile(optimizer="sgd", loss="mse")
    model.fit(*data, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_array_equal(noisy.get_weights()[0], np.ones(4, "float32"))
    noisy.trainable = True
    model.compile(optimizer="sgd", loss="mse")
    model.fit(*data, epochs=1, batch_size=4, verbose=0)
    assert not np.allclose(noisy.get_weights()[0], 1.0)
