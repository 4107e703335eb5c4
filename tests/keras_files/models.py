"""Models for the Keras-file tests, written once for kir, Keras 3 and tf.keras 2 (`lib` is the module).

Beside the guide's models (tests/zoo's SMALL sizes) they cover every layer kir has: the recurrent
wrappers with BatchNormalization and a frozen layer, and a tour of the other layer types.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kir.zoo.library import library
from tests.zoo.test_zoo import SMALL


def recurrent(*, lib: Any = None, names: bool = True) -> Any:
    """Bidirectional GRU and LSTM, TimeDistributed Dense, BatchNormalization, SimpleRNN, a frozen Dense."""
    lib = library(lib)
    L = lib.layers
    x = lib.Input(shape=(5, 4), name="frames")
    h = L.Bidirectional(L.GRU(3, return_sequences=True, name="gru"), name="bi_gru")(x)
    h = L.TimeDistributed(L.Dense(4, activation="tanh", name="step_dense"), name="td_dense")(h)
    h = L.BatchNormalization(name="bn")(h)
    s = L.SimpleRNN(2, return_sequences=True, go_backwards=True, name="srnn")(h)
    a = L.Bidirectional(L.LSTM(2, name="lstm"), merge_mode="sum", name="bi_lstm")(h)
    b = L.GlobalAveragePooling1D(name="gap")(s)
    frozen = L.Dense(3, activation="relu", name="frozen_dense")
    frozen.trainable = False
    y = frozen(L.concatenate([a, b], name="join"))
    out = L.Dense(2, activation="softmax", name="probs")(y)
    return lib.models.Model(x, out, name="recurrent")


def tour(*, lib: Any = None, names: bool = True) -> Any:
    """The remaining layer types: Conv1D/2D and pooling, LayerNormalization, Permute, Reshape,
    RepeatVector, Flatten, Activation, Dropout, Embedding and every merge."""
    lib = library(lib)
    L = lib.layers
    seq = lib.Input(shape=(6, 3), name="seq")
    img = lib.Input(shape=(8, 8, 2), name="img")
    ids = lib.Input(shape=(4,), dtype="int32", name="ids")
    c = L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="elu", name="causal")(seq)
    c = L.MaxPooling1D(2, name="mp1")(c)
    c = L.AveragePooling1D(1, name="ap1")(c)
    c = L.LayerNormalization(name="ln")(c)
    c = L.Permute((2, 1), name="perm")(c)
    c = L.GlobalMaxPooling1D(name="gmp1")(c)
    i = L.Conv2D(3, (3, 3), strides=(2, 1), padding="same", activation="relu", name="conv")(img)
    i = L.AveragePooling2D((2, 2), padding="same", name="ap2")(i)
    i = L.MaxPooling2D((1, 2), name="mp2")(i)
    g = L.GlobalAveragePooling2D(name="gap2")(i)
    m = L.GlobalMaxPooling2D(name="gmp2")(i)
    f = L.Dense(3, name="flat_dense")(L.Flatten(name="flat")(i))
    e = L.Embedding(10, 3, name="emb")(ids)
    e = L.Reshape((3, 4), name="reshape")(e)
    e = L.GlobalAveragePooling1D(name="gap1")(L.Permute((2, 1), name="perm_ids")(e))
    merged = [L.Add(name="add")([g, m]), L.Subtract(name="sub")([g, f]), L.Multiply(name="mul")([m, f]),
              L.Average(name="avg")([g, e]), L.Maximum(name="max")([m, e]), L.Minimum(name="min")([f, e])]
    d = L.Dot(axes=1, normalize=True, name="cos")([merged[0], merged[1]])
    r = L.RepeatVector(2, name="rep")(L.Activation("sigmoid", name="act")(c))
    r = L.Flatten(name="flat_rep")(r)
    out = L.concatenate(merged + [d, L.Dropout(0.3, name="drop")(r)], name="all")
    out = L.Dense(2, activation="softplus", name="score")(out)
    return lib.models.Model([seq, img, ids], [out, d], name="tour")


def nested_outputs(*, lib: Any = None, names: bool = True) -> Any:
    """Outputs straight from a nested Functional (called twice) and a nested Sequential: Keras numbers
    a nested Functional's calls differently in `output_layers` than in `inbound_nodes`."""
    lib = library(lib)
    L = lib.layers
    inner_in = lib.Input(shape=(4,), name="inner_in")
    inner = lib.models.Model(inner_in, L.Dense(3, activation="tanh", name="inner_dense")(inner_in), name="inner")
    stack = lib.models.Sequential([lib.Input(shape=(3,), name="stack_in"), L.Dense(2, name="stack_dense")],
                                  name="stack")
    a, b = lib.Input(shape=(4,), name="a"), lib.Input(shape=(4,), name="b")
    first, second = inner(a), inner(b)
    return lib.models.Model([a, b], [second, stack(first), first], name="nested_outputs")


CASES = {**{f.__name__: (f, kw) for f, kw in SMALL.items()}, "recurrent": (recurrent, {}), "tour": (tour, {}),
         "nested_outputs": (nested_outputs, {})}
IDS = sorted(CASES)


def build(case: str, lib: Any) -> Any:
    factory, kwargs = CASES[case]
    return factory(**kwargs, lib=lib, names=True)


def randomize(keras_model: Any, seed: int = 0) -> None:
    """Non-trivial weights (zero biases and unit gammas would hide mistakes); variances stay positive."""
    rng = np.random.default_rng(seed)
    for w in keras_model.weights:
        name = getattr(w, "path", getattr(w, "name", ""))
        value = rng.normal(0.0, 0.5, tuple(w.shape))
        if "variance" in name:
            value = np.abs(value) + 0.5
        w.assign(value.astype("float32"))


def randomize_kir(model: Any, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(rng.normal(0.0, 0.5, w.shape)).astype("float32") + 0.1 for w in model.get_weights()])


def inputs(model: Any, batch: int = 3, seed: int = 1) -> list[np.ndarray]:
    """A batch for each input: ids below 10 for integer inputs, normal floats otherwise."""
    rng = np.random.default_rng(seed)
    arrays = []
    for t in model.inputs:
        shape = (batch,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            arrays.append(rng.integers(0, 10, shape).astype("int32"))
        else:
            arrays.append(rng.normal(0.0, 1.0, shape).astype("float32"))
    return arrays


def as_list(out: Any) -> list[np.ndarray]:
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def keras_outputs(keras_model: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
    return as_list(keras_model(xs if len(xs) > 1 else xs[0], training=False))


def kir_outputs(model: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
    return as_list(model.predict(xs if len(xs) > 1 else xs[0]))
