"""add_loss inside NESTED models (issue 10): a functional, Sequential or subclassed model used as a
layer of another model brings its add_loss values and its layers' activity regularizers into the
outer model's training loss, once per call of the nested model, as Keras 3 collects `losses`
recursively over all sublayers. Each case trains 2 SGD epochs against a Keras 3 twin."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
import kir.backend as K  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.errors import ConfigError  # noqa: E402
from tests.tracing.penalties import KerasPenalty, Penalty  # noqa: E402

RNG = np.random.default_rng(10)
X = RNG.normal(size=(16, 3)).astype("float32")
Y = RNG.normal(size=(16, 2)).astype("float32")


def _inner(lib, penalty, width=4, activity=None):
    """Input(3) -> Dense(width, tanh) -> penalty -> Dense(3): a functional model that add_loss'es."""
    inp = lib.Input((3,))
    hidden = lib.layers.Dense(width, activation="tanh", activity_regularizer=activity)(inp)
    return lib.Model(inp, lib.layers.Dense(3)(penalty(0.05)(hidden)), name="inner")


def _fit_both(ours, theirs, y=Y, loss="mse"):
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.05), loss=loss)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss=loss)
    h1 = ours.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    h2 = theirs.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _functional_pair(twice=False, frozen=False, activity=None):
    """An outer functional model calling the inner one (twice: on its own output, shared)."""
    pairs = []
    for lib, penalty in ((kir, Penalty), (keras, KerasPenalty)):
        reg = None if activity is None else (kir if lib is kir else keras).regularizers.L2(activity)
        inner = _inner(lib, penalty, activity=reg)
        inner.trainable = not frozen
        inp = lib.Input((3,))
        h = inner(lib.layers.Dense(3)(inp))
        if twice:
            h = inner(h)
        pairs.append(lib.Model(inp, lib.layers.Dense(2)(h)))
    return pairs


def test_a_functional_model_inside_a_functional_model_trains_like_keras():
    ours, theirs = _functional_pair()
    assert len(ours.losses) == 1 and ours.losses[0].shape == ()
    _fit_both(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_nested_model_called_twice_contributes_twice():
    ours, theirs = _functional_pair(twice=True)
    assert len(ours.losses) == 2
    _fit_both(ours, theirs)


def test_a_frozen_nested_model_still_adds_its_losses():
    ours, theirs = _functional_pair(frozen=True)
    assert len(ours.losses) == 1
    before = [w.copy() for w in ours.get_layer("inner").get_weights()]
    _fit_both(ours, theirs)
    for a, b in zip(before, ours.get_layer("inner").get_weights()):
        np.testing.assert_array_equal(a, b)  # frozen: its loss trains the layers before it only


def test_activity_regularizers_of_nested_layers_are_collected():
    ours, theirs = _functional_pair(twice=True, activity=0.02)
    _fit_both(ours, theirs)


def test_a_subclassed_model_inside_a_sequential_trains_like_keras():
    class Net(kir.models.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden, self.reg, self.out = L.Dense(4, activation="tanh"), Penalty(0.05), L.Dense(3)

        def call(self, x):
            h = self.reg(self.hidden(x))
            self.add_loss(0.01 * K.mean(K.abs(h)))
            return self.out(h)

    class KerasNet(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(4, activation="tanh")
            self.reg, self.out = KerasPenalty(0.05), keras.layers.Dense(3)

        def call(self, x):
            h = self.reg(self.hidden(x))
            self.add_loss(0.01 * keras.ops.mean(keras.ops.abs(h)))
            return self.out(h)

    ours = kir.Sequential([kir.Input((3,)), Net(), L.Dense(2)])
    theirs = keras.Sequential([keras.Input((3,)), KerasNet(), keras.layers.Dense(2)])
    assert len(ours.losses) == 2
    _fit_both(ours, theirs)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # Keras: the output layer gets no gradient
def test_compile_without_loss_trains_on_the_nested_losses_only():
    ours, theirs = _functional_pair(twice=True)
    _fit_both(ours, theirs, y=None, loss=None)


def test_nested_losses_survive_save_and_load(tmp_path):
    ours, theirs = _functional_pair(twice=True)
    path = tmp_path / "nested.kir"
    ours.save(str(path))
    loaded = kir.models.load_model(str(path))
    assert len(loaded.losses) == 2
    theirs.set_weights(loaded.get_weights())
    loaded.compile(optimizer=kir.optimizers.SGD(learning_rate=0.05), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    ours_loss = loaded.evaluate(X, Y, batch_size=16, verbose=0)
    assert ours_loss == pytest.approx(theirs.evaluate(X, Y, batch_size=16, verbose=0), rel=1e-5)
    assert ours_loss > np.mean((loaded.predict(X) - Y) ** 2) + 1e-3


def test_an_activity_regularizer_inside_a_wrapper_is_still_refused_by_name():
    inp = kir.Input((5, 3))
    out = L.TimeDistributed(L.Dense(2, activity_regularizer="l2", name="per_step"))(inp)
    model = kir.Model(inp, out)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ConfigError, match=r"layer 'per_step' has an activity_regularizer but is inside a wrapper"):
        model.fit(np.zeros((2, 5, 3), "float32"), np.zeros((2, 5, 2), "float32"), verbose=0)


def test_a_functional_model_with_losses_inside_a_traced_call_is_refused_by_name():
    inner = _inner(kir, Penalty)

    class Block(L.Layer):
        def call(self, x):
            return inner(x)

    with pytest.raises(ConfigError, match=r"model 'inner' has add_loss\(\) values .* call 'inner' in the functional"):
        Block()(kir.Input((3,)))


def test_a_nested_model_whose_output_carries_a_mask_adds_its_losses():
    x = RNG.normal(size=(8, 5, 3)).astype("float32")
    x[:, 3:] = 0.0  # padded steps: the inner Masking's mask reaches the outer LSTM
    pairs = []
    for lib, penalty in ((kir, Penalty), (keras, KerasPenalty)):
        inp = lib.Input((5, 3))
        h = lib.layers.Masking()(penalty(0.05)(inp))
        h = lib.layers.Dense(4, activation="tanh", activity_regularizer=lib.regularizers.L2(0.02))(h)
        inner = lib.Model(inp, h, name="inner")
        outer_in = lib.Input((5, 3))
        pairs.append(lib.Model(outer_in, lib.layers.Dense(2)(lib.layers.LSTM(3)(inner(outer_in)))))
    ours, theirs = pairs
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.05), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    h1 = ours.fit(x, Y[:8], epochs=2, batch_size=4, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, Y[:8], epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
