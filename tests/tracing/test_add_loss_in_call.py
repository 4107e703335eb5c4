"""`self.add_loss(value)` inside a subclassed layer's call() (keras.io's activity-regularization
pattern): the traced value is summed into the training loss as Keras does, survives saving, and
is refused outside call() with a message saying where it works."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.errors import ConfigError  # noqa: E402
from tests.tracing.penalties import KerasPenalty, Penalty  # noqa: E402

RNG = np.random.default_rng(21)
X = RNG.normal(size=(16, 3)).astype("float32")
Y = RNG.normal(size=(16, 2)).astype("float32")


def _pair():
    inp = kir.Input((3,))
    ours = kir.Model(inp, L.Dense(2)(Penalty(0.05)(L.Dense(4, activation="tanh")(inp))))
    kinp = keras.Input((3,))
    kout = keras.layers.Dense(2)(KerasPenalty(0.05)(keras.layers.Dense(4, activation="tanh")(kinp)))
    theirs = keras.Model(kinp, kout)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _fit_both(ours, theirs, y=Y, loss="mse"):
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.05), loss=loss)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss=loss)
    h1 = ours.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    h2 = theirs.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_add_loss_in_a_layer_call_trains_like_keras():
    ours, theirs = _pair()
    assert len(ours.losses) == 1 and ours.losses[0].shape == ()
    _fit_both(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # Keras: the output layer gets no gradient
def test_compile_without_loss_trains_on_the_added_loss_only():
    ours, theirs = _pair()
    _fit_both(ours, theirs, y=None, loss=None)


def test_the_added_loss_survives_save_and_load(tmp_path):
    ours, theirs = _pair()
    path = tmp_path / "reg.kir"
    ours.save(str(path))
    loaded = kir.models.load_model(str(path))
    assert len(loaded.losses) == 1
    loaded.compile(optimizer=kir.optimizers.SGD(learning_rate=0.05), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    assert loaded.evaluate(X, Y, batch_size=16, verbose=0) == pytest.approx(
        theirs.evaluate(X, Y, batch_size=16, verbose=0), rel=1e-5)
    assert loaded.evaluate(X, Y, batch_size=16, verbose=0) > np.mean((loaded.predict(X) - Y) ** 2) + 1e-3


def test_add_loss_outside_call_is_refused():
    layer = Penalty()
    with pytest.raises(ConfigError, match=r"layer 'penalty.*': add_loss\(\) works inside"):
        layer.add_loss(1.0)


def test_a_layer_loss_inside_a_subclassed_model_trains_like_keras():
    class Net(kir.models.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.reg, self.out = L.Dense(4, activation="tanh"), Penalty(0.05), L.Dense(2)

        def call(self, x):
            return self.out(self.reg(self.hidden(x)))

    class KerasNet(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(4, activation="tanh")
            self.reg, self.out = KerasPenalty(0.05), keras.layers.Dense(2)

        def call(self, x):
            return self.out(self.reg(self.hidden(x)))

    ours, theirs = Net(), KerasNet()
    ours.build((None, 3))
    theirs(X[:1])
    theirs.set_weights(ours.get_weights())
    assert len(ours.losses) == 1
    _fit_both(ours, theirs)
