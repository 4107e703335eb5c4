"""Constraints run inside the optimizer step, as in Keras 3 (`BaseOptimizer.apply` assigns
`variable.constraint(variable)` after the update): a step that the mixed-precision
LossScaleOptimizer skips (non-finite gradients) projects nothing, nor does a variable without a
gradient. Compared with Keras 3 on the same mixed_float16 model, weights and overflowing batch."""

import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir.errors import ConfigError  # noqa: E402
from kir.optimizers import SGD, LossScaleOptimizer  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*on a host without a GPU/TPU:UserWarning")


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    kir.mixed_precision.set_global_policy(None)
    keras.mixed_precision.set_global_policy("float32")


def _model(lib):
    L = lib.layers
    inp = lib.Input((6,))
    x = L.Dense(5, activation="tanh", kernel_constraint="non_neg", bias_constraint="non_neg", name="d1")(inp)
    return lib.Model(inp, L.Dense(2, kernel_constraint=lib.constraints.MaxNorm(0.5), name="d2")(x))


def test_skipped_step_projects_nothing_like_keras():
    rng = np.random.default_rng(5)
    kir.mixed_precision.set_global_policy("mixed_float16")
    keras.mixed_precision.set_global_policy("mixed_float16")
    ours, theirs = _model(kir), _model(keras)
    start = [rng.normal(0, 0.5, w.shape).astype("float32") for w in ours.get_weights()]  # violate the constraints
    ours.set_weights(start)
    theirs.set_weights(start)
    ours.compile(SGD(0.1), "mse")
    theirs.compile(keras.optimizers.SGD(0.1), "mse")
    assert isinstance(ours.optimizer, LossScaleOptimizer)
    assert isinstance(theirs.optimizer, keras.optimizers.LossScaleOptimizer)
    x = rng.normal(size=(8, 6)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    huge = np.full_like(x, 1e6)  # overflows float16: non-finite gradients, the step is skipped
    ours.train_on_batch(huge, y)
    theirs.train_on_batch(huge, y)
    for a, b, s in zip(ours.get_weights(), theirs.get_weights(), start):
        np.testing.assert_array_equal(b, s)  # Keras: no update and no projection
        np.testing.assert_array_equal(a, s)
    assert float(ours.optimizer.dynamic_scale.numpy()) == float(theirs.optimizer.dynamic_scale.numpy()) == 2.0**14
    for _ in range(2):  # finite steps then update and project, in both
        lo, lk = ours.train_on_batch(x, y), theirs.train_on_batch(x, y)
        np.testing.assert_allclose(lo, lk, rtol=1e-2)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-3)
    assert (ours.get_layer("d1").get_weight("kernel") >= 0).all()
    assert np.linalg.norm(ours.get_layer("d2").get_weight("kernel"), axis=0).max() <= 0.5 + 1e-6
    assert int(ours.optimizer.iterations.numpy()) == int(theirs.optimizer.iterations.numpy()) == 2


def test_optimizer_apply_projects_updated_variables_only():
    v, w, u = tf.Variable([-1.0, 2.0]), tf.Variable([-3.0]), tf.Variable([-4.0])
    nonneg = kir.constraints.NonNeg()
    SGD(0.5).apply([tf.constant([2.0, 2.0]), None, tf.constant([0.0])], [v, w, u], [nonneg, nonneg, None])
    np.testing.assert_array_equal(v.numpy(), [0.0, 1.0])  # updated to [-2, 1], then projected
    np.testing.assert_array_equal(w.numpy(), [-3.0])  # no gradient: neither updated nor projected (Keras)
    opt = LossScaleOptimizer(SGD(0.5, weight_decay=0.5), initial_scale=2.0)
    opt.apply([tf.constant([np.inf, 0.0])], [v], [kir.constraints.MaxNorm(0.1)])
    np.testing.assert_array_equal(v.numpy(), [0.0, 1.0])  # skipped step: no decay, no projection (Keras)
    opt = LossScaleOptimizer(SGD(0.5), initial_scale=2.0)
    opt.apply([tf.constant([0.0, 0.0])], [v], [kir.constraints.MaxNorm(0.1)])
    np.testing.assert_allclose(v.numpy(), [0.0, 0.1], rtol=1e-6)
    with pytest.raises(ConfigError, match="got 1 constraints for 2 variables"):
        SGD(0.1).apply([tf.constant([1.0, 1.0]), tf.constant([1.0])], [v, w], [nonneg])


MIRRORED = '''
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import kir
from kir import layers

kir.mixed_precision.set_global_policy("mixed_float16")
inp = layers.Input((6,))
hidden = layers.Dense(16, activation="relu", kernel_constraint=kir.constraints.MaxNorm(0.3))(inp)
m = kir.models.Model(inp, layers.Dense(3, kernel_constraint="non_neg")(hidden))
rng = np.random.default_rng(0)
w0 = [rng.normal(0, 0.3, w.shape).astype("float32") for w in m.get_weights()]
m.set_weights(w0)
x, y = rng.random((64, 6)).astype("float32"), rng.random((64, 3)).astype("float32")
m.compile(kir.optimizers.SGD(0.05), "mse")
single = m.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False).history["loss"]
trained = m.get_weights()
m.set_weights(w0)
m.compile(kir.optimizers.SGD(0.05), "mse", distribute=tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
mirrored = m.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False).history["loss"]
np.testing.assert_allclose(mirrored, single, rtol=1e-2)
for a, b in zip(trained, m.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-3)
assert (m.layers[-1].get_weight("kernel") >= 0).all()
m.set_weights(w0)
m.fit(np.full_like(x, 1e6), y, batch_size=64, epochs=1, verbose=0)  # skipped cross-replica: no projection
for a, b in zip(w0, m.get_weights()):
    np.testing.assert_array_equal(a, b)
print("OK")
'''


@pytest.mark.slow  # ~10 s of CPU: a subprocess with two logical CPUs
def test_constraints_under_mirrored_strategy_and_loss_scaling():
    """MirroredStrategy decides the skip cross-replica; the constraints follow the same branch."""
    proc = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]
