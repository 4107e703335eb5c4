"""kir.utils dataset utilities return tf.data datasets equal to Keras' (issue 14)."""

import numpy as np
import pytest
import tensorflow as tf

import kir
from kir.errors import ConfigError


def _items(ds):
    return [tuple(np.asarray(t) for t in b) if isinstance(b, tuple) else np.asarray(b) for b in ds]


@pytest.mark.parametrize("kwargs", [dict(sequence_length=5), dict(sequence_length=4, sequence_stride=3,
                                                                    sampling_rate=2, start_index=3, end_index=40)])
def test_timeseries_windows_equal_keras(kwargs):
    import keras

    data = np.arange(100, dtype="float32").reshape(50, 2)
    targets = np.arange(50)
    ours = _items(kir.utils.timeseries_dataset_from_array(data, targets, batch_size=7, **kwargs))
    theirs = _items(keras.utils.timeseries_dataset_from_array(data, targets, batch_size=7, **kwargs))
    assert len(ours) == len(theirs)
    for (a, b), (c, d) in zip(ours, theirs):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_timeseries_argument_errors():
    with pytest.raises(ConfigError, match="sequence_length must be a positive int"):
        kir.utils.timeseries_dataset_from_array(np.zeros((9, 1)), None, sequence_length=0)
    with pytest.raises(ConfigError, match="no window of sequence_length=20"):
        kir.utils.timeseries_dataset_from_array(np.zeros((9, 1)), None, sequence_length=20)


def test_image_and_text_directories(tmp_path):
    for cls, value in (("cats", 10), ("dogs", 200)):
        (tmp_path / "img" / cls).mkdir(parents=True)
        (tmp_path / "txt" / cls).mkdir(parents=True)
        for i in range(3):
            img = tf.fill((6, 8, 3), tf.constant(value + i, tf.uint8))
            tf.io.write_file(str(tmp_path / "img" / cls / f"{i}.png"), tf.io.encode_png(img))
            (tmp_path / "txt" / cls / f"{i}.txt").write_text(f"{cls} number {i}")
    ds = kir.utils.image_dataset_from_directory(tmp_path / "img", image_size=(4, 4), batch_size=4, shuffle=False,
                                                label_mode="categorical", verbose=False)
    assert ds.class_names == ["cats", "dogs"]
    (x0, y0), (x1, y1) = _items(ds)
    assert x0.shape == (4, 4, 4, 3) and x0.dtype == np.float32 and x1.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(x0[:, 0, 0, 0], [10, 11, 12, 200])
    np.testing.assert_array_equal(np.concatenate([y0, y1]).argmax(1), [0, 0, 0, 1, 1, 1])
    train = kir.utils.image_dataset_from_directory(tmp_path / "img", image_size=(4, 4), validation_split=0.5,
                                                   subset="training", seed=1, verbose=False)
    val = kir.utils.image_dataset_from_directory(tmp_path / "img", image_size=(4, 4), validation_split=0.5,
                                                 subset="validation", seed=1, verbose=False)
    assert not set(train.file_paths) & set(val.file_paths) and len(train.file_paths) == 3
    texts = kir.utils.text_dataset_from_directory(tmp_path / "txt", batch_size=None, shuffle=False, max_length=4,
                                                  verbose=False)
    got = [(t.numpy().decode(), int(y)) for t, y in texts]
    assert got == [("cats", 0)] * 3 + [("dogs", 1)] * 3
    with pytest.raises(ConfigError, match="pass a seed"):
        kir.utils.text_dataset_from_directory(tmp_path / "txt", validation_split=0.5, subset="training")
    with pytest.raises(ConfigError, match="directory '.*nowhere' does not exist"):
        kir.utils.text_dataset_from_directory(tmp_path / "nowhere")


def test_timeseries_dataset_feeds_fit():
    data = np.random.default_rng(0).random((60, 3)).astype("float32")
    ds = kir.utils.timeseries_dataset_from_array(data[:-5], data[5:, :1], sequence_length=5, batch_size=16)
    inp = kir.layers.Input((5, 3))
    m = kir.models.Model(inp, kir.layers.Dense(1)(kir.layers.Flatten()(inp)))
    m.compile("adam", "mse")
    hist = m.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
