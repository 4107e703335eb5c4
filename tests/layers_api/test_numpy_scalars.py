"""Numpy scalars wherever Keras takes Python numbers: layer sizes, kernel sizes, rates, fit arguments.

(Keras 3.15 itself refuses many of them -- Dense(np.int32(4)), Conv2D(4, np.int64(3)),
Embedding(np.int64(10), 3) raise ValueError -- kir takes them all, so the Keras twin below is
built from the same numbers as Python ints.)"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import kir  # noqa: E402
from kir.errors import ConfigError  # noqa: E402


def _stack(lib, numpy):
    i64, i32, f32 = (np.int64, np.int32, np.float32) if numpy else (int, int, float)
    L = lib.layers
    return [
        L.Conv2D(i64(4), i64(3), strides=(i32(1), i64(1)), padding="same", activation="relu"),
        L.MaxPooling2D(i64(2)),
        L.Dropout(f32(0.5)),
        L.Conv2D(i32(3), (i64(2), i64(2)), dilation_rate=i64(1)),
        L.Reshape((i64(9), i64(3))),
        L.Conv1D(i64(2), i32(2)),
        L.LSTM(i64(3), dropout=f32(0.1), recurrent_dropout=f32(0.0)),
        L.RepeatVector(i64(2)),
        L.GRU(i32(2), return_sequences=True),
        L.Flatten(),
        L.Dense(i32(4), activation="softmax"),
    ]


def test_keras_model_with_numpy_arguments_builds_and_matches():
    ours = kir.Sequential([kir.Input((8, 8, 1))] + _stack(kir, numpy=True))
    theirs = keras.Sequential([keras.Input((8, 8, 1))] + _stack(keras, numpy=False))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    theirs.set_weights(ours.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)
    conv = ours.layers[0]
    assert type(conv.filters) is int and conv.kernel_size == [3, 3] and type(ours.layers[2].rate) is float


def test_embedding_and_fit_arguments_take_numpy_scalars():
    i64, i32 = np.int64, np.int32
    model = kir.Sequential([kir.layers.Embedding(i64(10), i64(3)), kir.layers.SimpleRNN(i32(2)),
                            kir.layers.Dense(np.uint8(1))])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=i64(2), jit_compile=False)
    x = np.random.default_rng(1).integers(0, 10, (8, 4))
    history = model.fit(x, np.zeros((8, 1), "float32"), batch_size=i64(4), epochs=i32(2), verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(x, batch_size=i64(3)).shape == (8, 1)


@pytest.mark.parametrize("make,match", [
    (lambda: kir.layers.Dense(np.float32(4.0)), "units must be a positive integer"),
    (lambda: kir.layers.Conv2D(4, np.float64(3.0)), "kernel_size must be a positive int"),
    (lambda: kir.layers.Conv2D(4, (3, True)), "kernel_size must be a positive int"),
    (lambda: kir.layers.Dropout(np.float32(1.5)), r"rate must be in \[0, 1\)"),
    (lambda: kir.layers.Dropout(True), r"rate must be in \[0, 1\)"),
    (lambda: kir.layers.LSTM(2, dropout="0.1"), r"dropout must be in \[0, 1\)"),
])
def test_non_integers_are_still_refused(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_inputs_merges_and_optimizers_take_numpy_scalars(tmp_path):
    a, b = kir.Input((np.int64(4),)), kir.Input(shape=(np.int32(3), 2))
    assert a.shape == (None, 4) and b.shape == (None, 3, 2) and type(kir.Input(np.int64(5)).shape[1]) is int
    x = kir.layers.Concatenate(axis=np.int64(-1))([kir.layers.Flatten()(b), a])
    out = kir.layers.Dot(axes=np.int64(1))([x, kir.layers.Dense(10)(a)])
    model = kir.Model([a, b], out)
    concat, dot = model.layers[3], model.layers[5]
    assert type(concat.axis) is int and concat.get_config()["axis"] == -1
    assert dot.axes == [1, 1] and type(dot.get_config()["axes"]) is int
    assert kir.layers.Dot(axes=(np.int64(1), np.int32(1))).axes == [1, 1]
    model.save(tmp_path / "m.kir")
    loaded = kir.models.load_model(tmp_path / "m.kir")
    xs = [np.ones((2, 4), "float32"), np.ones((2, 3, 2), "float32")]
    np.testing.assert_allclose(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0), atol=1e-6)

    sgd = kir.optimizers.SGD(learning_rate=np.float32(0.1), momentum=np.float32(0.9))
    assert type(sgd.momentum) is float and sgd.get_config()["momentum"] == pytest.approx(0.9)
    assert type(sgd.get_config()["learning_rate"]) is float
    adam = kir.optimizers.Adam(beta_1=np.float64(0.9), beta_2=np.float32(0.99), epsilon=np.float64(1e-6),
                               clipnorm=np.float32(1.0))
    assert all(type(adam.get_config()[k]) is float for k in ("beta_1", "beta_2", "epsilon", "clipnorm"))
    model.compile(optimizer=sgd, loss="mse", jit_compile=False)
    model.fit(xs, np.zeros((2, 1), "float32"), verbose=0)


@pytest.mark.parametrize("make,match", [
    (lambda: kir.Input((np.float32(4.0),)), "dimensions must be positive ints or None"),
    (lambda: kir.Input((True, 2)), "dimensions must be positive ints or None"),
    (lambda: kir.layers.Dot(axes=np.float64(1.0)), "axes must be an int or a pair"),
    (lambda: kir.layers.Dot(axes="1"), "axes must be an int or a pair"),
    (lambda: kir.layers.Concatenate(axis=1.5), "axis must be an int"),
    (lambda: kir.optimizers.SGD(momentum="0.9"), r"SGD momentum must be a float in \[0, 1\]"),
    (lambda: kir.optimizers.SGD(momentum=np.float32(1.5)), r"SGD momentum must be a float in \[0, 1\]"),
    (lambda: kir.optimizers.SGD(learning_rate="fast"), "learning_rate must be a float"),
    (lambda: kir.optimizers.Adam(beta_1="0.9"), "Adam beta_1 must be a float"),
    (lambda: kir.optimizers.RMSprop(rho=True), "RMSprop rho must be a float"),
])
def test_wrong_types_are_still_refused(make, match):
    with pytest.raises(ConfigError, match=match):
        make()
