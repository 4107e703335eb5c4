"""Streamed fit/evaluate check every batch as arrays are checked (issue 11): a bad token id, sparse
label, NaN or wrapping integer in a LATER batch is a FeedError naming the batch and the input/output,
never TensorFlow's raw InvalidArgumentError mid-epoch. Generators and PyDatasets are checked on the
host; a tf.data dataset of known length keeps the in-graph path, checked by in-graph asserts."""

import numpy as np
import pytest
import tensorflow as tf

import kir
from kir import layers
from kir.errors import FeedError
from kir.training.streaming import stream_for

RNG = np.random.default_rng(0)
N, B = 48, 8
X = RNG.random((N, 3)).astype("float32")
IDS = RNG.integers(0, 10, (N, 2)).astype("int32")
Y = RNG.integers(0, 4, (N, 1)).astype("float32")


def _model():
    kir.utils.set_random_seed(1)
    a, b = layers.Input((3,), name="a"), layers.Input((2,), dtype="int32", name="ids")
    e = layers.Flatten()(layers.Embedding(10, 2)(b))
    m = kir.models.Model([a, b], layers.Dense(4, name="out")(layers.Concatenate()([a, e])))
    m.compile(kir.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return m


def _batches(x=X, ids=IDS, y=Y):
    for i in range(0, N, B):
        yield {"a": x[i:i + B], "ids": ids[i:i + B]}, y[i:i + B]


def _with(array, index, value, dtype=None):
    out = array.astype(dtype or array.dtype, copy=True)
    out[index] = value
    return out


def test_bad_id_in_a_later_generator_batch_names_the_batch():
    with pytest.raises(FeedError, match=r"input 'ids' of model '.*' \(batch 2 of the fit\(\) data\) holds token "
                                        r"id 10 at index \(1, 0\)"):
        _model().fit(_batches(ids=_with(IDS, (17, 0), 10)), epochs=1, verbose=0)


def test_bad_sparse_label_in_a_later_tf_data_batch_names_the_batch():
    ds = tf.data.Dataset.from_tensor_slices(({"a": X, "ids": IDS}, _with(Y, (30, 0), 4))).batch(B)
    with pytest.raises(FeedError, match=r"target for output 'out' .*\(batch 3 of the fit\(\) data\)\) holds "
                                        r"label 4 .*\[0, 4\)"):
        _model().fit(ds, epochs=1, verbose=0)


def _dataset(x=X, ids=IDS, y=Y, batch=B):
    return tf.data.Dataset.from_tensor_slices(({"a": x, "ids": ids}, y)).batch(batch)


def test_tf_data_of_an_embedding_sparse_model_keeps_the_in_graph_path():
    stream = stream_for(_model(), _dataset(), None, None, None, None, False, 0, True, "fit")
    stream.first()
    assert stream.in_graph_steps() == N // B
    assert stream.in_graph_steps(xla=True) is None  # XLA drops asserts: such batches are read on the host


def test_bad_id_in_batch_3_of_a_tf_data_fit_names_the_batch():
    # batch 4: steps 1..8 run in one traced call, so the batch index comes from the step inside the call
    with pytest.raises(FeedError, match=r"^input 'ids' of model '.*' \(batch 3 of the fit\(\) data\) holds token "
                                        r"id 10 at index \(1, 1\), outside \[0, 10\)"):
        _model().fit(_dataset(ids=_with(IDS, (13, 1), 10), batch=4), epochs=1, verbose=0)


def test_bad_sparse_label_in_batch_2_of_a_tf_data_fit_names_the_batch():
    with pytest.raises(FeedError, match=r"^y \(target for output 'out' of model '.*' \(batch 2 of the fit\(\) "
                                        r"data\)\) holds label 2.5 at index \(3, 0\).*\[0, 4\)"):
        _model().fit(_dataset(y=_with(Y, (19, 0), 2.5)), epochs=1, verbose=0)


def test_nan_in_a_later_tf_data_batch_names_the_batch():
    with pytest.raises(FeedError, match=r"^x \(input 'a' of model '.*' \(batch 5 of the fit\(\) data\)\) holds nan "
                                        r"at index \(4, 2\)"):
        _model().fit(_dataset(x=_with(X, (44, 2), np.nan)), epochs=1, verbose=0)
    with pytest.raises(FeedError, match=r"^x \(input 'a' of model '.*' \(batch 0 of the fit\(\) data\)\) holds inf"):
        _model().fit(_dataset(x=_with(X, (2, 2), np.inf)), epochs=1, verbose=0)


def test_nan_in_a_later_batch_is_refused_as_for_arrays():
    with pytest.raises(FeedError, match=r"x \(input 'a' of model '.*' \(batch 1 of the fit\(\) data\)\) holds nan"):
        _model().fit(_batches(x=_with(X, (9, 2), np.nan)), epochs=1, verbose=0)


def test_integer_that_would_wrap_in_a_later_batch_is_refused():
    ids = _with(IDS, (40, 1), 2**32 + 3, "int64")
    with pytest.raises(FeedError, match=r"input 'ids' of model '.*' \(batch 5 of the fit\(\) data\): value "
                                        r"4294967299 .*does not fit"):
        _model().fit(_batches(ids=ids), epochs=1, verbose=0)


def test_evaluate_and_validation_streams_are_checked_too():
    m = _model()
    with pytest.raises(FeedError, match=r"batch 1 of the evaluate\(\) data.*token id -1"):
        m.evaluate(_batches(ids=_with(IDS, (8, 1), -1)), verbose=0)
    with pytest.raises(FeedError, match=r"batch 0 of the fit\(\) data.*label 7"):
        m.fit(_batches(), validation_data=_batches(y=_with(Y, (0, 0), 7)), epochs=1, verbose=0)


def test_checked_tf_data_stream_trains_like_arrays():
    ref = _model()
    ref.fit({"a": X, "ids": IDS}, Y, batch_size=B, epochs=2, shuffle=False, verbose=0)
    m = _model()
    m.fit(tf.data.Dataset.from_tensor_slices(({"a": X, "ids": IDS}, Y)).batch(B), epochs=2, verbose=0)
    for p, q in zip(ref.get_weights(), m.get_weights()):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
