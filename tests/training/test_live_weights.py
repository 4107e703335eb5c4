"""Weights seen and set by callbacks mid-fit (issue 14 leftovers): any layer's weight read, nested
models included, sees the values trained so far; `set_weights` from a callback takes effect at the
next step, all weights of the call or none. Keras 3 is the oracle."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import kir  # noqa: E402
from kir import callbacks, layers  # noqa: E402
from kir.errors import ConfigError  # noqa: E402
from kir.ir import live  # noqa: E402


def _pair(nested: bool = False):
    """The same 4 -> 3 -> 1 model in kir and Keras (Keras holding kir's initial weights); `nested`:
    the hidden layer inside an inner model."""
    kir.utils.set_random_seed(0)
    built = []
    for lib in (kir, keras):
        inp = lib.layers.Input((4,))
        hidden = lib.layers.Dense(3, activation="tanh", name="hidden")
        if nested:
            inner_in = lib.layers.Input((4,))
            hidden = lib.models.Model(inner_in, hidden(inner_in), name="inner")
        out = lib.layers.Dense(1, name="out")(hidden(inp))
        model = lib.models.Model(inp, out)
        opt = (kir.optimizers.SGD if lib is kir else keras.optimizers.SGD)(0.1)
        model.compile(opt, "mse")
        built.append(model)
    ours, theirs = built
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 4)).astype("float32")
    return x, (np.sin(x.sum(1, keepdims=True))).astype("float32")


def _hidden(model):
    layer = model.get_layer("inner").get_layer("hidden") if "inner" in [la.name for la in model.layers] \
        else model.get_layer("hidden")
    return layer


def _fit(model, cb, x, y):
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[cb])


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_sub_layer_reads_mid_epoch_see_trained_values(nested):
    ours, theirs = _pair(nested)
    x, y = _data()
    seen = {"kir": [], "keras": []}
    for name, model in (("kir", ours), ("keras", theirs)):
        hidden = _hidden(model)
        cb = (callbacks if name == "kir" else keras.callbacks).LambdaCallback(
            on_train_batch_end=lambda b, logs, h=hidden, m=model, s=seen[name]: s.append(
                [*h.get_weights(), *[np.array(w) for w in m.get_layer("out").weights]]))
        _fit(model, cb, x, y)
    assert len(seen["kir"]) == len(seen["keras"]) == 8
    for step, (ours_w, theirs_w) in enumerate(zip(seen["kir"], seen["keras"])):
        for a, b in zip(ours_w, theirs_w):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"batch {step}")
    assert not np.array_equal(seen["kir"][0][0], seen["kir"][1][0])  # really changing per batch
    assert live.SOURCES == []  # the fit unregistered itself


def test_custom_layer_variable_reads_are_live():
    """A layer's `Variable` (what `add_weight` returns, e.g. `self.w`) reads the current value too."""

    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

    kir.utils.set_random_seed(0)
    inp = layers.Input((4,))
    scale = Scale(name="scale")
    model = kir.models.Model(inp, layers.Dense(1)(scale(inp)))
    model.compile(kir.optimizers.SGD(0.1), "mse")
    x, y = _data()
    seen = []
    cb = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(
        (np.array(scale.w), model.get_weights()[0])))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    for via_variable, via_model in seen:
        np.testing.assert_array_equal(via_variable, via_model)
    assert not np.array_equal(seen[0][0], np.ones(4, "float32"))


@pytest.mark.parametrize("target", ["model", "layer"])
def test_set_weights_in_a_callback_takes_effect_at_the_next_step(target):
    ours, theirs = _pair()
    x, y = _data()
    k = 2
    results = {}
    for name, model in (("kir", ours), ("keras", theirs)):
        starts = []

        def on_end(batch, logs, model=model):
            if batch == k:
                if target == "model":
                    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
                else:
                    out = model.get_layer("out")
                    out.set_weights([np.zeros_like(w) for w in out.get_weights()])

        def on_begin(batch, logs, model=model, starts=starts):
            if batch == k + 1:
                starts.append([np.array(w) for w in model.get_weights()])

        lib = callbacks if name == "kir" else keras.callbacks
        cb = lib.LambdaCallback(on_train_batch_end=on_end, on_train_batch_begin=on_begin)
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
        results[name] = (starts, model.get_weights())
    (ours_start,), ours_end = results["kir"]
    (theirs_start,), theirs_end = results["keras"]
    zeroed = slice(0, 4) if target == "model" else slice(2, 4)
    for w in ours_start[zeroed]:
        assert not w.any()  # the step after batch k starts from the zeros
    for a, b in zip(ours_start + ours_end, theirs_start + theirs_end):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not all(np.array_equal(a, b) for a, b in zip(ours_end, ours_start))  # and trains on


def test_set_weights_in_a_callback_is_all_or_nothing():
    """A set_weights call that fails (one array of the wrong shape) changes nothing, mid-fit as
    before: the run equals one without the callback."""
    ours, _ = _pair()
    plain, _ = _pair()
    x, y = _data()
    errors = []

    def on_end(batch, logs):
        zeros = [np.zeros_like(w) for w in ours.get_weights()]
        zeros[3] = np.zeros((2,), "float32")
        try:
            ours.set_weights(zeros)
        except ConfigError as exc:
            errors.append(str(exc))

    ours.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
             callbacks=[callbacks.LambdaCallback(on_train_batch_end=on_end)])
    plain.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert len(errors) == 4 and "weight 'bias' must have shape (1,), got (2,)" in errors[0]
    for a, b in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_set_weights_in_on_epoch_end_reaches_the_next_epoch_on_the_fast_path():
    """No batch callback: epochs run several steps per call; weights set at an epoch's end are
    where the next epoch starts (as in Keras)."""
    ours, theirs = _pair()
    x, y = _data()
    for model, lib in ((ours, callbacks), (theirs, keras.callbacks)):
        cb = lib.LambdaCallback(on_epoch_end=lambda epoch, logs, m=model: epoch == 0 and m.set_weights(
            [np.full_like(w, 0.1) for w in m.get_weights()]))
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
