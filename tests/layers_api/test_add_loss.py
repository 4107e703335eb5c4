"""Model.add_loss on symbolic tensors of the model's graph, compile() without a loss, fit(x) without y.

Keras 3 takes add_loss inside a layer's call(); its twin here is a pass-through layer calling
`self.add_loss(ops.sum(x))` on the same tensor, so both sum the tensor into the loss each step."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
import kir.backend as K  # noqa: E402
from kir.errors import ConfigError, GraphError  # noqa: E402
from kir.layers import Dense  # noqa: E402

RNG = np.random.default_rng(4)
X = RNG.normal(size=(24, 5)).astype("float32")
Y = RNG.normal(size=(24, 2)).astype("float32")


class AddSum(keras.layers.Layer):
    def call(self, x):
        self.add_loss(keras.ops.sum(x))
        return x


def _pair():
    inp = kir.Input((5,))
    hidden = Dense(3, activation="sigmoid")(inp)
    ours = kir.Model(inp, Dense(2)(hidden))
    ours.add_loss(hidden)
    kinp = keras.Input((5,))
    khidden = AddSum()(keras.layers.Dense(3, activation="sigmoid")(kinp))
    theirs = keras.Model(kinp, keras.layers.Dense(2)(khidden))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _check(h1, h2, ours, theirs):
    for key in h2:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_added_loss_is_summed_into_the_loss_like_keras():
    ours, theirs = _pair()
    assert ours.losses == [ours.layers[1].output]
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.01), loss="mse", jit_compile=False)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    h1 = ours.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    h2 = theirs.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    _check(h1, h2, ours, theirs)
    assert ours.evaluate(X, Y, batch_size=8, verbose=0) == pytest.approx(
        theirs.evaluate(X, Y, batch_size=8, verbose=0), rel=1e-5)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # Keras: the output layer gets no gradient
def test_compile_without_loss_and_fit_without_targets_like_keras():
    ours, theirs = _pair()
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.01), jit_compile=False)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01))
    h1 = ours.fit(X, batch_size=8, epochs=2, shuffle=False, verbose=0, validation_data=(X[:8], None)).history
    h2 = theirs.fit(X, batch_size=8, epochs=2, shuffle=False, verbose=0, validation_data=(X[:8], None)).history
    assert set(h1) == set(h2) == {"loss", "val_loss"}
    _check(h1, h2, ours, theirs)
    assert ours.train_on_batch(X[:8]) == pytest.approx(theirs.train_on_batch(X[:8]), rel=1e-5)
    assert ours.evaluate(X, verbose=0) == pytest.approx(theirs.evaluate(X, verbose=0), rel=1e-5)


def test_add_loss_takes_lists_and_functions_and_refuses_the_rest():
    inp = kir.Input((5,))
    a = Dense(2)(inp)
    b = Dense(1)(a)
    model = kir.Model(inp, b)
    model.add_loss(lambda: [a, b])
    assert model.losses == [a, b]
    graph, extra = model.training_graph()
    assert len(graph.outputs) == 3 and extra.added == (1, 2)
    # layers that only the loss uses are trained and regularized too
    branch = Dense(1, kernel_regularizer="l2", activity_regularizer="l1", name="loss_branch")
    model.add_loss(branch(a))
    graph, extra = model.training_graph()
    assert [k for k, _ in extra.weights] == ["loss_branch/kernel"] and "loss_branch/kernel" in graph.store
    assert len(graph.outputs) == 5 and extra.activity[0][0] == 1 and extra.added == (2, 3, 4)
    assert model.to_graph().outputs != graph.outputs  # predict keeps the model's own graph
    with pytest.raises(ConfigError, match="add_loss takes symbolic tensors"):
        model.add_loss(0.5)
    with pytest.raises(GraphError, match="add_loss: .*disconnected"):
        model.add_loss(Dense(1)(kir.Input((5,))))
    plain = kir.Model(inp, b)
    plain.compile(optimizer="sgd", jit_compile=False)
    with pytest.raises(ConfigError, match="no loss to train on"):
        plain.fit(X, verbose=0)


def test_vae_style_loss_from_model_tensors():
    inp = kir.Input((5,))
    h = Dense(4, activation="relu")(inp)
    z_mean, z_log_var = Dense(2)(h), Dense(2)(h)
    out = Dense(5)(Dense(4, activation="relu")(z_mean))
    vae = kir.Model(inp, out)
    reconstruction = K.sum(K.square(inp - out), axis=-1)
    kl = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    vae.add_loss(K.mean(reconstruction + kl))
    vae.compile(optimizer="rmsprop", jit_compile=False)
    history = vae.fit(X, epochs=2, batch_size=8, verbose=0, validation_data=(X, None)).history
    assert np.all(np.isfinite(history["loss"])) and "val_loss" in history
    o, m, v = kir.Model(inp, [out, z_mean, z_log_var]).predict(X)
    expected = np.mean(np.sum((X - o) ** 2, -1) - 0.5 * np.sum(1 + v - m ** 2 - np.exp(v), -1))
    assert vae.evaluate(X, batch_size=len(X), verbose=0) == pytest.approx(expected, rel=1e-5)
