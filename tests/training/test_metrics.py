"""kir.metrics against Keras 3 metrics: values, running means, 'accuracy' resolution."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir.backend as K  # noqa: E402
import kir.metrics as M  # noqa: E402
from kir.errors import ConfigError  # noqa: E402
from kir.utils.categorical import to_categorical  # noqa: E402

RNG = np.random.default_rng(2)
P = RNG.uniform(size=(8, 5)).astype("float32")
Y_SPARSE = RNG.integers(0, 5, (8, 1))
Y_ONEHOT = np.eye(5, dtype="float32")[Y_SPARSE[:, 0]]
P_BIN = RNG.uniform(size=(8, 1)).astype("float32")
Y_BIN = RNG.integers(0, 2, (8, 1)).astype("float32")

CASES = [
    ("binary_accuracy", "BinaryAccuracy", Y_BIN, P_BIN),
    ("categorical_accuracy", "CategoricalAccuracy", Y_ONEHOT, P),
    ("sparse_categorical_accuracy", "SparseCategoricalAccuracy", Y_SPARSE, P),
    ("top_k_categorical_accuracy", "TopKCategoricalAccuracy", Y_ONEHOT, P),
    ("mse", "MeanSquaredError", Y_ONEHOT, P),
    ("mae", "MeanAbsoluteError", Y_ONEHOT, P),
]


@pytest.mark.parametrize("name,kname,y,p", CASES, ids=[c[0] for c in CASES])
def test_running_mean_matches_keras_over_batches(name, kname, y, p):
    ours, theirs = M.get(name), getattr(keras.metrics, kname)()
    sw = RNG.uniform(size=(8,)).astype("float32")
    for sl in (slice(0, 3), slice(3, 8)):
        ours.update_state(y[sl], p[sl], sample_weight=sw[sl])
        theirs.update_state(y[sl], p[sl], sample_weight=sw[sl])
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-6)
    # same numbers computed from TF tensors (as inside the training program)
    total, count = M.get(name).batch_stats(tf.constant(y), tf.constant(p))
    theirs.reset_state()
    theirs.update_state(y, p)
    assert float(total) / float(count) == pytest.approx(float(theirs.result()), rel=1e-6)


@pytest.mark.parametrize(
    "y_shape,p_shape,kind",
    [((None, 1), (None, 1), "binary"), ((None, 10), (None, 10), "categorical"),
     ((None, 1), (None, 10), "sparse_categorical"), ((None,), (None, 10), "sparse_categorical"),
     ((None,), (None, 1), "binary")],
)
def test_accuracy_resolution_follows_keras(y_shape, p_shape, kind):
    from keras.src.trainers.compile_utils import is_binary_or_sparse_categorical

    class S:
        def __init__(self, shape):
            self.shape = shape

    is_bin, is_sparse = is_binary_or_sparse_categorical(S(y_shape), S(p_shape))
    keras_kind = "binary" if is_bin else "sparse_categorical" if is_sparse else "categorical"
    assert M.accuracy_kind(y_shape, p_shape) == keras_kind == kind
    m = M.get("acc", y_shape, p_shape)
    assert m.name == "acc" and m.fn is M.FUNCTIONS[f"{kind}_accuracy"]


def test_scalar_user_metric_counts_once_per_batch_like_keras():
    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    ours = M.get(mean_pred)
    theirs = keras.metrics.MeanMetricWrapper(lambda t, p: keras.ops.mean(p))
    for sl in (slice(0, 2), slice(2, 8)):
        ours.update_state(Y_BIN[sl], P_BIN[sl])
        theirs.update_state(Y_BIN[sl], P_BIN[sl])
    assert ours.name == "mean_pred"
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-6)


def test_unknown_metric_name():
    with pytest.raises(ConfigError, match="unknown metric 'acuracy'.*Did you mean 'accuracy'"):
        M.get("acuracy")


def test_to_categorical_matches_keras():
    labels = RNG.integers(0, 10, (20, 1))
    np.testing.assert_array_equal(to_categorical(labels, num_classes=10),
                                  keras.utils.to_categorical(labels, num_classes=10))
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), keras.utils.to_categorical([0, 2, 1]))
    assert to_categorical(labels, 10).dtype == np.float32
    with pytest.raises(ConfigError, match="num_classes=3"):
        to_categorical([0, 5], num_classes=3)


def test_backend_dispatch_numpy_and_tf():
    x = RNG.normal(size=(3, 4)).astype("float32")
    for fn, kfn in [(K.mean, keras.ops.mean), (K.std, keras.ops.std), (K.var, keras.ops.var),
                    (K.max, keras.ops.max), (K.sum, keras.ops.sum)]:
        np.testing.assert_allclose(fn(x, axis=1, keepdims=True), kfn(x, axis=1, keepdims=True), rtol=1e-6)
        out = fn(tf.constant(x), axis=1)
        assert isinstance(out, tf.Tensor)
        np.testing.assert_allclose(out.numpy(), kfn(x, axis=1), rtol=1e-6)
    assert isinstance(K.mean(x), np.floating)
    np.testing.assert_allclose(K.softmax(x), keras.ops.softmax(x), rtol=1e-6)
    np.testing.assert_allclose(K.clip(tf.constant(x), 0.0, 0.5), np.clip(x, 0, 0.5))
    assert K.epsilon() == 1e-7 and K.floatx() == "float32"
