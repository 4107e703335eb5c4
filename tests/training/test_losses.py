"""kir.losses against Keras 3: same per-sample values and reduced values (1e-6 relative)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from keras.src.losses.losses import LossFunctionWrapper as _KerasWrapper  # noqa: E402

import kir.losses as L  # noqa: E402
from kir.errors import ConfigError  # noqa: E402

RNG = np.random.default_rng(0)
PROBS = RNG.uniform(0.01, 0.99, (6, 4)).astype("float32")
BIN = RNG.integers(0, 2, (6, 4)).astype("float32")
ONEHOT = np.eye(4, dtype="float32")[RNG.integers(0, 4, 6)]
REAL = RNG.normal(size=(6, 4)).astype("float32")
POS = RNG.uniform(0.1, 3, (6, 4)).astype("float32")

CASES = {
    "mse": (REAL, POS), "mae": (REAL, POS), "mape": (REAL, POS), "msle": (POS, POS[::-1]),
    "binary_crossentropy": (BIN, PROBS), "categorical_crossentropy": (ONEHOT, PROBS),
    "hinge": (BIN, REAL), "squared_hinge": (BIN, REAL), "kld": (PROBS[::-1], PROBS),
    "poisson": (POS, POS[::-1]), "cosine_similarity": (REAL, POS), "huber": (REAL, 2 * POS),
    "log_cosh": (REAL, POS), "categorical_hinge": (ONEHOT, REAL),
}

KERAS_FN = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "kld": "kl_divergence",
}


def _close(a, b, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_function_matches_keras_on_numpy_and_tf(name):
    y_true, y_pred = CASES[name]
    expected = getattr(keras.losses, KERAS_FN.get(name, name))(y_true, y_pred)
    _close(L.FUNCTIONS[name](y_true, y_pred), expected)
    _close(L.FUNCTIONS[name](tf.constant(y_true), tf.constant(y_pred)), expected)
    # reduced, as compile uses it, with sample weights
    sw = RNG.uniform(0, 2, 6).astype("float32")
    k = keras.losses.get(KERAS_FN.get(name, name))
    expected_red = _KerasWrapper(k)(y_true, y_pred, sample_weight=sw)
    _close(L.get(name)(y_true, y_pred, sample_weight=sw), expected_red)
    _close(L.get(name)(tf.constant(y_true), tf.constant(y_pred), sample_weight=tf.constant(sw)), expected_red)


def test_hinge_keeps_non_binary_labels():
    y = np.array([[-1.0, 1.0, 1.0]], "float32")
    _close(L.hinge(y, REAL[:1, :3]), keras.losses.hinge(y, REAL[:1, :3]))


@pytest.mark.parametrize("from_logits", [False, True])
def test_crossentropy_classes_with_logits(from_logits):
    logits = REAL
    y_pred = logits if from_logits else PROBS
    pairs = [
        (L.BinaryCrossentropy(from_logits=from_logits), keras.losses.BinaryCrossentropy(from_logits=from_logits), BIN),
        (L.CategoricalCrossentropy(from_logits=from_logits),
         keras.losses.CategoricalCrossentropy(from_logits=from_logits), ONEHOT),
        (L.SparseCategoricalCrossentropy(from_logits=from_logits),
         keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits), ONEHOT.argmax(-1)[:, None]),
    ]
    for ours, theirs, y_true in pairs:
        expected = theirs(y_true, y_pred)
        _close(ours(y_true, y_pred), expected, rtol=2e-6)
        _close(ours(tf.constant(y_true), tf.constant(y_pred)), expected, rtol=2e-6)


def test_label_smoothing_and_huber_delta():
    _close(L.BinaryCrossentropy(label_smoothing=0.1)(BIN, PROBS),
           keras.losses.BinaryCrossentropy(label_smoothing=0.1)(BIN, PROBS))
    _close(L.CategoricalCrossentropy(label_smoothing=0.2)(ONEHOT, PROBS),
           keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(ONEHOT, PROBS))
    _close(L.Huber(delta=0.3)(REAL, POS), keras.losses.Huber(delta=0.3)(REAL, POS))


def test_softmax_output_uses_logits_inside_tf_function_like_keras():
    """A graph tensor made by Softmax is replaced by its logits (Keras' _get_logits)."""
    logits = np.array([[30.0, -30.0, 0.0]], "float32")
    y = np.array([[0.0, 1.0, 0.0]], "float32")

    @tf.function
    def ours(x):
        return L.categorical_crossentropy(y, tf.nn.softmax(x))

    # exact from logits: 60 + log(1 + e^-30 + e^-60) ~ 60, not -log(1e-7) ~ 16.1
    assert float(ours(tf.constant(logits))[0]) == pytest.approx(60.0, rel=1e-5)


def test_sparse_labels_rank_one_and_two():
    y1 = ONEHOT.argmax(-1)
    _close(L.sparse_categorical_crossentropy(y1, PROBS), keras.losses.sparse_categorical_crossentropy(y1, PROBS))
    _close(L.sparse_categorical_crossentropy(y1[:, None], PROBS),
           keras.losses.sparse_categorical_crossentropy(y1[:, None], PROBS))


def test_binary_labels_rank_one_expand_to_outputs():
    y = BIN[:, 0]
    expected = keras.losses.BinaryCrossentropy()(y, PROBS[:, :1])
    _close(L.get("binary_crossentropy")(y, PROBS[:, :1]), expected)


def test_unknown_loss_name_suggests_close_match():
    with pytest.raises(ConfigError, match="unknown loss 'mean_squared_eror'.*Did you mean 'mean_squared_error'"):
        L.get("mean_squared_eror")


def test_user_function_and_class_lookup():
    def my_loss(y_true, y_pred):
        return L.mean_squared_error(y_true, y_pred) * 2

    loss = L.get(my_loss)
    assert loss.name == "my_loss"
    _close(loss(REAL, POS), 2 * keras.losses.MeanSquaredError()(REAL, POS))
    assert isinstance(L.get("Huber"), L.Huber)
    with pytest.raises(ConfigError, match="unknown argument"):
        L.BinaryCrossentropy(from_logit=True)
