"""ConvLSTM1D/2D/3D: the shape rule, the layer (arguments, weights, config, errors) and the numpy
lowering against Keras 3's ConvLSTM layers with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from kir.errors import ConfigError, ShapeError
from kir.ir.ops import infer
from kir.ir.spec import TensorSpec
from kir.layers import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, Input
from kir.models import Model
from tests.helpers import assert_close

ATTRS = {"filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "dilation_rate": [1, 1],
         "data_format": "channels_last", "return_sequences": False, "return_state": False}


def spec(*shape: int | None) -> TensorSpec:
    return TensorSpec(tuple(shape), "float32")


def shapes(attrs: dict, *inputs: TensorSpec, params: dict | None = None, op: str = "ConvLSTM2D") -> list[tuple]:
    return [s.shape for s in infer(op, {**ATTRS, **attrs}, list(inputs), params or {})]


# ---------------------------------------------------------------------------------------------- shape rule

def test_shape_rule_outputs():
    x = spec(None, 5, 9, 8, 2)
    assert shapes({}, x) == [(None, 7, 6, 4)]
    assert shapes({"return_sequences": True}, x) == [(None, 5, 7, 6, 4)]
    assert shapes({"padding": "same", "strides": [2, 3]}, x) == [(None, 5, 3, 4)]
    assert shapes({"dilation_rate": [2, 1], "return_state": True}, spec(3, None, 9, 8, 2)) == [
        (3, 5, 6, 4), (3, 5, 6, 4), (3, 5, 6, 4)]
    assert shapes({"kernel_size": [3], "strides": [1], "dilation_rate": [1], "return_sequences": True},
                  spec(None, 4, 10, 3), op="ConvLSTM1D") == [(None, 4, 8, 4)]
    assert shapes({"kernel_size": [1, 2, 3], "strides": [1, 1, 1], "dilation_rate": [1, 1, 1]},
                  spec(2, 4, 3, 4, 5, 1), op="ConvLSTM3D") == [(2, 3, 3, 3, 4)]


def test_shape_rule_initial_states():
    x, h = spec(None, 5, 9, 8, 2), spec(None, 7, 6, 4)
    assert shapes({}, x, h, h) == [(None, 7, 6, 4)]
    with pytest.raises(ShapeError, match=r"initial state c must have shape \(None, 7, 6, 4\).*got \(None, 7, 7, 4\)"):
        shapes({}, x, h, spec(None, 7, 7, 4))
    with pytest.raises(ShapeError, match=r"optionally 2 initial states \(h, c\), got 2 input tensors"):
        shapes({}, x, h)


def test_shape_rule_refuses_bad_inputs():
    with pytest.raises(ShapeError, match=r"ConvLSTM2D expects a 5D input \(batch, time, rows, cols, channels\), "
                                         r"got shape \(None, 9, 8, 2\)"):
        shapes({}, spec(None, 9, 8, 2))
    with pytest.raises(ShapeError, match=r"kernel_size \(3, 3\) does not fit input shape \(None, 5, 2, 8, 2\)"):
        shapes({}, spec(None, 5, 2, 8, 2))
    with pytest.raises(ShapeError, match=r"built for inputs with 3 channels .* got input shape \(None, 5, 9, 8, 2\)"):
        shapes({}, spec(None, 5, 9, 8, 2), params={"kernel": (3, 3, 3, 16)})
    with pytest.raises(ShapeError, match=r"recurrent_kernel has shape \(3, 3, 2, 16\), expected \(3, 3, 4, 16\)"):
        shapes({}, spec(None, 5, 9, 8, 2), params={"recurrent_kernel": (3, 3, 2, 16)})
    with pytest.raises(ShapeError, match="runs channels_last only"):
        shapes({"data_format": "channels_first"}, spec(None, 5, 2, 9, 8))


# ---------------------------------------------------------------------------------------------- layer

def test_layer_weights_in_keras_layout_and_order():
    layer = ConvLSTM2D(5, (3, 2))
    y = layer(Input((None, 8, 7, 3)))
    assert y.shape == (None, 6, 6, 5)
    assert layer.weight_names() == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in layer.get_weights()] == [(3, 2, 3, 20), (3, 2, 5, 20), (20,)]
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])  # unit_forget_bias
    assert layer.count_params() == 3 * 2 * 3 * 20 + 3 * 2 * 5 * 20 + 20
    no_bias = ConvLSTM2D(2, 3, use_bias=False, unit_forget_bias=False)
    no_bias(Input((4, 5, 5, 1)))
    assert no_bias.weight_names() == ["kernel", "recurrent_kernel"]


def test_constructor_takes_keras_arguments_and_defaults():
    import inspect

    keras = pytest.importorskip("keras")
    theirs = inspect.signature(keras.layers.ConvLSTM2D.__init__).parameters
    ours = inspect.signature(ConvLSTM2D.__init__).parameters
    assert list(ours) == list(theirs)
    assert {n: p.default for n, p in ours.items()} == {n: p.default for n, p in theirs.items()}


def test_layer_outputs_and_config():
    layer = ConvLSTM2D(2, 3, padding="same", return_sequences=True, return_state=True, dropout=0.25, seed=3)
    outs = layer(Input((6, 5, 4, 1)))
    assert [o.shape for o in outs] == [(None, 6, 5, 4, 2), (None, 5, 4, 2), (None, 5, 4, 2)]
    config = layer.get_config()
    assert config["filters"] == 2 and config["padding"] == "same" and config["dropout"] == 0.25
    clone = ConvLSTM2D.from_config(config)
    assert clone.ir_attrs() == layer.ir_attrs()


@pytest.mark.parametrize("kwargs,message", [
    ({"stateful": True}, "stateful=True is not supported"),
    ({"data_format": "channels_first"}, "data_format='channels_first' is not supported"),
    ({"strides": 2, "dilation_rate": 2}, "strides > 1 is not compatible with dilation_rate > 1"),
    ({"dropout": 1.5}, "dropout must be in"),
    ({"padding": "causal"}, "padding must be one of"),
    ({"kernel_size": (3, 3, 3)}, "kernel_size must be a positive int or a tuple of 2"),
    ({"recurrent_constraint": "non_negative"}, "recurrent_constraint: unknown constraint 'non_negative'"),
])
def test_layer_refuses_bad_arguments(kwargs, message):
    args = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ConfigError, match=message):
        ConvLSTM2D(**args)


def test_layer_refuses_unknown_spatial_dims_and_bad_initial_state():
    with pytest.raises(ShapeError, match=r"conv_lstm.*spatial and channel dimensions of \(None, 4, None, 5, 1\)"):
        ConvLSTM2D(2, 3, name="conv_lstm_unknown")(Input((4, None, 5, 1)))
    layer = ConvLSTM2D(2, 3)
    with pytest.raises(ConfigError, match=r"initial_state must be 2 symbolic tensors \[h, c\]"):
        layer(Input((4, 5, 5, 1)), initial_state=[Input((3, 3, 2))])


# ---------------------------------------------------------------------------------------------- numpy vs Keras

CASES = [
    ("2d_same_seq", ConvLSTM2D, dict(filters=3, kernel_size=3, padding="same", return_sequences=True)),
    ("2d_valid_last", ConvLSTM2D, dict(filters=2, kernel_size=(3, 2))),
    ("2d_strides_state", ConvLSTM2D, dict(filters=3, kernel_size=3, strides=(2, 1), padding="same",
                                          return_state=True)),
    ("2d_dilated_backwards", ConvLSTM2D, dict(filters=2, kernel_size=2, dilation_rate=2, go_backwards=True,
                                              return_sequences=True, return_state=True)),
    ("2d_relu_hard_sigmoid_nobias", ConvLSTM2D, dict(filters=2, kernel_size=3, activation="relu",
                                                     recurrent_activation="hard_sigmoid", use_bias=False)),
    ("1d_seq", ConvLSTM1D, dict(filters=3, kernel_size=2, padding="same", return_sequences=True)),
    ("3d_state", ConvLSTM3D, dict(filters=2, kernel_size=2, return_state=True)),
]
STEP_SHAPES = {ConvLSTM1D: (7, 2), ConvLSTM2D: (6, 5, 2), ConvLSTM3D: (3, 4, 3, 1)}


def keras_pair(cls, config: dict, steps: int | None = None, seed: int = 0):
    """The kir model and the Keras layer of the same config, both holding the same random weights."""
    keras = pytest.importorskip("keras")
    step = STEP_SHAPES[cls]
    inp = Input((steps, *step))
    layer = cls(**config)
    model = Model(inp, layer(inp))
    theirs = getattr(keras.layers, cls.__name__)(**config)
    theirs.build((None, steps, *step))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.4, w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    layer.set_weights(weights)
    return model, theirs


def as_list(out) -> list[np.ndarray]:
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.mark.parametrize("name,cls,config", CASES, ids=[c[0] for c in CASES])
def test_numpy_matches_keras(name, cls, config):
    model, theirs = keras_pair(cls, config)
    for batch in (1, 3):
        x = np.random.default_rng(batch).normal(size=(batch, 4, *STEP_SHAPES[cls])).astype("float32")
        want = as_list(theirs(x))
        got = as_list(model.predict(x, backend="numpy"))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_close(g, w)


def test_numpy_initial_state_matches_keras():
    keras = pytest.importorskip("keras")
    config = dict(filters=2, kernel_size=3, padding="same", return_sequences=True)
    model, theirs = keras_pair(ConvLSTM2D, config)
    x = Input((3, 6, 5, 2))
    h, c = Input((6, 5, 2)), Input((6, 5, 2))
    layer = model.layers[-1]
    with_state = Model([x, h, c], layer(x, initial_state=[h, c]))
    rng = np.random.default_rng(4)
    arrays = [rng.normal(size=s).astype("float32") for s in ((2, 3, 6, 5, 2), (2, 6, 5, 2), (2, 6, 5, 2))]
    want = np.asarray(theirs(arrays[0], initial_state=[keras.ops.convert_to_tensor(a) for a in arrays[1:]]))
    assert_close(with_state.predict(arrays, backend="numpy"), want)
