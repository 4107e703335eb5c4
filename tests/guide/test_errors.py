"""Bad calls in the guide's vocabulary fail at the call that made them, with a kir error naming the layer and shapes.

Layers get explicit names so the messages can be matched exactly enough to be useful to a user.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import kir
from kir.errors import ConfigError, FeedError, GraphError, KirError, ShapeError
from kir.layers import (
    GRU,
    LSTM,
    AveragePooling1D,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    Input,
    MaxPooling2D,
    RepeatVector,
    TimeDistributed,
)
from kir.models import Model, Sequential


def raises(kind: type[KirError], *fragments: str):
    """pytest.raises(kind) whose message contains every fragment literally (in order)."""
    return pytest.raises(kind, match=".*".join(re.escape(f) for f in fragments))


def test_errors_are_kir_errors_and_value_errors():
    for kind in (ShapeError, GraphError, ConfigError, FeedError):
        assert issubclass(kind, KirError) and issubclass(kind, ValueError)


# ---------------------------------------------------------------------- merges
@pytest.mark.parametrize("fn", ["add", "subtract", "multiply", "average", "maximum", "minimum"])
def test_elementwise_merge_with_mismatched_shapes(fn):
    a, b = Input(shape=(4,)), Input(shape=(5,))
    with raises(ShapeError, f"layer 'bad_{fn}'", "(None, 4)", "(None, 5)"):
        getattr(kir.layers, fn)([a, b], name=f"bad_{fn}")


def test_concatenate_with_mismatched_shapes():
    a, b = Input(shape=(3, 4)), Input(shape=(5, 6))
    with raises(ShapeError, "layer 'cat'", "(None, 3, 4)", "(None, 5, 6)"):
        kir.layers.concatenate([a, b], axis=-1, name="cat")


def test_concatenate_axis_out_of_range():
    a = Input(shape=(4,))
    with raises(ShapeError, "layer 'cat'", "axis 3", "rank 2"):
        kir.layers.concatenate([a, a], axis=3, name="cat")


def test_dot_with_mismatched_axes():
    with raises(ShapeError, "layer 'dotted'", "(None, 4)", "(None, 5)"):
        kir.layers.dot([Input(shape=(4,)), Input(shape=(5,))], axes=1, name="dotted")


def test_merge_needs_a_list_of_enough_tensors():
    a = Input(shape=(4,))
    with raises(ConfigError, "layer 'lonely'", "at least 2"):
        kir.layers.add([a], name="lonely")
    with raises(ConfigError, "layer 'minus'", "exactly 2", "got 3"):
        kir.layers.subtract([a, a, a], name="minus")


# ---------------------------------------------------------------------- shared layers on incompatible widths
def test_dense_reused_on_another_width():
    dense = Dense(3, name="shared_dense")
    dense(Input(shape=(4,)))
    with raises(ShapeError, "layer 'shared_dense'", "(4, 3)", "(None, 5)"):
        dense(Input(shape=(5,)))
    assert len(dense._inbound_nodes) == 1  # the failed call recorded nothing


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_recurrent_layer_reused_on_another_width(cls):
    rnn = cls(3, name="shared_rnn")
    rnn(Input(shape=(5, 4)))
    with raises(ShapeError, "layer 'shared_rnn'", "4 features", "(None, 5, 6)"):
        rnn(Input(shape=(5, 6)))


def test_bidirectional_reused_on_another_width_names_the_wrapper():
    bi = Bidirectional(LSTM(2, name="inner"), name="bi")
    bi(Input(shape=(3, 4)))
    with raises(ShapeError, "layer 'bi'", "(None, 3, 5)"):
        bi(Input(shape=(3, 5)))


def test_conv2d_reused_on_other_channels():
    conv = Conv2D(2, 3, name="shared_conv")
    conv(Input(shape=(8, 8, 3)))
    with raises(ShapeError, "layer 'shared_conv'", "3 channels", "(None, 8, 8, 4)"):
        conv(Input(shape=(8, 8, 4)))


def test_conv1d_and_batchnorm_reused_on_other_widths():
    conv = Conv1D(2, 2, name="c1")
    conv(Input(shape=(4, 3)))
    with raises(ShapeError, "layer 'c1'", "(None, 4, 5)"):
        conv(Input(shape=(4, 5)))
    bn = BatchNormalization(name="bn")
    bn(Input(shape=(4,)))
    with raises(ShapeError, "layer 'bn'", "(None, 5)"):
        bn(Input(shape=(5,)))


def test_model_called_on_an_incompatible_tensor():
    digit = Input(shape=(9, 9, 1), name="digit")
    vision = Model(digit, Flatten()(Conv2D(2, 3)(digit)), name="vision")
    with raises(ShapeError, "'vision'", "(None, 9, 9, 1)", "(None, 9, 9, 2)"):
        vision(Input(shape=(9, 9, 2)))
    with raises(ShapeError, "'vision'", "(None, 9, 9, 1)", "(None, 11, 11, 1)"):
        TimeDistributed(vision)(Input(shape=(3, 11, 11, 1)))
    with raises(GraphError, "model 'vision' takes 1 input", "got 2"):
        vision([Input(shape=(9, 9, 1)), Input(shape=(9, 9, 1))])


# ---------------------------------------------------------------------- graph structure
def test_disconnected_graph_names_the_missing_input():
    a, b = Input(shape=(3,), name="left"), Input(shape=(3,), name="right")
    out = kir.layers.add([a, b])
    with raises(GraphError, "disconnected", "Input 'right'", "inputs=[left]"):
        Model(inputs=a, outputs=out)


def test_duplicate_input_names():
    a, b = Input(shape=(3,), name="twin"), Input(shape=(3,), name="twin")
    with raises(GraphError, "duplicate input name", "twin"):
        Model([a, b], kir.layers.add([a, b]))


def test_duplicate_layer_names():
    x = Input(shape=(3,))
    y = Dense(2, name="same")(x)
    z = Dense(2, name="same")(y)
    with raises(GraphError, "two different layers are named 'same'"):
        Model(x, z)
    with raises(GraphError, "a layer named 's' is already in the model"):
        Sequential([Dense(2, name="s", input_shape=(3,)), Dense(2, name="s")])


def test_model_inputs_must_be_input_tensors():
    x = Input(shape=(3,))
    hidden = Dense(2, name="hid")(x)
    with raises(GraphError, "is not an Input tensor"):
        Model(hidden, Dense(1)(hidden))
    with raises(GraphError, "must be kir tensors", "str"):
        Model(x, "output")


# ---------------------------------------------------------------------- names with suggestions
@pytest.mark.parametrize("make,kind,bad,good", [
    (lambda: Dense(3, activation="rleu"), "activation", "rleu", "relu"),
    (lambda: kir.layers.Activation("softmx"), "activation", "softmx", "softmax"),
    (lambda: LSTM(3, recurrent_activation="hard_sigmod"), "activation", "hard_sigmod", "hard_sigmoid"),
    (lambda: Dense(3, kernel_initializer="glorot_unifrom"), "initializer", "glorot_unifrom", "glorot_uniform"),
    (lambda: Dense(3, bias_initializer="zero"), "initializer", "zero", "zeros"),
    (lambda: LSTM(3, recurrent_initializer="orthogonl"), "initializer", "orthogonl", "orthogonal"),
])
def test_unknown_names_suggest_the_close_match(make, kind, bad, good):
    with raises(ConfigError, f"unknown {kind} '{bad}'", f"Did you mean '{good}'?"):
        make()


def test_unknown_argument_suggests_the_close_match():
    with raises(ConfigError, "Dense", "unknown argument 'activaton'", "Did you mean 'activation'?"):
        Dense(3, activaton="relu")


# ---------------------------------------------------------------------- impossible sizes, wrong ranks
@pytest.mark.parametrize("make,shape,fragments", [
    (lambda: MaxPooling2D((5, 5), name="pool"), (3, 3, 2), ("layer 'pool'", "(5, 5)", "(None, 3, 3, 2)")),
    (lambda: AveragePooling1D(4, name="pool"), (3, 2), ("layer 'pool'", "(4,)", "(None, 3, 2)")),
    (lambda: Conv2D(2, (5, 5), name="conv"), (3, 3, 2), ("layer 'conv'", "(5, 5)", "(None, 3, 3, 2)")),
    (lambda: Conv1D(2, 5, name="conv"), (3, 2), ("layer 'conv'", "(5,)", "(None, 3, 2)")),
    (lambda: Conv2D(2, 3, dilation_rate=3, name="conv"), (6, 6, 1), ("layer 'conv'", "(None, 6, 6, 1)")),
])
def test_impossible_pool_and_conv_sizes(make, shape, fragments):
    layer = make()
    with raises(ShapeError, *fragments):
        layer(Input(shape=shape))


@pytest.mark.parametrize("make,shape", [
    (lambda: Conv2D(2, 3, name="wrong_rank"), (8, 3)),
    (lambda: Conv1D(2, 3, name="wrong_rank"), (8,)),
    (lambda: LSTM(2, name="wrong_rank"), (8,)),
    (lambda: MaxPooling2D(name="wrong_rank"), (8, 3)),
    (lambda: RepeatVector(3, name="wrong_rank"), (4, 5)),
    (lambda: TimeDistributed(Dense(2), name="wrong_rank"), (4,)),
])
def test_wrong_rank_inputs(make, shape):
    layer = make()
    shown = "(None, " + ", ".join(map(str, shape)) + ")"
    with raises(ShapeError, "layer 'wrong_rank'", shown):
        layer(Input(shape=shape))


def test_reshape_with_wrong_element_count():
    with raises(ShapeError, "layer 'rs'", "(None, 4, 5)", "(5, 5)"):
        kir.layers.Reshape((5, 5), name="rs")(Input(shape=(4, 5)))


def test_sequential_add_checks_shapes_at_the_add():
    model = Sequential([Dense(2, input_shape=(3,), name="d")])
    with raises(ShapeError, "layer 'c2'", "(None, 2)"):
        model.add(Conv2D(2, 3, name="c2"))


# ---------------------------------------------------------------------- weights
def test_set_weights_with_wrong_count_or_shapes():
    dense = Dense(3, name="w")
    dense(Input(shape=(4,)))
    with raises(ConfigError, "layer 'w'", "expects 2 weight arrays", "w/kernel, w/bias", "got 1"):
        dense.set_weights([np.zeros((4, 3))])
    with raises(ConfigError, "layer 'w'", "weight 'kernel'", "(4, 3)", "got (5, 3)"):
        dense.set_weights([np.zeros((5, 3)), np.zeros(3)])
    with raises(ConfigError, "layer 'w'", "weight 'bias'", "(3,)", "got (4,)"):
        dense.set_weights([np.zeros((4, 3)), np.zeros(4)])
    np.testing.assert_array_equal(dense.get_weights()[1], np.zeros(3))  # nothing half-applied


def test_model_set_weights_with_wrong_count():
    x = Input(shape=(4,))
    model = Model(x, Dense(2, name="only")(x), name="m")
    with raises(ConfigError, "'m'", "expects 2 weight arrays", "got 3"):
        model.set_weights([np.zeros((4, 2)), np.zeros(2), np.zeros(2)])


def test_set_weights_before_the_layer_is_built():
    with raises(ConfigError, "layer 'fresh'", "expects 0 weight arrays", "call the layer on an input first"):
        Dense(3, name="fresh").set_weights([np.zeros((2, 3)), np.zeros(3)])


# ---------------------------------------------------------------------- nodes
def test_node_index_out_of_range():
    lstm = LSTM(2, name="enc")
    lstm(Input(shape=(3, 4)))
    lstm(Input(shape=(3, 4)))
    for accessor in ("get_output_at", "get_input_at", "get_input_shape_at", "get_output_shape_at"):
        with raises(GraphError, "layer 'enc' has 2 node(s)", "node index 2 is out of range"):
            getattr(lstm, accessor)(2)
    with raises(GraphError, "node index -1 is out of range"):
        lstm.get_output_at(-1)


def test_never_called_layer_has_no_nodes():
    with raises(GraphError, "layer 'idle' has never been called"):
        Dense(3, name="idle").get_output_at(0)
    with raises(GraphError, "layer 'idle2' has never been called"):
        Dense(3, name="idle2").output  # noqa: B018


def test_multi_node_properties_name_the_node_accessors():
    lstm = LSTM(2, name="shared")
    lstm(Input(shape=(3, 4)))
    lstm(Input(shape=(3, 4)))
    with raises(GraphError, "layer 'shared' has 2 inbound nodes", "get_output_at(node_index)"):
        lstm.output  # noqa: B018
    with raises(GraphError, "layer 'shared' has 2 inbound nodes", "get_input_at(node_index)"):
        lstm.input  # noqa: B018
    conv = Conv2D(2, 3, name="multi")
    conv(Input(shape=(8, 8, 3)))
    conv(Input(shape=(9, 9, 3)))
    with raises(GraphError, "layer 'multi'", "(None, 8, 8, 3)", "(None, 9, 9, 3)", "get_input_shape_at"):
        conv.input_shape  # noqa: B018
    with raises(GraphError, "layer 'multi'", "(None, 6, 6, 2)", "(None, 7, 7, 2)", "get_output_shape_at"):
        conv.output_shape  # noqa: B018


# ---------------------------------------------------------------------- Sequential.add
@pytest.mark.parametrize("thing", ["dense", 5, lambda x: x, np.zeros(3)], ids=["str", "int", "function", "array"])
def test_sequential_add_refuses_non_layers(thing):
    model = Sequential(name="stack")
    with raises(ConfigError, "Sequential 'stack'.add expects a kir layer", f"got {type(thing).__name__}"):
        model.add(thing)


def test_sequential_list_refuses_non_layers():
    with raises(ConfigError, "expects a kir layer", "got int"):
        Sequential([Dense(2, input_shape=(3,)), 5])


def test_empty_sequential_cannot_predict_or_pop():
    with raises(GraphError, "Sequential 'empty' has no layers"):
        Sequential(name="empty").predict(np.zeros((1, 2)))
    with raises(GraphError, "has no layers to pop"):
        Sequential(name="empty2").pop()


def test_layers_are_called_on_symbolic_tensors_not_arrays():
    with raises(ConfigError, "layer 'eager'", "called on ndarray", "model.predict"):
        Dense(2, name="eager")(np.zeros((2, 3)))


# ---------------------------------------------------------------------- predict feeds
@pytest.fixture
def two_input_model():
    a, b = Input(shape=(3,), name="in1"), Input(shape=(3,), name="in2")
    return Model([a, b], kir.layers.add([a, b]), name="pair")


def test_feed_with_an_unknown_name(two_input_model):
    with raises(FeedError, "model 'pair' has no input named 'inn2'", "Did you mean 'in2'?", "in1, in2"):
        two_input_model.predict({"in1": np.zeros((2, 3)), "inn2": np.zeros((2, 3))})


def test_feed_with_a_missing_name(two_input_model):
    with raises(FeedError, "model 'pair'", "no data for input 'in2'"):
        two_input_model.predict({"in1": np.zeros((2, 3))})


def test_feed_with_the_wrong_count(two_input_model):
    with raises(FeedError, "model 'pair' has 2 input(s) (in1, in2)", "got 1 array"):
        two_input_model.predict([np.zeros((2, 3))])
    with raises(FeedError, "got 3 array"):
        two_input_model.predict([np.zeros((2, 3))] * 3)


def test_feed_with_the_wrong_shape_or_rank(two_input_model):
    with raises(FeedError, "input 'in2' of model 'pair'", "expected shape (None, 3)", "got (2, 4)"):
        two_input_model.predict([np.zeros((2, 3)), np.zeros((2, 4))])
    with raises(FeedError, "input 'in1' of model 'pair'", "got (2, 3, 1)"):
        two_input_model.predict({"in1": np.zeros((2, 3, 1)), "in2": np.zeros((2, 3))})


def test_feed_with_different_batch_sizes(two_input_model):
    with raises(FeedError, "same number of samples", "in1: 2", "in2: 3"):
        two_input_model.predict([np.zeros((2, 3)), np.zeros((3, 3))])


def test_feed_with_non_numbers_or_bad_batch_size(two_input_model):
    with raises(FeedError, "input 'in1'", "expected numbers"):
        two_input_model.predict([np.array([["a", "b", "c"]]), np.zeros((1, 3))])
    with raises(FeedError, "batch_size must be a positive integer", "got 0"):
        two_input_model.predict([np.zeros((2, 3))] * 2, batch_size=0)


def test_feed_against_a_fixed_batch_size():
    model = Sequential([Dense(2, batch_size=4, input_shape=(3,))])
    with raises(FeedError, "expected shape (4, 3)", "got (3, 3)"):
        model.predict(np.zeros((3, 3)))


def test_embedding_ids_out_of_range():
    ids = Input(shape=(4,), dtype="int32", name="ids")
    model = Model(ids, Embedding(10, 3, name="emb")(ids))
    with raises(FeedError, "layer 'emb'", "token id 40", "input_dim 10"):
        model.predict(np.array([[1, 2, 3, 40]]))


def test_unknown_backend_suggests_numpy():
    x = Input(shape=(2,))
    with raises(ConfigError, "unknown backend 'numpyy'", "Did you mean 'numpy'?"):
        Model(x, Dense(1)(x)).predict(np.zeros((1, 2)), backend="numpyy")
