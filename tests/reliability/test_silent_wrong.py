"""Issue 11, silent wrong results: each case used to give a plausible but wrong answer (or train
on garbage) without a word; now it is refused with a KirError naming the culprit, or computed
right (TensorFlow's oneDNN conv, mixed-dtype merges)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import kir
from kir import layers
from kir.errors import ConfigError, FeedError, ShapeError
from kir.models import Model

BACKENDS = ["numpy", "onnx", "tensorflow"]


def _embedding_model() -> Model:
    ids = kir.Input(shape=(1,), dtype="int32", name="ids")
    return Model(ids, layers.Embedding(10, 2)(ids))


def _dense_model(units: int = 1, activation: str | None = None, width: int = 2) -> Model:
    x = kir.Input(shape=(width,), name="x")
    return Model(x, layers.Dense(units, activation=activation, name="out")(x))


# ---------------------------------------------------------------- integer ids
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ids", [np.array([[2**32 + 3]]), np.array([[2**63]], dtype=np.uint64),
                                 np.array([[-(2**31) - 1]]), np.array([[3e10]])])
def test_ids_that_would_wrap_are_refused(backend: str, ids: np.ndarray) -> None:
    with pytest.raises(FeedError, match=r"input 'ids'.*does not fit the input's dtype int32"):
        _embedding_model().predict(ids, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [10, -1, 2**31 - 1])
def test_out_of_range_ids_are_refused(backend: str, bad: int) -> None:
    with pytest.raises(FeedError, match=rf"token id {bad}\b.*\[0, 10\)"):
        _embedding_model().predict(np.array([[1], [bad]], dtype="int64"), backend=backend)


def test_in_range_ids_of_a_wider_dtype_still_work() -> None:
    model = _embedding_model()
    got = model.predict(np.array([[3]], dtype=np.uint64))
    np.testing.assert_array_equal(got, model.predict(np.array([[3]], dtype=np.int32)))


def test_out_of_range_ids_in_fit_name_the_input() -> None:
    model = _embedding_model()
    model.compile("sgd", "mse")
    with pytest.raises(FeedError, match=r"input 'ids'.*token id 12 at index \(1, 0\)"):
        model.fit(np.array([[1], [12]]), np.zeros((2, 1, 2)), verbose=0)


# ---------------------------------------------------------------- complex / object / string
@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_inputs_are_refused(backend: str) -> None:
    with pytest.raises(FeedError, match=r"input 'x'.*complex dtype complex128"):
        _dense_model().predict(np.ones((1, 2), complex), backend=backend)


@pytest.mark.parametrize("kernel, what", [
    (np.ones((2, 1), complex), "complex dtype complex128"),
    (np.array([[None], [1.0]], dtype=object), "non-numeric dtype object"),
    (np.array([["1"], ["2"]]), "non-numeric dtype <U1"),
    ([[1.0], [2.0, 3.0]], "cannot make an array from list"),
])
def test_bad_weights_are_refused_not_converted(kernel, what: str) -> None:
    model = _dense_model()
    before = model.get_weights()
    with pytest.raises(ConfigError, match=rf"layer 'out': weight 'kernel': .*{what}"):
        model.set_weights([kernel, np.zeros(1)])
    for a, b in zip(model.get_weights(), before):  # nothing was half-applied
        np.testing.assert_array_equal(a, b)


def test_complex_targets_are_refused() -> None:
    model = _dense_model()
    model.compile("sgd", "mse")
    with pytest.raises(FeedError, match=r"output 'out'.*complex"):
        model.fit(np.ones((4, 2)), np.ones((4, 1), complex), verbose=0)


# ---------------------------------------------------------------- fit data
def test_categorical_crossentropy_refuses_class_ids_for_a_softmax() -> None:
    model = _dense_model(10, "softmax", 4)
    model.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ShapeError, match=r"output 'out' has shape \(n, 1\) but the output is \(None, 10\)"):
        model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)


def test_mse_still_broadcasts_a_single_column() -> None:
    model = _dense_model(3, None, 4)
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)  # Keras broadcasts (n, 1) against (n, 3)


@pytest.mark.parametrize("where, index, value", [("x", (5, 1), np.inf), ("x", (0, 3), -np.inf),
                                                 ("y", (3, 2), np.nan)])
def test_non_finite_training_data_is_refused(where: str, index: tuple, value: float) -> None:
    model = _dense_model(10, "softmax", 4)
    model.compile("sgd", "categorical_crossentropy")
    x, y = np.ones((8, 4), "float32"), np.eye(10, dtype="float32")[np.arange(8)]
    (x if where == "x" else y)[index] = value
    before = model.get_weights()
    with pytest.raises(FeedError, match=rf"^{where} \(.*holds {value} at index \({index[0]}, {index[1]}\)"):
        model.fit(x, y, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_non_finite_sample_weight_and_validation_data_are_refused() -> None:
    model = _dense_model(1, None, 2)
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2)), np.ones((4, 1))
    with pytest.raises(FeedError, match=r"sample_weight for output 'out' of model '.*' holds nan at index \(2,\)"):
        model.fit(x, y, sample_weight=np.array([1, 1, np.nan, 1]), verbose=0)
    with pytest.raises(FeedError, match=r"^x \(input 'x'.*holds nan"):
        model.fit(x, y, validation_data=(np.full((2, 2), np.nan), np.ones((2, 1))), verbose=0)


def test_finite_check_is_cheap_on_mnist_sized_data() -> None:
    """NaN/inf checking costs two reductions over the data (no copy): on 60k x 784 float32 it is
    a small fraction of one epoch (measured ~20 ms here; bound loosely for shared CI machines)."""
    from kir.backends.feeds import check_finite

    x = np.random.default_rng(0).random((60000, 784), dtype=np.float32)
    start = time.process_time()
    check_finite(x, "x")
    assert time.process_time() - start < 0.5


@pytest.mark.parametrize("epochs", [-1, "2", 2.0, None, True])
def test_bad_epochs_are_refused(epochs) -> None:
    model = _dense_model()
    model.compile("sgd", "mse")
    with pytest.raises(ConfigError, match=rf"epochs must be an int >= 0, got {epochs!r}"):
        model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=epochs, verbose=0)


def test_zero_epochs_trains_nothing_as_in_keras() -> None:
    model = _dense_model()
    model.compile("sgd", "mse")
    before = model.get_weights()
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=0, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_sparse_labels_out_of_range_are_refused() -> None:
    model = _dense_model(3, "softmax", 4)
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(FeedError, match=r"output 'out'.*label 5 at index \(2,\).*\[0, 3\)"):
        model.fit(np.ones((4, 4)), np.array([0, 1, 5, 2]), verbose=0)
    with pytest.raises(FeedError, match=r"label 1.5 at index \(0,\)"):
        model.fit(np.ones((4, 4)), np.array([1.5, 1, 0, 2]), verbose=0)


def test_rank_1_targets_for_a_2_unit_output_are_refused() -> None:
    model = _dense_model(2, None, 4)
    model.compile("sgd", "mse")
    with pytest.raises(ShapeError, match=r"output 'out' has shape \(n,\) but the output is \(None, 2\)"):
        model.fit(np.ones((4, 4)), np.ones(4), verbose=0)


# ---------------------------------------------------------------- TensorFlow oneDNN conv
@pytest.mark.parametrize("kernel, strides, padding, shape", [
    ((1, 3), (1, 2), "valid", (2, 4, 4, 1)),   # the case: off by ~0.5 on oneDNN
    ((2, 3), (1, 2), "valid", (3, 3, 4, 1)),
    ((1, 2), (1, 3), "same", (2, 3, 3, 1)),
    ((2, 2), (1, 3), "valid", (3, 3, 4, 1)),
    ((1, 3), (2, 2), "valid", (2, 5, 4, 1)),
])
def test_tensorflow_conv2d_matches_numpy_where_onednn_is_wrong(kernel, strides, padding, shape) -> None:
    x_in = kir.Input(shape=shape[1:])
    model = Model(x_in, layers.Conv2D(2, kernel, strides=strides, padding=padding, use_bias=False)(x_in))
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    np.testing.assert_allclose(model.predict(x, backend="tensorflow"), model.predict(x), atol=1e-5)


@pytest.mark.parametrize("layer", [
    lambda: layers.Conv3D(2, (1, 1, 2), strides=(1, 1, 2), use_bias=False),   # also wrong on oneDNN
    lambda: layers.Conv1D(2, 3, strides=2, use_bias=False),                    # right; stays as is
    lambda: layers.Conv2D(2, (1, 3), strides=(1, 2), data_format="channels_first", use_bias=False),
])
def test_other_convolutions_of_the_family_match_numpy(layer) -> None:
    x_in = kir.Input(shape=(2, 3, 3, 1) if "3D" in type(layer()).__name__ else
                     (4, 1) if "1D" in type(layer()).__name__ else (1, 4, 4))
    model = Model(x_in, layer()(x_in))
    x = np.random.default_rng(2).standard_normal((3, *x_in.shape[1:])).astype("float32")
    np.testing.assert_allclose(model.predict(x, backend="tensorflow"), model.predict(x), atol=1e-5)


def test_tensorflow_conv2d_workaround_trains_like_numpy() -> None:
    """Gradients flow through the workaround: one SGD step matches the numpy forward after it."""
    x_in = kir.Input(shape=(4, 4, 1))
    model = Model(x_in, layers.Flatten()(layers.Conv2D(2, (1, 3), strides=(1, 2))(x_in)))
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).standard_normal((4, 4, 4, 1)).astype("float32")
    model.fit(x, np.zeros((4, 8)), epochs=2, batch_size=4, verbose=0)
    np.testing.assert_allclose(model.predict(x, backend="tensorflow"), model.predict(x), atol=1e-5)


# ---------------------------------------------------------------- mixed-dtype merges
@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_dtype_merges_cast_to_float32_like_keras(backend: str) -> None:
    a = kir.Input(shape=(3,), name="a")
    b = kir.Input(shape=(3,), dtype="int32", name="b")
    outs = [layers.Concatenate()([a, b]), layers.Add()([a, b]), layers.Maximum()([b, a])]
    assert [t.dtype for t in outs] == ["float32"] * 3
    model = Model([a, b], outs)
    xa, xb = np.full((2, 3), 0.5, "float32"), np.array([[1, 2, 3], [4, 5, 6]], "int32")
    cat, add, mx = model.predict([xa, xb], backend=backend)
    for out in (cat, add, mx):
        assert out.dtype == np.float32
    np.testing.assert_array_equal(cat, np.concatenate([xa, xb.astype("float32")], axis=1))
    np.testing.assert_array_equal(add, xa + xb)
    np.testing.assert_array_equal(mx, np.maximum(xa, xb).astype("float32"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_merges_agree_on_every_backend(backend: str) -> None:
    """Elementwise merges and Dot of int32 inputs are float32 (as their shape rules say) everywhere;
    they used to be int32 on TensorFlow and a raw onnxruntime type error on ONNX."""
    a = kir.Input(shape=(3,), dtype="int32", name="a")
    b = kir.Input(shape=(3,), dtype="int32", name="b")
    merges = [layers.Add(), layers.Subtract(), layers.Multiply(), layers.Average(), layers.Maximum(),
              layers.Dot(axes=1), layers.Concatenate()]
    model = Model([a, b], [m([a, b]) for m in merges])
    xa, xb = np.array([[1, 2, 3]], "int32"), np.array([[4, 5, 6]], "int32")
    got = model.predict([xa, xb], backend=backend)
    fa, fb = xa.astype("float32"), xb.astype("float32")
    want = [fa + fb, fa - fb, fa * fb, (fa + fb) / 2, np.maximum(fa, fb), (fa * fb).sum(1, keepdims=True),
            np.concatenate([xa, xb], axis=1)]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_validation_labels_and_ids_are_checked_too() -> None:
    model = _dense_model(3, "softmax", 4)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.ones((4, 4)), np.array([0, 1, 2, 1])
    with pytest.raises(FeedError, match=r"output 'out'.*label 3 at index \(1,\)"):
        model.fit(x, y, validation_data=(x, np.array([0, 3, 0, 0])), verbose=0)
    emb = _embedding_model()
    emb.compile("sgd", "mse")
    with pytest.raises(FeedError, match=r"input 'ids'.*token id 10"):
        emb.fit(np.array([[1]]), np.zeros((1, 1, 2)), validation_data=(np.array([[10]]), np.zeros((1, 1, 2))),
                verbose=0)


def test_an_input_that_is_also_an_output_exports() -> None:
    """Found by the deep fuzz run: a model output that is one of its inputs (Keras allows it) made
    an invalid ONNX graph (the input's name defined twice; raw onnxruntime Fail in predict)."""
    from kir.backends.onnx import Runtime, to_onnx

    x_in = kir.Input(shape=(3,), name="x")
    model = Model(x_in, [layers.Dense(2)(x_in), x_in, x_in])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    want = model.predict(x)
    for level in ("O0", "O2"):
        got = Runtime(to_onnx(model, optimize=level)).run(x)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-6)
    for g, w in zip(model.predict(x, backend="onnx"), want):
        np.testing.assert_allclose(g, w, atol=1e-6)


@pytest.mark.parametrize("padding", [(1, 2), (0, 2), ((1, 0), (0, 3))])
def test_channel_axis_padding_before_a_conv_runs_on_tensorflow(padding) -> None:
    """Found by the deep fuzz run: oneDNN fuses a Pad into the next Conv2D and drops the padding
    of the channel axis (a raw InvalidArgumentError); a channels_first ZeroPadding2D pads the last
    axis, and here feeds a channels_last Conv2D."""
    x_in = kir.Input(shape=(3, 5, 4))
    padded = layers.ZeroPadding2D(padding, data_format="channels_first")(x_in)
    model = Model(x_in, layers.Flatten()(layers.Conv2D(2, (1, 3), strides=(1, 2))(padded)))
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(x, backend="tensorflow"), model.predict(x), atol=1e-5)
    model.compile("sgd", "mse")
    model.fit(x, np.zeros_like(model.predict(x)), epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(x, backend="tensorflow"), model.predict(x), atol=1e-5)
