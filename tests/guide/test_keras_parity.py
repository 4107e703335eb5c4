"""numpy-backend outputs equal Keras' for every layer type and the guide's models.

Each case is built twice from one builder, in Keras and in kir, with the same layer names. Keras'
weights (randomized, so zero biases and unit gammas do not hide mistakes) are copied into kir by layer
name with `set_weights(get_weights())`, then both models predict the same batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import kir  # noqa: E402
from kir.zoo import guide as zoo  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

Builder = Callable[[Any], Any]


# ---------------------------------------------------------------------- harness
def _randomize(keras_model: Any, rng: np.random.Generator) -> None:
    """Non-trivial Keras weights; variances stay positive."""
    for layer in keras_model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        names = [w.path.split("/")[-1] for w in layer.weights]
        new = []
        for name, w in zip(names, weights):
            r = rng.normal(0.0, 0.5, w.shape)
            if "variance" in name:
                r = np.abs(r) + 0.5
            new.append(r.astype(w.dtype))
        layer.set_weights(new)


def _copy_by_name(keras_model: Any, kir_model: Any) -> None:
    """`kir_layer.set_weights(keras_layer.get_weights())` for each named layer, after checking the layout."""
    for keras_layer in keras_model.layers:
        kir_layer = kir_model.get_layer(keras_layer.name)
        expected = keras_layer.get_weights()
        assert [w.shape for w in kir_layer.get_weights()] == [w.shape for w in expected], keras_layer.name
        assert kir_layer.count_params() == keras_layer.count_params(), keras_layer.name
        kir_layer.set_weights(expected)


def _data(model: Any, rng: np.random.Generator, batch: int = 3, high: int = 10) -> list[np.ndarray]:
    arrays = []
    for t in model.inputs:
        shape = (batch,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            arrays.append(rng.integers(0, high, shape).astype("int32"))
        else:
            arrays.append(rng.normal(0.0, 1.0, shape).astype("float32"))
    return arrays


def _keras_outputs(keras_model: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
    out = keras_model(xs if len(xs) > 1 else xs[0], training=False)
    out = out if isinstance(out, (list, tuple)) else [out]
    return [keras.ops.convert_to_numpy(o) for o in out]


def check_parity(build: Builder, seed: int = 0, high: int = 10, batch: int = 3) -> None:
    rng = np.random.default_rng(seed)
    keras_model = build(keras)
    kir_model = build(kir)
    assert [lay.name for lay in kir_model.layers] == [lay.name for lay in keras_model.layers]
    assert kir_model.count_params() == keras_model.count_params()
    assert [w.shape for w in kir_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    _randomize(keras_model, rng)
    _copy_by_name(keras_model, kir_model)
    xs = _data(kir_model, rng, batch=batch, high=high)
    expected = _keras_outputs(keras_model, xs)
    got = kir_model.predict(xs if len(xs) > 1 else xs[0])
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_close(g, e, rtol=1e-5)


def single(make: Callable[[Any], Any], shape: tuple, dtype: str = "float32") -> Builder:
    """A model `Input(shape) -> make(lib)` (the layer named by the case)."""

    def build(lib: Any) -> Any:
        x = lib.Input(shape=shape, dtype=dtype, name="x")
        return lib.models.Model(x, make(lib)(x), name="m")

    return build


def merged(make: Callable[[Any], Any], *shapes: tuple) -> Builder:
    def build(lib: Any) -> Any:
        xs = [lib.Input(shape=s, name=f"x{i}") for i, s in enumerate(shapes)]
        return lib.models.Model(xs, make(lib)(xs), name="m")

    return build


# ---------------------------------------------------------------------- layer cases
ACTIVATIONS = ["linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "log_softmax", "tanh", "elu",
               "selu", "softplus", "softsign", "exponential", "swish", "silu", "gelu", "leaky_relu", "mish",
               "hard_silu", "hard_swish", "log_sigmoid", "hard_tanh", "celu", "tanh_shrink", "squareplus",
               "sparse_plus", "soft_shrink", "hard_shrink"]


def test_activation_names_cover_kir():
    assert sorted(ACTIVATIONS) == sorted(kir.activations.NAMES)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(name):
    check_parity(single(lambda L: L.layers.Activation(name, name="act"), (4, 5)))


@pytest.mark.parametrize("kwargs", [
    {}, {"activation": "relu"}, {"activation": "softmax", "use_bias": False}, {"activation": "tanh"},
], ids=str)
def test_dense(kwargs):
    check_parity(single(lambda L: L.layers.Dense(6, name="dense", **kwargs), (5,)))


def test_dense_on_rank_3():
    check_parity(single(lambda L: L.layers.Dense(4, activation="sigmoid", name="dense"), (3, 5)))


CORE_CASES = {
    "dropout": (lambda L: L.layers.Dropout(0.5, name="drop"), (4, 3)),
    "flatten": (lambda L: L.layers.Flatten(name="flat"), (3, 4, 2)),
    "reshape": (lambda L: L.layers.Reshape((4, 6), name="reshape"), (3, 8)),
    "reshape_minus_one": (lambda L: L.layers.Reshape((-1, 2), name="reshape"), (3, 4)),
    "permute_2d": (lambda L: L.layers.Permute((2, 1), name="perm"), (3, 4)),
    "permute_3d": (lambda L: L.layers.Permute((3, 1, 2), name="perm"), (2, 3, 4)),
    "repeat_vector": (lambda L: L.layers.RepeatVector(3, name="rep"), (5,)),
}


@pytest.mark.parametrize("case", list(CORE_CASES))
def test_core_layers(case):
    make, shape = CORE_CASES[case]
    check_parity(single(make, shape))


def test_embedding():
    check_parity(single(lambda L: L.layers.Embedding(20, 4, name="emb"), (6,), dtype="int32"), high=20)


def test_embedding_rank_2_ids():
    check_parity(single(lambda L: L.layers.Embedding(7, 3, name="emb"), (2, 5), dtype="int32"), high=7)


# ---------------------------------------------------------------------- recurrent
RNN_FLAGS = [
    {}, {"return_sequences": True}, {"return_state": True}, {"go_backwards": True},
    {"return_sequences": True, "return_state": True, "go_backwards": True},
]


@pytest.mark.parametrize("flags", RNN_FLAGS, ids=str)
def test_simple_rnn(flags):
    check_parity(single(lambda L: L.layers.SimpleRNN(4, name="rnn", **flags), (5, 3)))


def test_simple_rnn_relu_no_bias():
    check_parity(single(lambda L: L.layers.SimpleRNN(4, activation="relu", use_bias=False, name="rnn"), (5, 3)))


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("flags", [{}, {"return_sequences": True, "return_state": True}, {"go_backwards": True}],
                         ids=str)
def test_gru(reset_after, flags):
    check_parity(single(lambda L: L.layers.GRU(4, reset_after=reset_after, name="gru", **flags), (5, 3)))


@pytest.mark.parametrize("flags", [{}, {"return_sequences": True}, {"return_state": True},
                                   {"go_backwards": True, "return_sequences": True}], ids=str)
def test_lstm(flags):
    check_parity(single(lambda L: L.layers.LSTM(4, name="lstm", **flags), (5, 3)))


def test_lstm_activations():
    check_parity(single(lambda L: L.layers.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid",
                                                name="lstm"), (4, 2)))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional(merge_mode, return_sequences):
    def make(L):
        return L.layers.Bidirectional(L.layers.LSTM(3, return_sequences=return_sequences, name="lstm"),
                                      merge_mode=merge_mode, name="bi")

    check_parity(single(make, (4, 2)))


@pytest.mark.parametrize("rnn", ["GRU", "SimpleRNN"])
def test_bidirectional_other_cells(rnn):
    check_parity(single(lambda L: L.layers.Bidirectional(getattr(L.layers, rnn)(3, return_sequences=True,
                                                                                name="cell"), name="bi"), (4, 2)))


# ---------------------------------------------------------------------- convolution and pooling
CONV1D = [
    {}, {"padding": "same"}, {"padding": "causal", "dilation_rate": 2}, {"strides": 2},
    {"activation": "relu", "use_bias": False}, {"padding": "same", "strides": 2},
]


@pytest.mark.parametrize("kwargs", CONV1D, ids=str)
def test_conv1d(kwargs):
    check_parity(single(lambda L: L.layers.Conv1D(4, 3, name="conv", **kwargs), (9, 2)))


CONV2D = [
    {}, {"padding": "same"}, {"strides": (2, 1)}, {"dilation_rate": 2}, {"activation": "relu", "use_bias": False},
    {"padding": "same", "strides": 2}, {"kernel_size": (1, 3)},
]


@pytest.mark.parametrize("kwargs", CONV2D, ids=str)
def test_conv2d(kwargs):
    kwargs = dict(kwargs)
    kernel = kwargs.pop("kernel_size", (3, 3))
    check_parity(single(lambda L: L.layers.Conv2D(4, kernel, name="conv", **kwargs), (7, 8, 2)))


POOL_ARGS = [
    {"pool_size": 2}, {"pool_size": 2, "padding": "same"}, {"pool_size": 3, "strides": 1},
    {"pool_size": 3, "strides": 2, "padding": "same"},
]


@pytest.mark.parametrize("kind", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("kwargs", POOL_ARGS, ids=str)
def test_pooling_1d(kind, kwargs):
    check_parity(single(lambda L: getattr(L.layers, kind)(name="pool", **kwargs), (7, 3)))


@pytest.mark.parametrize("kind", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("kwargs", POOL_ARGS, ids=str)
def test_pooling_2d(kind, kwargs):
    check_parity(single(lambda L: getattr(L.layers, kind)(name="pool", **kwargs), (7, 6, 2)))


@pytest.mark.parametrize("kind,shape", [("GlobalAveragePooling1D", (5, 3)), ("GlobalMaxPooling1D", (5, 3)),
                                        ("GlobalAveragePooling2D", (4, 5, 3)), ("GlobalMaxPooling2D", (4, 5, 3))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(kind, shape, keepdims):
    check_parity(single(lambda L: getattr(L.layers, kind)(keepdims=keepdims, name="pool"), shape))


# ---------------------------------------------------------------------- normalization
@pytest.mark.parametrize("kwargs,shape", [({}, (5,)), ({}, (3, 4)), ({"axis": 1}, (3, 4)),
                                          ({"center": False, "scale": False}, (4,)), ({"epsilon": 0.1}, (2, 3, 4))],
                         ids=str)
def test_batch_normalization(kwargs, shape):
    check_parity(single(lambda L: L.layers.BatchNormalization(name="bn", **kwargs), shape))


@pytest.mark.parametrize("kwargs", [{}, {"axis": [1, 2]}, {"axis": 1}, {"center": False}, {"scale": False}],
                         ids=str)
def test_layer_normalization(kwargs):
    check_parity(single(lambda L: L.layers.LayerNormalization(name="ln", **kwargs), (3, 4)))


# ---------------------------------------------------------------------- wrappers
def test_time_distributed_dense():
    check_parity(single(lambda L: L.layers.TimeDistributed(L.layers.Dense(3, activation="relu", name="inner"),
                                                           name="td"), (4, 5)))


def test_time_distributed_conv2d():
    check_parity(single(lambda L: L.layers.TimeDistributed(L.layers.Conv2D(2, 3, name="inner"), name="td"),
                        (3, 6, 6, 2)))


def test_time_distributed_model():
    def make(L):
        inner_in = L.Input(shape=(5,), name="inner_in")
        h = L.layers.Dense(4, activation="tanh", name="inner_a")(inner_in)
        inner = L.models.Model(inner_in, L.layers.Dense(2, name="inner_b")(h), name="inner")
        return L.layers.TimeDistributed(inner, name="td")

    check_parity(single(make, (3, 5)))


# ---------------------------------------------------------------------- merges
@pytest.mark.parametrize("kind", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_elementwise_merges(kind):
    check_parity(merged(lambda L: getattr(L.layers, kind)(name="merge"), (3, 4), (3, 4), (3, 4)))


def test_subtract():
    check_parity(merged(lambda L: L.layers.Subtract(name="merge"), (3, 4), (3, 4)))


@pytest.mark.parametrize("axis,shapes", [(-1, [(3, 4), (3, 2)]), (1, [(3, 4), (5, 4)]), (2, [(2, 3), (2, 1)])])
def test_concatenate(axis, shapes):
    check_parity(merged(lambda L: L.layers.Concatenate(axis=axis, name="merge"), *shapes))


@pytest.mark.parametrize("axes,normalize,shapes", [
    (1, False, [(4,), (4,)]), (1, True, [(4,), (4,)]), ((2, 2), False, [(3, 4), (5, 4)]),
    ((1, 2), False, [(3, 4), (5, 3)]), ((2, 1), True, [(3, 4), (4, 2)]),
], ids=str)
def test_dot(axes, normalize, shapes):
    check_parity(merged(lambda L: L.layers.Dot(axes=axes, normalize=normalize, name="merge"), *shapes))


@pytest.mark.parametrize("fn", ["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate"])
def test_functional_merge_forms(fn):
    check_parity(merged(lambda L: (lambda xs: getattr(L.layers, fn)(xs, name="merge")), (2, 3), (2, 3)))


# ---------------------------------------------------------------------- the guide's models, reduced
GUIDE_MODELS = {
    "sequential_mlp": (zoo.sequential_mlp, dict(input_dim=12, hidden=8, classes=4)),
    "functional_mlp": (zoo.functional_mlp, dict(input_dim=12, hidden=8, classes=4)),
    "time_distributed_mlp": (zoo.time_distributed_mlp, dict(steps=3, input_dim=12, hidden=8, classes=4)),
    "multi_io": (zoo.multi_io, dict(seq_len=7, vocab=10, embed=6, lstm_units=5, aux_dim=3, hidden=8)),
    "shared_lstm": (zoo.shared_lstm, dict(timesteps=6, features=5, units=4)),
    "inception": (zoo.inception, dict(size=8, filters=4)),
    "residual": (zoo.residual, dict(size=8)),
    "shared_vision": (zoo.shared_vision, dict(size=9, filters=3)),
    "vqa": (zoo.vqa, dict(image=32, seq_len=6, vocab=10, embed=5, lstm_units=6, answers=7, filters=(2, 3, 4))),
    "video_qa": (zoo.video_qa, dict(frames=2, image=32, seq_len=6, vocab=10, embed=5, lstm_units=6, answers=7,
                                      filters=(2, 3, 4))),
}


@pytest.mark.parametrize("name", list(GUIDE_MODELS))
def test_guide_model(name):
    factory, sizes = GUIDE_MODELS[name]
    check_parity(lambda lib: factory(lib=lib, names=True, **sizes), batch=2)


def test_weights_are_copied_into_shared_nested_models():
    """After copying, the vision model inside the digit-pair model holds exactly Keras' arrays."""
    factory, sizes = GUIDE_MODELS["shared_vision"]
    keras_model, kir_model = factory(lib=keras, names=True, **sizes), factory(lib=kir, names=True, **sizes)
    _randomize(keras_model, np.random.default_rng(1))
    _copy_by_name(keras_model, kir_model)
    for a, b in zip(kir_model.get_layer("vision_model").get_weights(),
                    keras_model.get_layer("vision_model").get_weights()):
        np.testing.assert_array_equal(a, b)
