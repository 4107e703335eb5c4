"""Keras 3's deferred build of a Sequential declared without an input shape: built on its first call on
a tensor, fit, evaluate, train_on_batch or predict."""

import numpy as np
import pytest

import kir  # noqa: E402
from kir.errors import GraphError  # noqa: E402
from kir.layers import LSTM, Dense, Embedding  # noqa: E402

RNG = np.random.default_rng(2)


def test_embedding_lstm_stack_builds_on_fit_and_matches_keras():
    keras = pytest.importorskip("keras")
    model = kir.Sequential([Embedding(50, 8), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], jit_compile=False)
    assert model.inputs == [] and model.output_names == [model.layers[-1].name]
    x = RNG.integers(0, 50, (16, 7))
    y = RNG.integers(0, 2, (16, 1)).astype("float32")
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    assert model.input_shape == (None, 7) and model.inputs[0].dtype == "int32"
    theirs = keras.Sequential([keras.layers.Embedding(50, 8), keras.layers.LSTM(4),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.predict(x, verbose=0)  # Keras builds here too
    theirs.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x), theirs.predict(x, verbose=0), atol=1e-5)


def test_predict_evaluate_and_train_on_batch_build_too():
    for first in ("predict", "evaluate", "train_on_batch", "test_on_batch"):
        model = kir.Sequential([Dense(3, activation="relu"), Dense(2)])
        model.compile(optimizer="sgd", loss="mse", jit_compile=False)
        x, y = RNG.normal(size=(6, 5)).astype("float32"), np.zeros((6, 2), "float32")
        getattr(model, first)(x) if first == "predict" else getattr(model, first)(x, y)
        assert model.input_shape == (None, 5), first
        assert model.predict(x).shape == (6, 2)


def test_calling_on_a_tensor_builds_for_that_tensor(tmp_path):
    inner = kir.Sequential([Dense(4, activation="tanh"), Dense(2)], name="inner")
    inp = kir.Input((3,))
    outer = kir.Model(inp, Dense(1)(inner(inp)))
    assert inner.input_shape == (None, 3)
    x = RNG.normal(size=(5, 3)).astype("float32")
    expected = outer.predict(x)
    assert expected.shape == (5, 1)
    path = tmp_path / "outer.kir"
    outer.save(path)
    np.testing.assert_allclose(kir.models.load_model(path).predict(x), expected, atol=1e-6)


def test_embedding_without_input_length_in_a_functional_model():
    inp = kir.Input((None,), dtype="int32")
    model = kir.Model(inp, Dense(1)(LSTM(3)(Embedding(20, 4)(inp))))
    for steps in (3, 9):
        assert model.predict(RNG.integers(0, 20, (2, steps))).shape == (2, 1)


def test_unbuilt_stack_errors_stay_clear():
    model = kir.Sequential([Dense(2)])
    with pytest.raises(GraphError, match="has no inputs yet"):
        model.to_graph()
    with pytest.raises(GraphError, match="no layers"):
        kir.Sequential().compile(optimizer="sgd", loss="mse")
    with pytest.raises(GraphError, match="cannot build from a scalar"):
        model.predict(np.float32(1.0))
