"""`layer.trainable = False` then compile freezes the layer, as in Keras 3 (issue 9).

The training program is keyed on the graph's structure and trainable set, so a changed flag
gives a new graph and a new program; these tests pin that against Keras itself.
"""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def _freeze_and_train(lib, weights=None):
    a = lib.layers.Dense(3, activation="tanh", name="a")
    b = lib.layers.Dense(2, name="b")
    model = lib.models.Sequential([lib.Input(shape=(4,), name="x"), a, b])
    if weights is not None:
        model.set_weights(weights)
    x, y = _data()
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    after_first = [w.copy() for w in model.get_weights()]
    a.trainable = False
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    return model, after_first, [np.asarray(w) for w in model.get_weights()]


def test_freezing_after_fit_stops_training_the_layer():
    model, first, second = _freeze_and_train(kir)
    np.testing.assert_array_equal(second[0], first[0])  # a/kernel
    np.testing.assert_array_equal(second[1], first[1])  # a/bias
    assert not np.allclose(second[2], first[2])  # b/kernel still trains
    assert len(model.trainable_weights) == 2


@pytest.mark.keras
def test_freezing_after_fit_matches_keras():
    keras = pytest.importorskip("keras")
    start = [w.copy() for w in kir.models.Sequential([
        kir.Input(shape=(4,)), L.Dense(3, activation="tanh"), L.Dense(2)]).get_weights()]
    _, kir_first, kir_second = _freeze_and_train(kir, start)
    _, keras_first, keras_second = _freeze_and_train(keras, start)
    for got, want in zip(kir_first + kir_second, keras_first + keras_second):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_unfreezing_trains_again():
    a = L.Dense(3, name="thaw_a")
    model = kir.Sequential([kir.Input(shape=(4,)), a, L.Dense(2)])
    x, y = _data()
    a.trainable = False
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    frozen = a.get_weights()[0].copy()
    np.testing.assert_array_equal(frozen, a.get_weights()[0])
    a.trainable = True
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(a.get_weights()[0], frozen)


def test_a_frozen_nested_model_freezes_its_layers_and_batchnorm_statistics():
    inner = kir.Sequential([kir.Input(shape=(4,)), L.Dense(3), L.BatchNormalization()], name="frozen_inner")
    x_in = kir.Input(shape=(4,))
    model = kir.Model(x_in, L.Dense(2)(inner(x_in)))
    x, y = _data(seed=1)
    inner.trainable = False
    before = inner.get_weights()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x * 3 + 1, y, epochs=2, batch_size=8, verbose=0)
    for got, want in zip(inner.get_weights(), before):  # kernel, bias, gamma, beta, moving stats
        np.testing.assert_array_equal(got, want)
    graph = model.to_graph()
    inner_layers = {layer.name for layer in inner.layers}
    assert graph.attrs["frozen_layers"] == sorted(inner_layers | {inner.name})
    for key in graph.store.keys():
        assert graph.store.is_trainable(key) == (key.split("/")[0] not in inner_layers), key
