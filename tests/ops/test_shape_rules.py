"""Shape rules of the non-recurrent ops: exact output specs and the errors they raise."""

from __future__ import annotations

import pytest

from kir.errors import ShapeError
from kir.ir.ops import infer
from kir.ir.spec import TensorSpec


def out(op: str, attrs: dict, *shapes, params: dict | None = None, dtype: str = "float32"):
    """The single output spec of `op` on inputs of the given shapes."""
    (spec,) = infer(op, attrs, [TensorSpec(s, dtype) for s in shapes], params)
    return spec


def refuse(op: str, attrs: dict, *shapes, params: dict | None = None, dtype: str = "float32") -> str:
    with pytest.raises(ShapeError) as info:
        infer(op, attrs, [TensorSpec(s, dtype) for s in shapes], params, where=f"layer '{op.lower()}'")
    message = str(info.value)
    assert message.startswith(f"layer '{op.lower()}': "), message
    return message


def conv(filters, k, s=None, padding="valid", d=None, data_format="channels_last"):
    n = len(k)
    return {"filters": filters, "kernel_size": k, "strides": s or [1] * n, "padding": padding,
            "dilation_rate": d or [1] * n, "activation": "linear", "use_bias": True,
            "data_format": data_format}


# ---------------------------------------------------------------- core


def test_input_spec_is_declared_shape_and_dtype():
    (spec,) = infer("Input", {"name": "ids", "shape": [None, 7], "dtype": "int32"}, [])
    assert spec == TensorSpec((None, 7), "int32")


def test_dense_maps_last_axis_to_units():
    assert out("Dense", {"units": 4}, (None, 32)) == TensorSpec((None, 4))
    assert out("Dense", {"units": 4}, (None, 5, 32), params={"kernel": (32, 4)}).shape == (None, 5, 4)
    assert out("Dense", {"units": 4}, (None, None), params={"kernel": (32, 4)}).shape == (None, 4)


def test_dense_refuses_width_other_than_its_kernel():
    msg = refuse("Dense", {"units": 4}, (None, 16), params={"kernel": (32, 4), "bias": (4,)})
    assert "last dimension 32" in msg and "(None, 16)" in msg and "(32, 4)" in msg


def test_dense_refuses_rank_1_input():
    assert "rank >= 2" in refuse("Dense", {"units": 4}, (None,))


def test_activation_dropout_identity_keep_shape():
    assert out("Activation", {"activation": "relu"}, (None, 3, 4)) == TensorSpec((None, 3, 4))
    assert out("Dropout", {"rate": 0.5}, (2, 3), dtype="float64") == TensorSpec((2, 3), "float64")
    assert out("Identity", {}, (None, 3), dtype="int32") == TensorSpec((None, 3), "int32")


def test_ops_refuse_wrong_input_count():
    assert "takes 1 input tensor, got 2" in refuse("Dense", {"units": 2}, (None, 3), (None, 3))


def test_flatten_multiplies_known_dims_and_keeps_dtype():
    assert out("Flatten", {}, (None, 3, 4, 5), dtype="int32") == TensorSpec((None, 60), "int32")
    assert out("Flatten", {"data_format": "channels_first"}, (2, 3, 4)).shape == (2, 12)
    assert out("Flatten", {}, (None, None, 4)).shape == (None, None)


@pytest.mark.parametrize(
    "target,expected",
    [([12, 5], (None, 12, 5)), ([-1, 10], (None, 6, 10)), ([3, -1, 2], (None, 3, 10, 2)), ([60], (None, 60))],
)
def test_reshape_resolves_target(target, expected):
    assert out("Reshape", {"target_shape": target}, (None, 3, 4, 5)).shape == expected


def test_reshape_with_unknown_input_dim():
    assert out("Reshape", {"target_shape": [-1, 4]}, (None, None, 4)).shape == (None, None, 4)
    assert out("Reshape", {"target_shape": [2, 4]}, (None, None, 4)).shape == (None, 2, 4)


def test_reshape_refuses_element_count_mismatch():
    msg = refuse("Reshape", {"target_shape": [7, 8]}, (None, 3, 4, 5))
    assert "(None, 3, 4, 5) (60 elements per sample)" in msg and "(7, 8) (56 elements)" in msg


def test_reshape_refuses_indivisible_and_double_minus_one():
    assert "not divisible by 7" in refuse("Reshape", {"target_shape": [7, -1]}, (None, 60))
    assert "at most one -1" in refuse("Reshape", {"target_shape": [-1, -1]}, (None, 60))


def test_permute_and_transpose():
    assert out("Permute", {"dims": [2, 1]}, (None, 3, 4), dtype="int64") == TensorSpec((None, 4, 3), "int64")
    assert out("Transpose", {"perm": [0, 3, 1, 2]}, (None, 8, 9, 3)).shape == (None, 3, 8, 9)
    assert "give each of 1..2" in refuse("Permute", {"dims": [1, 1]}, (None, 3, 4))
    assert "give each of 0..2" in refuse("Transpose", {"perm": [0, 1]}, (None, 3, 4))


def test_repeat_vector():
    assert out("RepeatVector", {"n": 5}, (None, 7)).shape == (None, 5, 7)
    assert "rank-2 input" in refuse("RepeatVector", {"n": 5}, (None, 7, 2))


def test_embedding_appends_output_dim_as_float32():
    attrs = {"input_dim": 100, "output_dim": 8, "mask_zero": False}
    assert out("Embedding", attrs, (None, 10), dtype="int32") == TensorSpec((None, 10, 8), "float32")
    assert out("Embedding", attrs, (None,), dtype="float32").shape == (None, 8)
    assert "cast the ids to int32" in refuse("Embedding", attrs, (None, 10), dtype="bool")
    msg = refuse("Embedding", attrs, (None, 10), dtype="int32", params={"embeddings": (100, 6)})
    assert "output_dim 8" in msg and "(100, 6)" in msg


# ---------------------------------------------------------------- conv


@pytest.mark.parametrize(
    "attrs,shape,expected",
    [
        (conv(8, [3]), (None, 10, 3), (None, 8, 8)),
        (conv(8, [3], [2]), (None, 10, 3), (None, 4, 8)),
        (conv(8, [3], [2], "same"), (None, 10, 3), (None, 5, 8)),
        (conv(8, [3], padding="causal", d=[4]), (None, 10, 3), (None, 10, 8)),
        (conv(8, [3], [3], "causal"), (None, 10, 3), (None, 4, 8)),
        (conv(8, [3], d=[2]), (None, 10, 3), (None, 6, 8)),
        (conv(8, [3]), (None, None, 3), (None, None, 8)),
        (conv(16, [3, 3]), (None, 28, 28, 1), (None, 26, 26, 16)),
        (conv(16, [3, 3], [2, 2], "same"), (None, 224, 224, 3), (None, 112, 112, 16)),
        (conv(16, [5, 3], [2, 1]), (2, 11, 7, 3), (2, 4, 5, 16)),
        (conv(16, [3, 3], d=[2, 3]), (None, 10, 10, 3), (None, 6, 4, 16)),
        (conv(16, [3, 3], data_format="channels_first"), (None, 3, 28, 20), (None, 16, 26, 18)),
        (conv(4, [3], [2], "same", data_format="channels_first"), (None, 3, 9), (None, 4, 5)),
    ],
)
def test_conv_output_shapes(attrs, shape, expected):
    op = "Conv1D" if len(shape) == 3 else "Conv2D"
    assert out(op, attrs, shape) == TensorSpec(expected, "float32")


def test_conv_refuses_window_larger_than_input():
    msg = refuse("Conv2D", conv(8, [5, 5]), (None, 4, 10, 3))
    assert "kernel_size (5, 5) does not fit input shape (None, 4, 10, 3)" in msg
    assert "output would have size 0" in msg and "padding='same'" in msg
    assert "dilation_rate (3,)" in refuse("Conv1D", conv(8, [3], d=[3]), (None, 6, 3))


def test_conv_refuses_channels_other_than_its_kernel():
    msg = refuse("Conv2D", conv(8, [3, 3]), (None, 8, 8, 4), params={"kernel": (3, 3, 3, 8)})
    assert "3 channels" in msg and "(None, 8, 8, 4)" in msg
    first = conv(8, [3, 3], data_format="channels_first")
    assert out("Conv2D", first, (None, 3, 8, 8), params={"kernel": (3, 3, 3, 8)}).shape == (None, 8, 6, 6)


def test_conv_refuses_wrong_rank_and_causal_2d():
    assert "rank-4 input (batch, rows, cols, channels)" in refuse("Conv2D", conv(8, [3, 3]), (None, 8, 3))
    assert "rank-3 input (batch, channels, steps)" in refuse(
        "Conv1D", conv(8, [3], data_format="channels_first"), (None, 8)
    )
    assert "padding='causal'" in refuse("Conv2D", conv(8, [3, 3], padding="causal"), (None, 8, 8, 3))


# ---------------------------------------------------------------- pooling


def pool(p, s=None, padding="valid", data_format="channels_last"):
    return {"pool_size": p, "strides": s, "padding": padding, "data_format": data_format}


@pytest.mark.parametrize(
    "op,attrs,shape,expected",
    [
        ("MaxPooling1D", pool([2]), (None, 9, 4), (None, 4, 4)),
        ("AveragePooling1D", pool([3], [1], "same"), (None, 9, 4), (None, 9, 4)),
        ("MaxPooling2D", pool([2, 2]), (None, 28, 28, 8), (None, 14, 14, 8)),
        ("MaxPooling2D", pool([3, 3], [2, 2], "same"), (None, 7, 8, 8), (None, 4, 4, 8)),
        ("AveragePooling2D", pool([2, 2], [1, 1]), (None, None, 5, 8), (None, None, 4, 8)),
        ("AveragePooling2D", pool([2, 2], data_format="channels_first"), (None, 8, 6, 4), (None, 8, 3, 2)),
    ],
)
def test_pooling_output_shapes(op, attrs, shape, expected):
    assert out(op, attrs, shape) == TensorSpec(expected, "float32")


def test_pooling_refuses_pool_larger_than_input():
    msg = refuse("MaxPooling2D", pool([3, 3]), (None, 2, 8, 1))
    assert "pool_size (3, 3) does not fit input shape (None, 2, 8, 1)" in msg
    assert "padding 'valid' or 'same'" in refuse("MaxPooling1D", pool([2], padding="causal"), (None, 8, 1))


@pytest.mark.parametrize(
    "op,attrs,shape,expected",
    [
        ("GlobalAveragePooling1D", {}, (None, 9, 4), (None, 4)),
        ("GlobalMaxPooling2D", {}, (None, 7, 7, 16), (None, 16)),
        ("GlobalMaxPooling2D", {"keepdims": True}, (None, 7, 7, 16), (None, 1, 1, 16)),
        ("GlobalAveragePooling2D", {"data_format": "channels_first"}, (None, 16, 7, 7), (None, 16)),
        ("GlobalAveragePooling1D", {"data_format": "channels_first", "keepdims": True}, (2, 4, 9), (2, 4, 1)),
    ],
)
def test_global_pooling_shapes(op, attrs, shape, expected):
    assert out(op, attrs, shape) == TensorSpec(expected, "float32")


def test_global_pooling_refuses_wrong_rank():
    assert "rank-4 input" in refuse("GlobalMaxPooling2D", {}, (None, 7, 16))


# ---------------------------------------------------------------- normalization


def test_batch_norm_keeps_shape_and_checks_params():
    params = {"gamma": (16,), "beta": (16,), "moving_mean": (16,), "moving_variance": (16,)}
    assert out("BatchNormalization", {"axis": 3}, (None, 8, 8, 16), params=params).shape == (None, 8, 8, 16)
    assert out("BatchNormalization", {"axis": 1}, (None, 16, 8, 8), params=params).shape == (None, 16, 8, 8)
    msg = refuse("BatchNormalization", {"axis": 3}, (None, 8, 8, 12), params=params)
    assert "'gamma' has shape (16,)" in msg and "needs (12,)" in msg
    assert "axis 4 is out of range" in refuse("BatchNormalization", {"axis": 4}, (None, 8, 8, 16))


def test_layer_norm_keeps_shape_and_checks_params():
    attrs = {"axis": [2, 1], "epsilon": 1e-3}
    spec = out("LayerNormalization", attrs, (None, 3, 4), params={"gamma": (3, 4), "beta": (3, 4)})
    assert spec.shape == (None, 3, 4)
    msg = refuse("LayerNormalization", attrs, (None, 3, 5), params={"gamma": (3, 4)})
    assert "needs (3, 5)" in msg
    assert "axis 0 is out of range" in refuse("LayerNormalization", {"axis": [0]}, (None, 3))


# ---------------------------------------------------------------- merges


@pytest.mark.parametrize("op", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_elementwise_merge_shapes(op):
    assert out(op, {}, (None, 3, 4), (None, 3, 4), (None, 3, 4)).shape == (None, 3, 4)
    assert out(op, {}, (None, 3, 1), (2, 1, 4)).shape == (2, 3, 4)
    assert out(op, {}, (None, None), (None, 5)).shape == (None, None)


def test_elementwise_merge_refuses_mismatch():
    msg = refuse("Add", {}, (None, 32), (None, 16))
    assert "matching shapes, got (None, 32) and (None, 16)" in msg
    assert "same rank" in refuse("Multiply", {}, (None, 32), (None, 4, 32))
    assert "different batch sizes" in refuse("Maximum", {}, (2, 3), (4, 3))
    assert "takes 2 input tensors, got 3" in refuse("Subtract", {}, (None, 3), (None, 3), (None, 3))


def test_concatenate_shapes():
    assert out("Concatenate", {"axis": 1}, (None, 3), (None, 5)).shape == (None, 8)
    assert out("Concatenate", {"axis": 2}, (None, 4, 3), (None, 4, 5), (None, 4, 1)).shape == (None, 4, 9)
    assert out("Concatenate", {"axis": 1}, (None, None, 3), (None, 4, 3)).shape == (None, None, 3)
    assert out("Concatenate", {"axis": 2}, (None, None, 3), (None, 4, 3)).shape == (None, 4, 6)


def test_concatenate_refuses_mismatch_and_bad_axis():
    msg = refuse("Concatenate", {"axis": 1}, (None, 32), (None, 5, 3))
    assert "matching shapes except on axis 1, got (None, 32) and (None, 5, 3)" in msg
    msg = refuse("Concatenate", {"axis": 2}, (None, 4, 3), (None, 5, 3))
    assert "except on axis 2, got (None, 4, 3) and (None, 5, 3)" in msg
    assert "axis 2 is out of range" in refuse("Concatenate", {"axis": 2}, (None, 4), (None, 4))


@pytest.mark.parametrize(
    "x,y,axes,expected",
    [
        ((None, 5), (None, 5), [1, 1], (None, 1)),
        ((None, 3, 5), (None, 10, 3), [1, 2], (None, 5, 10)),
        ((None, 4, 5), (None, 4, 6), [1, 1], (None, 5, 6)),
        ((None, 4, 5), (None, 5), [2, 1], (None, 4)),
        ((None, 20), (None, 30, 20), [1, 2], (None, 30)),
    ],
)
def test_dot_shapes(x, y, axes, expected):
    assert out("Dot", {"axes": axes, "normalize": False}, x, y).shape == expected


def test_dot_refuses_mismatch():
    msg = refuse("Dot", {"axes": [1, 1]}, (None, 5), (None, 6))
    assert "x.shape[1] == y.shape[1], got (None, 5) and (None, 6)" in msg
    assert "out of range" in refuse("Dot", {"axes": [2, 1]}, (None, 5), (None, 5))
