"""Every IR op through ONNX: the exported file (dynamic batch) equals the numpy reference at
batch 1 and 7."""

from __future__ import annotations

import pytest

import kir
from kir import activations
from kir import layers as L
from kir.backends.onnx import DEFAULT_OPSET, LOWERINGS, MAX_OPSET, MIN_OPSET
from kir.ir import ops
from tests.fixtures.factories import randomize
from tests.onnx.util import check_parity


def single(shape, *layers, dtype="float32"):
    """A model applying `layers` in sequence to one input of `shape` (without batch)."""
    x = inp = L.Input(shape=shape, dtype=dtype, name="x")
    for layer in layers:
        x = layer(x)
    return randomize(kir.Model(inp, x, name="m"))


def multi(shapes, merge, pre=None):
    """A model merging several inputs with `merge` (optionally after a layer per input)."""
    inputs = [L.Input(shape=s, name=f"x{i}") for i, s in enumerate(shapes)]
    xs = [pre(x) for x in inputs] if pre else inputs
    return randomize(kir.Model(inputs, merge(xs), name="m"))


CASES = {
    # core
    "dense": lambda: single((6,), L.Dense(5)),
    "dense_no_bias": lambda: single((6,), L.Dense(5, use_bias=False, activation="tanh")),
    "dense_rank3": lambda: single((4, 6), L.Dense(5, activation="relu")),
    "dense_rank4_no_bias": lambda: single((3, 4, 6), L.Dense(5, use_bias=False)),
    "dropout": lambda: single((6,), L.Dropout(0.5), L.Dense(3)),
    "flatten": lambda: single((3, 4, 2), L.Flatten()),
    "reshape": lambda: single((12,), L.Reshape((3, -1)), L.Dense(2)),
    "permute": lambda: single((3, 4, 5), L.Permute((3, 1, 2))),
    "repeat_vector": lambda: single((4,), L.RepeatVector(3)),
    "embedding_int32": lambda: single((5,), L.Embedding(10, 4), dtype="int32"),
    "embedding_int64": lambda: single((2, 3), L.Embedding(10, 4), dtype="int64"),
    # recurrent
    "simple_rnn": lambda: single((5, 3), L.SimpleRNN(4)),
    "simple_rnn_seq_state": lambda: single((5, 3), L.SimpleRNN(4, return_sequences=True, return_state=True)),
    "simple_rnn_backwards_relu": lambda: single((5, 3), L.SimpleRNN(4, activation="relu", go_backwards=True,
                                                                     return_sequences=True)),
    "gru": lambda: single((5, 3), L.GRU(4)),
    "gru_reset_before": lambda: single((5, 3), L.GRU(4, reset_after=False, return_sequences=True)),
    "gru_backwards_state": lambda: single((5, 3), L.GRU(4, go_backwards=True, return_sequences=True,
                                                        return_state=True)),
    "gru_no_bias": lambda: single((5, 3), L.GRU(4, use_bias=False)),
    "lstm": lambda: single((5, 3), L.LSTM(4)),
    "lstm_seq_state": lambda: single((5, 3), L.LSTM(4, return_sequences=True, return_state=True)),
    "lstm_state_only": lambda: single((5, 3), L.LSTM(4, return_state=True)),
    "lstm_backwards": lambda: single((5, 3), L.LSTM(4, go_backwards=True, return_sequences=True)),
    "lstm_hard_sigmoid_no_bias": lambda: single((5, 3), L.LSTM(4, recurrent_activation="hard_sigmoid",
                                                              use_bias=False)),
    "bidirectional_concat": lambda: single((5, 3), L.Bidirectional(L.LSTM(4, return_sequences=True))),
    "bidirectional_sum_last": lambda: single((5, 3), L.Bidirectional(L.GRU(4), merge_mode="sum")),
    "bidirectional_ave_seq": lambda: single((5, 3), L.Bidirectional(L.SimpleRNN(4, return_sequences=True),
                                                                    merge_mode="ave")),
    "bidirectional_none": lambda: single((5, 3), L.Bidirectional(L.LSTM(4), merge_mode=None)),
    # convolution
    "conv1d_valid": lambda: single((9, 3), L.Conv1D(4, 3)),
    "conv1d_same_stride": lambda: single((9, 3), L.Conv1D(4, 3, strides=2, padding="same", activation="relu")),
    "conv1d_causal_dilated": lambda: single((9, 3), L.Conv1D(4, 3, padding="causal", dilation_rate=2)),
    "conv2d_valid": lambda: single((7, 6, 2), L.Conv2D(3, (3, 2))),
    "conv2d_same_stride2": lambda: single((7, 6, 2), L.Conv2D(3, 3, strides=2, padding="same", use_bias=False)),
    "conv2d_same_dilated": lambda: single((8, 8, 2), L.Conv2D(3, 3, padding="same", dilation_rate=2)),
    "conv2d_softmax": lambda: single((5, 5, 2), L.Conv2D(4, 1, activation="softmax")),
    "conv2d_chain": lambda: single((8, 8, 2), L.Conv2D(3, 3, padding="same"), L.Conv2D(4, 3),
                                   L.MaxPooling2D(), L.Conv2D(2, 1, activation="relu")),
    # pooling
    "maxpool1d": lambda: single((9, 3), L.MaxPooling1D(2)),
    "maxpool1d_same": lambda: single((9, 3), L.MaxPooling1D(3, strides=2, padding="same")),
    "avgpool1d_same": lambda: single((9, 3), L.AveragePooling1D(3, strides=2, padding="same")),
    "maxpool2d": lambda: single((7, 6, 2), L.MaxPooling2D((2, 2))),
    "maxpool2d_same": lambda: single((7, 6, 2), L.MaxPooling2D((3, 3), strides=(2, 1), padding="same")),
    "avgpool2d_valid": lambda: single((7, 6, 2), L.AveragePooling2D((2, 3))),
    "avgpool2d_same": lambda: single((7, 6, 2), L.AveragePooling2D((3, 3), strides=2, padding="same")),
    "global_avg1d": lambda: single((5, 3), L.GlobalAveragePooling1D()),
    "global_max1d_keepdims": lambda: single((5, 3), L.GlobalMaxPooling1D(keepdims=True)),
    "global_avg2d_keepdims": lambda: single((4, 5, 3), L.GlobalAveragePooling2D(keepdims=True)),
    "global_max2d": lambda: single((4, 5, 3), L.GlobalMaxPooling2D()),
    # normalization
    "batchnorm_dense": lambda: single((6,), L.BatchNormalization()),
    "batchnorm_nhwc": lambda: single((4, 4, 3), L.BatchNormalization()),
    "batchnorm_axis1": lambda: single((3, 5), L.BatchNormalization(axis=1)),
    "batchnorm_axis2_of_4": lambda: single((4, 3, 5), L.BatchNormalization(axis=2, center=False)),
    "batchnorm_no_scale": lambda: single((4, 3), L.BatchNormalization(axis=1, scale=False)),
    "layernorm": lambda: single((4, 6), L.LayerNormalization()),
    "layernorm_two_axes": lambda: single((3, 4, 5), L.LayerNormalization(axis=[2, 3])),
    "layernorm_middle_axis": lambda: single((3, 4, 5), L.LayerNormalization(axis=1, center=False)),
    "layernorm_no_scale": lambda: single((6,), L.LayerNormalization(scale=False)),
    # merges
    "add": lambda: multi([(4,), (4,)], L.Add()),
    "add3": lambda: multi([(4,), (4,), (4,)], L.add),
    "subtract": lambda: multi([(4,), (4,)], L.Subtract()),
    "multiply3": lambda: multi([(4,), (4,), (4,)], L.Multiply()),
    "average": lambda: multi([(2, 4), (2, 4)], L.Average()),
    "average3": lambda: multi([(4,), (4,), (4,)], L.average),
    "maximum": lambda: multi([(4,), (4,), (4,)], L.Maximum()),
    "minimum": lambda: multi([(4,), (4,)], L.Minimum()),
    "concat_last": lambda: multi([(2, 3), (2, 5)], L.Concatenate()),
    "concat_axis1": lambda: multi([(2, 3), (4, 3)], L.Concatenate(axis=1)),
    "dot_vectors": lambda: multi([(4,), (4,)], L.Dot(axes=1)),
    "dot_normalize": lambda: multi([(4,), (4,)], L.Dot(axes=1, normalize=True)),
    "dot_sequences": lambda: multi([(3, 4), (5, 4)], L.Dot(axes=(2, 2))),
    "dot_time": lambda: multi([(3, 4), (3, 5)], L.Dot(axes=1, normalize=True)),
    "dot_rank4": lambda: multi([(2, 3, 4), (4, 5)], L.Dot(axes=(3, 1))),
    "dot_vector_matrix": lambda: multi([(4,), (4, 5)], L.Dot(axes=(1, 1))),
    # unknown non-batch dims
    "conv2d_same_dynamic_spatial": lambda: single((None, None, 2), L.Conv2D(3, 3, strides=2, padding="same"),
                                                  L.MaxPooling2D(2, padding="same"), L.GlobalAveragePooling2D()),
    "lstm_dynamic_steps": lambda: single((None, 3), L.LSTM(4, return_sequences=True, go_backwards=True)),
    "time_distributed_dynamic_steps": lambda: single((None, 4), L.TimeDistributed(L.Dense(2))),
    # wrappers
    "time_distributed_dense": lambda: single((3, 4), L.TimeDistributed(L.Dense(2, activation="relu"))),
    "time_distributed_conv": lambda: single((3, 6, 6, 2), L.TimeDistributed(L.Conv2D(3, 3)),
                                            L.TimeDistributed(L.Flatten())),
}
ACTIVATION_CASES = {f"activation_{name}": (lambda n=name: single((3, 6), L.Activation(n)))
                    for name in activations.NAMES}
DENSE_ACTIVATION_CASES = {f"dense_{name}": (lambda n=name: single((6,), L.Dense(4, activation=n)))
                          for name in ("gelu", "mish", "swish", "hard_sigmoid", "log_softmax")}
ALL = {**CASES, **ACTIVATION_CASES, **DENSE_ACTIVATION_CASES}


@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, MAX_OPSET])
@pytest.mark.parametrize("case", sorted(ALL))
def test_op_matches_numpy_reference(case, opset, tmp_path) -> None:
    check_parity(ALL[case](), tmp_path, opset=opset)


def test_nested_model_and_call_twice(tmp_path) -> None:
    inner_in = L.Input(shape=(4,), name="inner_in")
    inner = kir.Model(inner_in, L.Dense(3, activation="tanh", name="inner_dense")(inner_in), name="inner")
    a, b = L.Input(shape=(4,), name="a"), L.Input(shape=(4,), name="b")
    model = randomize(kir.Model([a, b], L.concatenate([inner(a), inner(b)]), name="outer"))
    path = check_parity(model, tmp_path)
    import onnx

    names = [t.name for t in onnx.load(str(path)).graph.initializer]
    assert names.count("inner_dense/kernel") == 1 and len(names) == 2, names


def test_every_ir_op_has_an_onnx_lowering() -> None:
    """Call and TimeDistributed are the interpreter's (kir.ir.interpret), not the table's."""
    expected = set(ops.registry.registered_ops()) - {"Input", "Call", "TimeDistributed"}
    assert expected - set(LOWERINGS.ops()) == set()
