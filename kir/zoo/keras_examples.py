"""Models of Keras' example scripts that the guide lists (mnist_mlp, mnist_cnn, imdb_lstm), and a small CNN in
their style for tests, written once for `kir` and `keras`.

The keywords are those of `kir.zoo.guide`: `lib` (`kir`, the default, or `keras`) and `names` (True:
every layer, input and model named; False: automatic names).
"""

from __future__ import annotations

from typing import Any

from kir.zoo.library import library, namer


def mnist_mlp(input_dim: int = 784, hidden: int = 512, classes: int = 10, dropout: float = 0.2, *,
              lib: Any = None, names: bool = False) -> Any:
    """mnist_mlp.py: Dense 512 relu, Dropout 0.2, Dense 512 relu, Dropout 0.2, Dense softmax."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    inputs = lib.Input(shape=(input_dim,), name=n("pixels"))
    x = L.Dense(hidden, activation="relu", name=n("fc1"))(inputs)
    x = L.Dropout(dropout, name=n("drop1"))(x)
    x = L.Dense(hidden, activation="relu", name=n("fc2"))(x)
    x = L.Dropout(dropout, name=n("drop2"))(x)
    out = L.Dense(classes, activation="softmax", name=n("predictions"))(x)
    return lib.models.Model(inputs=inputs, outputs=out, name=n("mnist_mlp"))


def mnist_cnn(size: int = 28, classes: int = 10, *, lib: Any = None, names: bool = False) -> Any:
    """mnist_cnn.py: two 3x3 relu convolutions (32, 64), 2x2 max pooling, Dropout 0.25, Dense 128 relu,
    Dropout 0.5, Dense softmax."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    inputs = lib.Input(shape=(size, size, 1), name=n("image"))
    x = L.Conv2D(32, (3, 3), activation="relu", name=n("conv1"))(inputs)
    x = L.Conv2D(64, (3, 3), activation="relu", name=n("conv2"))(x)
    x = L.MaxPooling2D((2, 2), name=n("pool"))(x)
    x = L.Dropout(0.25, name=n("drop1"))(x)
    x = L.Flatten(name=n("flatten"))(x)
    x = L.Dense(128, activation="relu", name=n("fc1"))(x)
    x = L.Dropout(0.5, name=n("drop2"))(x)
    out = L.Dense(classes, activation="softmax", name=n("predictions"))(x)
    return lib.models.Model(inputs=inputs, outputs=out, name=n("mnist_cnn"))


def imdb_lstm(length: int = 80, vocab: int = 20000, units: int = 128, *, lib: Any = None,
              names: bool = False) -> Any:
    """imdb_lstm.py: Embedding `vocab` -> `units`, LSTM `units`, Dense 1 sigmoid, over `length` tokens."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    inputs = lib.Input(shape=(length,), dtype="int32", name=n("tokens"))
    x = L.Embedding(vocab, units, name=n("embedding"))(inputs)
    x = L.LSTM(units, name=n("lstm"))(x)
    out = L.Dense(1, activation="sigmoid", name=n("score"))(x)
    return lib.models.Model(inputs=inputs, outputs=out, name=n("imdb_lstm"))


def small_cnn(size: int = 12, filters: int = 8, classes: int = 10, *, lib: Any = None, names: bool = False) -> Any:
    """An MNIST-style CNN small enough for tests: a valid and a 'same' 3x3 relu convolution, 2x2 max
    pooling, Flatten, Dense softmax (no Dropout, no hidden Dense)."""
    lib, n = library(lib), namer(names)
    L = lib.layers
    inputs = lib.Input(shape=(size, size, 1), name=n("image"))
    x = L.Conv2D(filters, (3, 3), activation="relu", name=n("conv1"))(inputs)
    x = L.Conv2D(filters, (3, 3), activation="relu", padding="same", name=n("conv2"))(x)
    x = L.MaxPooling2D((2, 2), name=n("pool"))(x)
    x = L.Flatten(name=n("flatten"))(x)
    out = L.Dense(classes, activation="softmax", name=n("digits"))(x)
    return lib.models.Model(inputs, out, name=n("cnn"))
