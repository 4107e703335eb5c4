"""Sparse gradients (an Embedding's tf.IndexedSlices) step for step against Keras 3's optimizers.

Keras squares / abs-es each slice before repeated rows are summed, clips per-slice norms and
scatters updates, so a densified gradient drifts (Adam: ~7e-3 on an IMDB-style model after 3
epochs) whenever a token occurs twice in a batch; kir keeps the slices and does the same.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
import kir.optimizers as O  # noqa: E402

RNG = np.random.default_rng(3)
VOCAB, DIM = 6, 3
INIT = RNG.normal(size=(VOCAB, DIM)).astype("float32")
# rows 0 and 2 repeated within a step, row 5 never looked up (its slot and weight rows)
INDICES = [np.array([0, 2, 0, 3, 2, 0], "int32"), np.array([1, 1, 4, 0, 4, 4], "int32"),
           np.array([2, 3, 2, 2, 1, 0], "int32")]
VALUES = [RNG.normal(size=(len(i), DIM)).astype("float32") * 2 for i in INDICES]

CONFIGS = [
    ("Adam", {"learning_rate": 0.05}), ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("AdamW", {"learning_rate": 0.05}), ("Nadam", {"learning_rate": 0.05}),
    ("Adamax", {"learning_rate": 0.05}), ("RMSprop", {"learning_rate": 0.05}),
    ("RMSprop", {"learning_rate": 0.05, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}), ("Adadelta", {"learning_rate": 1.0}),
    ("SGD", {"learning_rate": 0.1}), ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"learning_rate": 0.05, "clipnorm": 1.0}), ("Adam", {"learning_rate": 0.05, "global_clipnorm": 1.0}),
    ("Adagrad", {"learning_rate": 0.1, "clipvalue": 0.5}),
]


def _slices(step: int, dense: bool = False):
    g = tf.IndexedSlices(tf.constant(VALUES[step]), tf.constant(INDICES[step]), tf.constant([VOCAB, DIM]))
    return tf.convert_to_tensor(g) if dense else g


@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=[f"{c}-{k}" for c, k in CONFIGS])
def test_sparse_steps_match_keras(cls, kwargs):
    ours, theirs = tf.Variable(INIT), keras.Variable(INIT)
    opt, kopt = getattr(O, cls)(**kwargs), getattr(keras.optimizers, cls)(**kwargs)
    for step in range(len(INDICES)):
        opt.apply([_slices(step)], [ours])
        kopt.apply([_slices(step)], [theirs])
        np.testing.assert_allclose(ours.numpy(), keras.ops.convert_to_numpy(theirs), rtol=1e-6, atol=1e-6,
                                   err_msg=f"{cls}{kwargs} step {step}")


@pytest.mark.parametrize("cls", ["Adam", "RMSprop", "Adagrad", "Adamax", "Nadam", "Adadelta"])
def test_repeated_rows_matter(cls):
    """The data really tells the two readings apart: densifying first gives other numbers."""
    sparse_v, dense_v = tf.Variable(INIT), tf.Variable(INIT)
    a, b = getattr(O, cls)(learning_rate=0.05), getattr(O, cls)(learning_rate=0.05)
    for step in range(len(INDICES)):
        a.apply([_slices(step)], [sparse_v])
        b.apply([_slices(step, dense=True)], [dense_v])
    moved = np.abs(sparse_v.numpy() - INIT).max()
    assert np.abs(sparse_v.numpy() - dense_v.numpy()).max() > 0.01 * moved > 0


def _embedding_model(lib, mask_zero: bool):
    L = lib.layers
    inp = lib.Input((7,), dtype="int32")
    h = L.Embedding(10, 4, mask_zero=mask_zero)(inp)
    h = L.LSTM(3)(h) if mask_zero else L.GlobalAveragePooling1D()(h)
    return lib.Model(inp, L.Dense(1, activation="sigmoid")(h))


@pytest.mark.parametrize("mask_zero", [False, True], ids=["pooling", "masked-lstm"])
def test_embedding_fit_with_adam_follows_keras(mask_zero):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, size=(24, 7)).astype("int32")
    x[::3, 5:] = 0
    y = rng.integers(0, 2, size=(24, 1)).astype("float32")
    ours, theirs = _embedding_model(kir, mask_zero), _embedding_model(keras, mask_zero)
    theirs.set_weights(ours.get_weights())
    emb0 = ours.get_weights()[0]
    ours.compile(optimizer=O.Adam(0.01), loss="binary_crossentropy")
    theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    h1 = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(ours.get_weights()[0] - emb0).max() > 1e-2  # the embedding trained


def test_sparse_gradient_under_jit_compile_matches_eager():
    """The scatter updates compile with XLA (the default on an accelerator)."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 10, size=(16, 7)).astype("int32")
    y = rng.integers(0, 2, size=(16, 1)).astype("float32")
    model = _embedding_model(kir, False)
    w0 = model.get_weights()
    out = []
    for jit in (True, False):
        model.set_weights(w0)
        model.compile(optimizer=O.Adagrad(0.1), loss="binary_crossentropy", jit_compile=jit)
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        out.append(model.get_weights())
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, atol=1e-6)


DISTRIBUTED = textwrap.dedent('''
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import kir
    from kir import layers
    inp = layers.Input((6,), dtype="int32")
    h = layers.GlobalAveragePooling1D()(layers.Embedding(12, 4)(inp))
    m = kir.models.Model(inp, layers.Dense(1, activation="sigmoid")(h))
    w0 = m.get_weights()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, size=(32, 6)).astype("int32")
    y = rng.integers(0, 2, size=(32, 1)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for name in ("adam", "adagrad", "sgd"):
        got = []
        for dist in (None, strategy):
            m.set_weights(w0)
            m.compile(kir.optimizers.get(name), "binary_crossentropy", distribute=dist)
            m.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
            got.append(m.get_weights())
        for a, b in zip(*got):
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=name)
    print("OK")
''')


@pytest.mark.slow
def test_sparse_gradients_all_reduced_under_mirrored_strategy():
    """Slices are all-reduced (gathered) across replicas and scattered into mirrored variables."""
    done = subprocess.run([sys.executable, "-c", DISTRIBUTED], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr[-3000:]
