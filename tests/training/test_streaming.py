"""Streamed input (issue 14): tf.data datasets, generators, PyDataset and memory-mapped arrays over
the device budget train to the same weights as the same data given as arrays."""

import numpy as np
import pytest
import tensorflow as tf

import kir
from kir import layers
from kir.errors import ConfigError, FeedError
from kir.training import streaming

RNG = np.random.default_rng(0)
XA = RNG.random((50, 5)).astype("float32")
XB = RNG.random((50, 3)).astype("float32")
Y = RNG.random((50, 2)).astype("float32")


def _model():
    kir.utils.set_random_seed(3)
    a, b = layers.Input((5,), name="a"), layers.Input((3,), name="b")
    h = layers.Dense(6, activation="relu")(layers.Concatenate()([a, b]))
    m = kir.models.Model([a, b], layers.Dense(2, name="out")(h))
    m.compile(kir.optimizers.SGD(0.05), "mse", metrics=["mae"])
    return m


@pytest.fixture(scope="module")
def reference():
    m = _model()
    m.fit({"a": XA, "b": XB}, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return m.get_weights()


def _same(ref, m):
    for p, q in zip(ref, m.get_weights()):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)


class Batches(kir.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ends = 0

    def __len__(self):
        return 7

    def __getitem__(self, i):
        s = slice(i * 8, i * 8 + 8)
        return [XA[s], XB[s]], Y[s]

    def on_epoch_end(self):
        self.ends += 1


def test_tf_data_dict_feeds_equal_arrays(reference):
    m = _model()
    ds = tf.data.Dataset.from_tensor_slices(({"a": XA, "b": XB}, {"out": Y})).batch(8)
    m.fit(ds, epochs=2, verbose=0, validation_data=ds, validation_steps=2)
    _same(reference, m)
    assert m.training_state.feed == "stream"
    assert set(m.history.history) == {"loss", "mae", "val_loss", "val_mae"}
    np.testing.assert_allclose(m.evaluate(ds, verbose=0), m.evaluate([XA, XB], Y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(m.predict(ds, verbose=0), m.predict([XA, XB]), rtol=1e-6)


def test_generator_with_steps_per_epoch_equals_arrays(reference):
    def gen():
        while True:
            for i in range(0, 50, 8):
                yield {"a": XA[i:i + 8], "b": XB[i:i + 8]}, Y[i:i + 8]

    m = _model()
    m.fit(gen(), steps_per_epoch=7, epochs=2, verbose=0)
    _same(reference, m)
    assert m.predict(gen(), steps=2).shape == (16, 2)


def test_py_dataset_with_workers_equals_arrays(reference):
    ds = Batches(workers=2)
    m = _model()
    m.fit(ds, epochs=2, shuffle=False, verbose=0)
    _same(reference, m)
    assert ds.ends == 2
    assert kir.utils.Sequence is kir.utils.PyDataset


def test_py_dataset_shuffles_batches_per_epoch_by_seed():
    runs = []
    for _ in range(2):
        m = _model()
        m.fit(Batches(), epochs=2, verbose=0)
        runs.append(m.get_weights()[0])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_memmap_over_the_device_budget_streams_and_equals_arrays(tmp_path, monkeypatch):
    path = tmp_path / "xa.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype="float32", shape=XA.shape)
    mm[:] = XA
    mm.flush()
    m = _model()
    m.fit([XA, XB], Y, batch_size=8, epochs=2, verbose=0)
    assert m.training_state.feed == "device"
    ref = m.get_weights()
    monkeypatch.setattr(streaming, "DEVICE_BUDGET_BYTES", XA.nbytes // 2)
    m = _model()
    m.fit([np.load(path, mmap_mode="r"), XB], Y, batch_size=8, epochs=2, verbose=0)
    assert m.training_state.feed == "stream"
    _same(ref, m)


def test_stream_errors_name_the_problem():
    m = _model()
    ds = tf.data.Dataset.from_tensor_slices(({"a": XA, "b": XB}, Y)).batch(8)
    with pytest.raises(ConfigError, match="targets and sample weights come from its batches"):
        m.fit(ds, Y, verbose=0)
    with pytest.raises(ConfigError, match="steps_per_epoch=.*with arrays"):
        m.fit([XA, XB], Y, steps_per_epoch=3, verbose=0)
    no_y = tf.data.Dataset.from_tensor_slices({"a": XA, "b": XB}).batch(8)
    with pytest.raises(FeedError, match=r"without targets y for outputs out; yield \(x, y\)"):
        m.fit(no_y, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices(({"a": XA, "c": XB}, Y)).batch(8)
    with pytest.raises(FeedError, match="no input named 'c'"):
        m.fit(bad, verbose=0)


def test_sample_weights_inside_batches_equal_array_sample_weight():
    sw = np.linspace(0.1, 2.0, 50).astype("float32")
    m = _model()
    m.fit([XA, XB], Y, sample_weight=sw, batch_size=10, epochs=1, shuffle=False, verbose=0)
    ref = m.get_weights()
    m = _model()
    ds = tf.data.Dataset.from_tensor_slices(((XA, XB), Y, sw)).batch(10)
    m.fit(ds, epochs=1, verbose=0)
    _same(ref, m)


def test_progress_bar_learns_the_length_of_an_unsized_stream(capsys):
    def gen():
        for i in range(0, 50, 10):
            yield [XA[i:i + 10], XB[i:i + 10]], Y[i:i + 10]

    m = _model()
    m.fit(gen(), epochs=1, verbose=1)
    assert "5/5" in capsys.readouterr().out


def test_a_bad_later_batch_is_a_feed_error_naming_it():
    def gen():
        yield [XA[:8], XB[:8]], Y[:8]
        yield [XA[:8, :4], XB[:8]], Y[:8]

    m = _model()
    with pytest.raises(FeedError, match=r"input 'a' of model '.*' \(batch 1 of the fit\(\) data\): expected shape "
                                         r"\(None, 5\), got \(8, 4\)"):
        m.fit(gen(), verbose=0)

    def ragged():
        yield [XA[:8], XB[:8]], Y[:8]
        yield [XA[:8], XB[:8]], Y[:6]

    with pytest.raises(FeedError, match=r"batch 1 .*different batch sizes \[6, 8\]"):
        m.fit(ragged(), verbose=0)


def test_class_weight_applies_to_streamed_batches():
    yi = (XA[:, 0] > 0.5).astype("int64")
    cw = {0: 0.3, 1: 2.0}

    def make():
        kir.utils.set_random_seed(3)
        a, b = layers.Input((5,), name="a"), layers.Input((3,), name="b")
        m = kir.models.Model([a, b], layers.Dense(2, activation="softmax")(layers.Concatenate()([a, b])))
        m.compile(kir.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return m

    m = make()
    m.fit([XA, XB], yi, class_weight=cw, batch_size=10, shuffle=False, verbose=0)
    ref = m.get_weights()
    m = make()
    m.fit(tf.data.Dataset.from_tensor_slices(((XA, XB), yi)).batch(10), class_weight=cw, verbose=0)
    _same(ref, m)
