"""Small models and data for the deployment tests (kept tiny: every test here runs in well under a second)."""

from __future__ import annotations

import numpy as np
import pytest

from kir.zoo.keras_examples import imdb_lstm, mnist_mlp, small_cnn


@pytest.fixture(scope="module")
def mlp():
    """Dense 64 -> 32 -> 32 -> softmax 10, weights seeded by kir's initializers."""
    return mnist_mlp(64, 32, names=True)


@pytest.fixture(scope="module")
def cnn():
    return small_cnn(8, 4, names=True)


@pytest.fixture(scope="module")
def lstm():
    return imdb_lstm(length=6, vocab=50, units=8, names=True)


@pytest.fixture(scope="module")
def digits_x() -> np.ndarray:
    return np.random.default_rng(0).random((64, 64), dtype=np.float32)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(1).random((64, 8, 8, 1), dtype=np.float32)
