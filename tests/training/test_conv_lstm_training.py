"""ConvLSTM2D on the TensorFlow backend: predict equals the numpy reference, and training follows
Keras 3 (same weights, same data, SGD: same losses and weights after the steps)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir.layers import ConvLSTM1D, ConvLSTM2D, Dense, Flatten, Input  # noqa: E402
from kir.models import Model, Sequential  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

CASES = [
    (ConvLSTM2D, (6, 5, 2), dict(filters=3, kernel_size=3, padding="same", return_sequences=True)),
    (ConvLSTM2D, (7, 5, 2), dict(filters=2, kernel_size=3, strides=(2, 1), return_state=True)),
    (ConvLSTM2D, (6, 5, 1), dict(filters=2, kernel_size=2, dilation_rate=2, go_backwards=True,
                                 return_sequences=True)),
    (ConvLSTM1D, (7, 2), dict(filters=3, kernel_size=2, padding="same", return_state=True)),
]


@pytest.mark.parametrize("cls,step,config", CASES, ids=["same_seq", "strides_state", "dilated_backwards", "1d"])
def test_tensorflow_predict_matches_numpy(cls, step, config):
    inp = Input((None, *step))
    layer = cls(**config)
    model = Model(inp, layer(inp))
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in layer.get_weights()])
    for batch, steps in ((1, 4), (3, 2)):
        x = rng.normal(size=(batch, steps, *step)).astype("float32")
        got, want = model.predict(x, backend="tensorflow"), model.predict(x, backend="numpy")
        for g, w in zip(got if isinstance(got, list) else [got], want if isinstance(want, list) else [want]):
            assert_close(g, w)


def pair(lib, **config):
    """ConvLSTM2D -> Flatten -> Dense(1) in kir or Keras."""
    return lib.Sequential([lib.layers.Input((3, 5, 4, 2)) if lib is keras else kir.layers.Input((3, 5, 4, 2)),
                           lib.layers.ConvLSTM2D(2, 3, padding="same", **config), lib.layers.Flatten(),
                           lib.layers.Dense(1)])


def test_sgd_steps_follow_keras():
    ours, theirs = pair(kir), pair(keras)
    theirs.set_weights(ours.get_weights())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 5, 4, 2)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    before = [w.copy() for w in ours.get_weights()]
    h1 = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-4)
    for a, b, start in zip(ours.get_weights(), theirs.get_weights(), before):
        assert not np.allclose(a, start)  # gradients reached every weight, recurrent kernel included
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_dropout_trains_and_is_off_in_inference():
    model = Sequential([ConvLSTM2D(2, 3, padding="same", dropout=0.5, recurrent_dropout=0.5, seed=1,
                                   input_shape=(3, 5, 4, 2)), Flatten(), Dense(1)])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3, 5, 4, 2)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    model.compile(optimizer="sgd", loss="mse")
    kernel = model.layers[0].get_weights()[1].copy()
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert not np.allclose(model.layers[0].get_weights()[1], kernel)  # the masked recurrent path trains
    train_loss = model.evaluate(x, y, verbose=0)
    assert_close(model.predict(x, backend="tensorflow"), model.predict(x, backend="numpy"))
    assert np.isfinite(train_loss)


def test_dropout_masks_apply_only_while_training():
    import tensorflow as tf

    from kir.backends.tensorflow.context import TensorFlowContext
    from kir.backends.tensorflow.lowerings.conv_recurrent import conv_lstm

    rng = np.random.default_rng(2)
    params = {"kernel": tf.constant(rng.normal(0, 0.4, (3, 3, 2, 8)), "float32"),
              "recurrent_kernel": tf.constant(rng.normal(0, 0.4, (3, 3, 2, 8)), "float32"),
              "bias": tf.zeros(8)}
    x = tf.constant(rng.normal(size=(2, 3, 5, 4, 2)), "float32")
    attrs = {"filters": 2, "kernel_size": [3, 3], "padding": "same", "return_sequences": True, "seed": 5}

    def out(training, **rates):
        return conv_lstm(TensorFlowContext(training), {**attrs, **rates}, [x], params)[0].numpy()

    plain = out(False)
    assert_close(out(False, dropout=0.5, recurrent_dropout=0.5), plain)
    for rates in ({"dropout": 0.5}, {"recurrent_dropout": 0.5}):
        masked = out(True, **rates)
        assert not np.allclose(masked, plain)
        assert_close(out(True, **rates), masked)  # same seed and step: the same masks
