"""Callbacks that look into a running fit: weights mid-epoch, checkpoints every N batches,
TerminateOnNaN and TensorBoard event files (issue 14)."""

import os

import numpy as np
import pytest

import kir
from kir import callbacks, layers
from kir.errors import ConfigError


def _model(lr=0.05):
    kir.utils.set_random_seed(0)
    inp = layers.Input((4,))
    m = kir.models.Model(inp, layers.Dense(1, name="out")(layers.Dense(3, name="hidden")(inp)))
    m.compile(kir.optimizers.SGD(lr), "mse")
    return m


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 4)).astype("float32")
    return x, (x.sum(1, keepdims=True) * 0.5).astype("float32")


def test_weights_read_during_an_epoch_are_the_trained_ones():
    m = _model()
    x, y = _data()
    seen = []
    cb = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(m.get_weights()[0].copy()))
    m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    assert len(seen) == 4
    assert all(not np.array_equal(a, b) for a, b in zip(seen, seen[1:]))
    np.testing.assert_array_equal(seen[-1], m.get_weights()[0])
    # the last batch's values equal a fresh run stopped after 4 steps
    m2 = _model()
    m2.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(seen[-1], m2.get_weights()[0], rtol=1e-6)


def test_model_checkpoint_save_freq_writes_current_weights(tmp_path):
    m = _model()
    x, y = _data()
    path = str(tmp_path / "ck-{epoch}-{loss:.4f}.weights.h5")
    ck = callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=2, monitor="loss")
    m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[ck])
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 2
    loaded = []
    for f in files:
        m2 = _model()
        m2.load_weights(str(tmp_path / f))
        loaded.append(m2.get_weights()[0])
    assert not np.array_equal(loaded[0], loaded[1])
    assert any(np.array_equal(w, m.get_weights()[0]) for w in loaded)  # the one after the last batch


def test_model_checkpoint_weights_only_needs_weights_h5_name(tmp_path):
    with pytest.raises(ConfigError, match=r"must end in '\.weights\.h5'.*ck\.kir"):
        callbacks.ModelCheckpoint(str(tmp_path / "ck.kir"), save_weights_only=True)


def test_terminate_on_nan_names_the_batch(capsys):
    m = _model(lr=1e30)
    x, y = _data()
    y = y * 1e20
    stop = callbacks.TerminateOnNaN()
    hist = m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[stop])
    assert stop.stopped_at is not None
    epoch, batch = stop.stopped_at
    assert f"Batch {batch}: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(hist.history["loss"]) == epoch + 1
    assert m.stop_training


def test_tensorboard_event_files_hold_scalars_and_the_ir_graph(tmp_path):
    import tensorflow as tf

    m = _model()
    x, y = _data()
    tb = callbacks.TensorBoard(log_dir=str(tmp_path), update_freq=2)
    m.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y), callbacks=[tb])

    def read(kind):
        tags, graphs = {}, []
        for f in os.listdir(tmp_path / kind):
            for event in tf.compat.v1.train.summary_iterator(str(tmp_path / kind / f)):
                if event.graph_def:
                    graphs.append(tf.compat.v1.GraphDef.FromString(event.graph_def))
                for v in event.summary.value:
                    tags.setdefault(v.tag, []).append(event.step)
        return tags, graphs

    train, graphs = read("train")
    assert train["epoch_loss"] == [0, 1]
    assert train["batch_loss"] == [2, 4, 6, 8]
    val, _ = read("validation")
    assert val["epoch_loss"] == [0, 1]
    (graph,) = graphs
    ops = {n.op for n in graph.node}
    assert "Dense" in ops and "Input" in ops
    out = next(n for n in graph.node if n.name.startswith("out"))
    assert any(i.startswith("hidden") for i in out.input)


def test_tensorboard_refuses_what_it_does_not_write():
    with pytest.raises(ConfigError, match="histogram_freq"):
        callbacks.TensorBoard(histogram_freq=1)


def test_shuffle_order_follows_set_random_seed():
    x, y = _data()
    runs = []
    for _ in range(2):
        m = _model()
        m.fit(x, y, batch_size=8, epochs=2, verbose=0)
        runs.append(m.get_weights()[0])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_backup_and_restore_continues_a_finished_epoch_run(tmp_path):
    x, y = _data()
    m = _model()
    m.fit(x, y, batch_size=16, epochs=3, verbose=0)
    uninterrupted = m.get_weights()
    m = _model()
    backup = callbacks.BackupAndRestore(str(tmp_path / "bk"), delete_checkpoint=False)
    m.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[backup])  # "dies" after epoch 2
    m = _model()  # a new process: fresh weights, same seed
    hist = m.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(str(tmp_path / "bk"))])
    assert hist.epoch == [2]
    for a, b in zip(uninterrupted, m.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not (tmp_path / "bk").exists()
