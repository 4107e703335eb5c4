"""Training parity with Keras 3: same initial weights, same data, shuffle=False.

Per-epoch loss within 0.1% relative and final weights within 1e-4 (SGD, RMSprop, Adam,
Adagrad), BatchNormalization moving statistics too.
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir.zoo.guide import mlp_categorical  # noqa: E402


def mlp_pair(batchnorm: bool = False):
    """The same small MLP (8 -> 16 relu [-> BatchNormalization] -> 3 softmax) in kir and in Keras,
    Keras holding kir's initial weights."""
    ours = mlp_categorical(8, 16, 3, batchnorm=batchnorm)
    theirs = mlp_categorical(8, 16, 3, batchnorm=batchnorm, lib=keras)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def data(n=96, n_in=8, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype("float32")
    labels = rng.integers(0, n_out, n)
    return x, np.eye(n_out, dtype="float32")[labels], labels


OPTIMIZERS = [
    ("sgd", dict(learning_rate=0.05, momentum=0.9)),
    ("rmsprop", {}),
    ("adam", {}),
    ("adagrad", dict(learning_rate=0.05)),
]


def _fit_both(ours, theirs, opt_name, opt_kwargs, x, y, loss="categorical_crossentropy", epochs=4,
              batch_size=16, **compile_kw):
    ours.compile(optimizer=kir.optimizers.CLASSES[opt_name](**opt_kwargs), loss=loss, **compile_kw)
    theirs.compile(optimizer=keras.optimizers.get({"class_name": opt_name, "config": opt_kwargs}), loss=loss,
                   **compile_kw)
    h1 = ours.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    h2 = theirs.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return h1.history, h2.history


@pytest.mark.slow
@pytest.mark.parametrize("opt_name,opt_kwargs", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_training_follows_keras(opt_name, opt_kwargs):
    x, y, _ = data()
    ours, theirs = mlp_pair()
    h1, h2 = _fit_both(ours, theirs, opt_name, opt_kwargs, x, y, metrics=["accuracy"])
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-3)
    np.testing.assert_allclose(h1["accuracy"], h2["accuracy"], atol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.slow
def test_batchnorm_moving_statistics_follow_keras():
    x, y, _ = data()
    ours, theirs = mlp_pair(batchnorm=True)
    h1, h2 = _fit_both(ours, theirs, "sgd", dict(learning_rate=0.05), x, y, epochs=3)
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-3)
    bn, kbn = ours.layers[1], theirs.layers[1]
    names = [w.name for w in kbn.weights]
    for ours_w, theirs_w, name in zip(bn.get_weights(), kbn.get_weights(), names):
        np.testing.assert_allclose(ours_w, theirs_w, atol=1e-4, err_msg=name)
    assert not np.allclose(bn.get_weights()[2], 0)  # moving_mean moved


@pytest.mark.slow
def test_sparse_labels_sample_weights_and_evaluate_follow_keras():
    x, _, labels = data()
    ours, theirs = mlp_pair()
    sw = np.linspace(0.5, 1.5, len(x)).astype("float32")
    for m, opt in ((ours, kir.optimizers.Adam()), (theirs, keras.optimizers.Adam())):
        m.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h1 = ours.fit(x, labels[:, None], sample_weight=sw, epochs=2, batch_size=32, shuffle=False, verbose=0)
    h2 = theirs.fit(x, labels[:, None], sample_weight=sw, epochs=2, batch_size=32, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-3)
    np.testing.assert_allclose(h1.history["accuracy"], h2.history["accuracy"], atol=1e-6)
    r1 = ours.evaluate(x, labels, batch_size=20, verbose=0)
    r2 = theirs.evaluate(x, labels, batch_size=20, verbose=0)
    np.testing.assert_allclose(r1, r2, rtol=1e-4)
