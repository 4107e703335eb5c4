"""predict() and evaluate() with PyDataset(use_multiprocessing=True) fetch batches in worker processes,
as fit does (Keras 3 uses its enqueuer for all three): the same results as in-process, batches
fetched by other pids, a failing __getitem__ is a FeedError naming the batch, and no worker
outlives predict/evaluate however it ends."""

import os
import signal

import numpy as np
import pytest

from kir import callbacks
from kir.errors import FeedError
from kir.training import enqueuer
from tests.training.test_py_dataset_processes import Batches, _fetches, _gone, _model

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="checks worker processes in /proc")


class Slow(Batches):
    """Batches whose fetch from index 2 on takes a while (so the run can be interrupted mid-way)."""

    def __getitem__(self, i):
        if i >= 2:
            import time

            time.sleep(0.2)
        return super().__getitem__(i)


@pytest.fixture(scope="module")
def model():
    return _model()


def _dirs(tmp_path, *names):
    for name in names:
        (tmp_path / name).mkdir()
    return [tmp_path / name for name in names]


def test_predict_in_worker_processes_equals_in_process(tmp_path, model):
    a, b = _dirs(tmp_path, "a", "b")
    ours = model.predict(Batches(a), verbose=0)
    theirs = model.predict(Batches(b, workers=2, use_multiprocessing=True), verbose=0)
    np.testing.assert_array_equal(ours, theirs)
    assert theirs.shape == (64, 1)
    fetched = _fetches(b)
    pids = {pid for _, pid in fetched}
    assert sorted(i for i, _ in fetched) == list(range(8))
    assert os.getpid() not in pids and pids <= set(enqueuer.WORKER_PIDS)
    assert {pid for _, pid in _fetches(a)} == {os.getpid()}
    assert _gone(pids)


def test_predict_steps_and_on_epoch_end(tmp_path, model):
    class Counted(Batches):
        ends = 0

        def on_epoch_end(self):
            Counted.ends += 1

    out = model.predict(Counted(tmp_path, workers=2, use_multiprocessing=True), steps=3, verbose=0)
    assert out.shape == (24, 1) and Counted.ends == 1  # Keras' predict ends its epoch too
    assert sorted(i for i, _ in _fetches(tmp_path)) == [0, 1, 2]
    assert _gone({pid for _, pid in _fetches(tmp_path)})


def test_evaluate_in_worker_processes_equals_in_process(tmp_path, model):
    a, b = _dirs(tmp_path, "a", "b")
    ours = model.evaluate(Batches(a), verbose=0, return_dict=True)
    theirs = model.evaluate(Batches(b, workers=2, use_multiprocessing=True), verbose=0, return_dict=True)
    assert ours == theirs
    pids = {pid for _, pid in _fetches(b)}
    assert sorted(i for i, _ in _fetches(b)) == list(range(8))
    assert os.getpid() not in pids and pids <= set(enqueuer.WORKER_PIDS)
    assert _gone(pids)


@pytest.mark.parametrize("what", ["predict", "evaluate"])
def test_a_failing_batch_names_it_and_leaves_no_worker(tmp_path, model, what):
    ds = Batches(tmp_path, fail_at=5, workers=2, use_multiprocessing=True)
    with pytest.raises(FeedError, match=rf"^{what}\(\): Batches\.__getitem__\(5\) failed in a worker process while "
                                        r"fetching batch index 5: ValueError: corrupt shard for batch 5$") as info:
        getattr(model, what)(ds, verbose=0)
    assert isinstance(info.value.__cause__, ValueError)
    assert _gone({pid for _, pid in _fetches(tmp_path)})


def test_a_bad_batch_mid_predict_leaves_no_worker(tmp_path, model):
    class Wide(Batches):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return (np.zeros((8, 5), "float32") if i == 4 else x), y

    with pytest.raises(FeedError, match=r"expected shape \(None, 4\)"):
        model.predict(Wide(tmp_path, workers=2, use_multiprocessing=True), verbose=0)
    assert _gone({pid for _, pid in _fetches(tmp_path)})


def test_ctrl_c_during_predict_and_evaluate_leaves_no_worker(tmp_path, model):
    a, b = _dirs(tmp_path, "a", "b")

    class CtrlC(Slow):
        def __getitem__(self, i):
            if i == 3:  # a real SIGINT to the main process mid-predict (workers ignore it)
                os.kill(os.getppid(), signal.SIGINT)
            return super().__getitem__(i)

    with pytest.raises(KeyboardInterrupt):
        model.predict(CtrlC(a, workers=2, use_multiprocessing=True), verbose=0)
    assert _gone({pid for _, pid in _fetches(a)})

    def stop(batch, logs):
        if batch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.evaluate(Slow(b, workers=2, use_multiprocessing=True), verbose=0,
                       callbacks=[callbacks.LambdaCallback(on_test_batch_end=stop)])
    assert _gone({pid for _, pid in _fetches(b)})
