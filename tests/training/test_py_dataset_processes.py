"""PyDataset(use_multiprocessing=True): batches fetched by worker processes, in order (the same
weights as an in-process fit), workers gone at each epoch's end, on errors and on Ctrl-C."""

import multiprocessing
import os

import numpy as np
import pytest

import kir
from kir import callbacks, layers
from kir.errors import ConfigError, FeedError
from kir.training import enqueuer

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="checks worker processes in /proc")


class Batches(kir.utils.PyDataset):
    """8 batches of 8 rows; each fetch leaves a file `<index>-<pid>` in `record` (a side channel
    that works across processes)."""

    def __init__(self, record, fail_at=None, **kwargs):
        super().__init__(**kwargs)
        self.record, self.fail_at = str(record), fail_at
        rng = np.random.default_rng(0)
        self.x = rng.random((64, 4)).astype("float32")
        self.y = (self.x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"corrupt shard for batch {i}")
        open(os.path.join(self.record, f"{i}-{os.getpid()}"), "w").close()
        return self.x[i * 8:(i + 1) * 8], self.y[i * 8:(i + 1) * 8]


def _model():
    kir.utils.set_random_seed(0)
    inp = layers.Input((4,))
    model = kir.models.Model(inp, layers.Dense(1)(layers.Dense(8, activation="relu")(inp)))
    model.compile(kir.optimizers.Adam(0.01), "mse")
    return model


def _fetches(record):
    return [tuple(int(v) for v in name.split("-")) for name in os.listdir(record)]


def _gone(pids):
    """Every pid exited and was reaped (a zombie would still have /proc/<pid>)."""
    return not multiprocessing.active_children() and not any(os.path.exists(f"/proc/{p}") for p in pids)


def test_worker_processes_train_to_the_same_weights(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours = _model()
    kir.utils.set_random_seed(1)
    ours.fit(Batches(tmp_path / "a"), epochs=2, shuffle=True, verbose=0)
    theirs = _model()
    kir.utils.set_random_seed(1)
    children = []
    cb = callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: children.append(len(multiprocessing.active_children())),
        on_epoch_end=lambda e, logs: children.append(len(multiprocessing.active_children())))
    theirs.fit(Batches(tmp_path / "b", workers=2, use_multiprocessing=True), epochs=2, shuffle=True, verbose=0,
               callbacks=[cb])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    fetched = _fetches(tmp_path / "b")
    pids = {pid for _, pid in fetched}
    assert sorted(i for i, _ in fetched) == sorted(list(range(8)) * 2)
    assert os.getpid() not in pids and pids <= set(enqueuer.WORKER_PIDS)
    assert {pid for _, pid in _fetches(tmp_path / "a")} == {os.getpid()}
    assert children == [2] * 8 + [0] + [2] * 8 + [0]  # two workers during an epoch, none after it
    assert _gone(pids)


def test_an_error_in_a_worker_names_the_batch_and_leaves_no_worker(tmp_path):
    model = _model()
    ds = Batches(tmp_path, fail_at=3, workers=2, use_multiprocessing=True)
    with pytest.raises(FeedError, match=r"fit\(\): Batches\.__getitem__\(3\) failed in a worker process while "
                                        r"fetching batch index 3: ValueError: corrupt shard for batch 3") as info:
        model.fit(ds, epochs=1, shuffle=False, verbose=0)
    assert isinstance(info.value.__cause__, ValueError)
    assert _gone({pid for _, pid in _fetches(tmp_path)})


@pytest.mark.parametrize("workers", [1, 2], ids=["in_process", "threads"])
def test_an_error_in_process_names_the_batch_too(tmp_path, workers):
    with pytest.raises(FeedError, match=r"Batches\.__getitem__\(3\) failed while fetching batch index 3: "
                                        r"ValueError: corrupt shard"):
        _model().fit(Batches(tmp_path, fail_at=3, workers=workers), epochs=1, shuffle=False, verbose=0)


def test_a_bad_first_batch_leaves_no_worker(tmp_path):
    """The first batch sizes the engine before fit's loop starts: its FeedError stops the workers too."""
    ds = Batches(tmp_path, workers=2, use_multiprocessing=True)
    ds.x = np.zeros((64, 5), "float32")
    with pytest.raises(FeedError, match=r"batch 0 of the fit\(\) data"):
        _model().fit(ds, epochs=1, verbose=0)
    assert _gone({pid for _, pid in _fetches(tmp_path)})


def test_ctrl_c_and_early_stop_shut_the_workers_down(tmp_path, capsys):
    model = _model()
    ds = Batches(tmp_path, workers=2, use_multiprocessing=True)

    def interrupt(batch, logs):
        if batch == 2:
            raise KeyboardInterrupt

    model.fit(ds, epochs=3, verbose=0, callbacks=[callbacks.LambdaCallback(on_train_batch_end=interrupt)])
    assert "training interrupted during epoch 1" in capsys.readouterr().err
    assert _gone({pid for _, pid in _fetches(tmp_path)})

    def stop(batch, logs):
        model.stop_training = batch == 1

    model.fit(ds, epochs=3, verbose=0, callbacks=[callbacks.LambdaCallback(on_train_batch_end=stop)])
    assert _gone({pid for _, pid in _fetches(tmp_path)})


def test_an_unpicklable_dataset_under_spawn_is_a_config_error(tmp_path):
    ds = Batches(tmp_path, workers=1, use_multiprocessing=True)
    ds.transform = lambda x: x  # a lambda cannot be pickled to a spawned worker
    method = multiprocessing.get_start_method()
    multiprocessing.set_start_method("spawn", force=True)
    try:
        with pytest.raises(ConfigError, match=r"Batches: use_multiprocessing=True under the 'spawn' start method "
                                              r"sends the PyDataset to each worker by pickle, which failed"):
            _model().fit(ds, epochs=1, verbose=0)
    finally:
        multiprocessing.set_start_method(method, force=True)
    assert not multiprocessing.active_children()
