"""Batches of a PyDataset fetched by worker processes (`use_multiprocessing=True`), as Keras 3's
`OrderedEnqueuer` does it (keras/src/trainers/data_adapters/py_dataset_adapter.py).

One `multiprocessing.Pool` per epoch, made with the default start method (fork on Linux, so the
dataset is shared, not copied; under spawn/forkserver it is pickled to each worker). Workers find
the dataset in `_SHARED_SEQUENCES` by the enqueuer's uid (`init_pool_generator`, `get_index`), batch
requests are `apply_async` calls, at most `max_queue_size` ahead, and results are taken in request
order, so batches come in order. The pool is closed and joined when the epoch's batches are done
and terminated and joined on an error, early stop, Ctrl-C or the end of fit: no worker outlives it.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import os
import pickle
import queue
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kir.errors import ConfigError

_SHARED_SEQUENCES: dict[int, Any] = {}
"""uid -> dataset: what the workers index (inherited under fork, pickled under spawn)."""
_SEQUENCE_COUNTER = itertools.count()
_WORKER_ID_QUEUE: Any = None
WORKER_PIDS: collections.deque[int] = collections.deque(maxlen=256)
"""Process ids of the latest workers (each reports itself at start): for diagnostics and tests."""


def get_worker_id_queue() -> Any:
    """Lazily made queue on which each worker reports its pid (Keras' `get_worker_id_queue`)."""
    global _WORKER_ID_QUEUE
    if _WORKER_ID_QUEUE is None:
        _WORKER_ID_QUEUE = multiprocessing.Queue()
    return _WORKER_ID_QUEUE


def _drain_worker_ids() -> None:
    """Move reported pids to WORKER_PIDS (an unread queue would fill its pipe and block a worker's exit)."""
    if _WORKER_ID_QUEUE is None:
        return
    while True:
        try:
            WORKER_PIDS.append(_WORKER_ID_QUEUE.get_nowait())
        except (queue.Empty, OSError, ValueError):
            return


def init_pool_generator(gens: dict[int, Any], id_queue: Any = None) -> None:
    """Worker start: keep the shared datasets, leave Ctrl-C to the parent (which terminates the
    pool), report the pid."""
    global _SHARED_SEQUENCES
    _SHARED_SEQUENCES = gens
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proc = multiprocessing.current_process()
    proc.name = f"kir_worker_{proc.name}"
    if id_queue is not None:
        id_queue.put(os.getpid(), block=True, timeout=0.1)


def get_index(uid: int, i: int) -> Any:
    """Batch `i` of dataset `uid` (runs in a worker)."""
    return _SHARED_SEQUENCES[uid][i]


class OrderedEnqueuer:
    """Fetches `dataset[i]` for the indices of one epoch in `workers` processes, yielding the batches
    in index order; `error(i, exc)` turns a failed fetch into the exception to raise."""

    def __init__(self, dataset: Any, workers: int, max_queue_size: int,
                 error: Callable[[int, BaseException], Exception]) -> None:
        self.dataset, self.workers, self.max_queue_size, self.error = dataset, workers, max_queue_size, error
        self.uid = next(_SEQUENCE_COUNTER)
        self._pool: Any = None

    def _start(self) -> Any:
        _SHARED_SEQUENCES[self.uid] = self.dataset
        try:
            pool = multiprocessing.Pool(self.workers, initializer=init_pool_generator,
                                        initargs=(_SHARED_SEQUENCES, get_worker_id_queue()))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _SHARED_SEQUENCES.pop(self.uid, None)
            raise ConfigError(
                f"{type(self.dataset).__name__}: use_multiprocessing=True under the "
                f"'{multiprocessing.get_start_method()}' start method sends the PyDataset to each worker "
                f"by pickle, which failed ({exc}); make it picklable or set use_multiprocessing=False") from None
        except OSError as exc:
            _SHARED_SEQUENCES.pop(self.uid, None)
            raise ConfigError(f"{type(self.dataset).__name__}: could not start {self.workers} worker process(es) "
                              f"({exc}); lower workers or set use_multiprocessing=False") from None
        self._pool = pool
        return pool

    def batches(self, indices: Iterable[int]) -> Iterator[Any]:
        """The epoch's batches in order; the pool lives as long as this generator runs."""
        self.stop()
        pool = self._start()
        pending: collections.deque = collections.deque()
        finished = False
        try:
            it = iter(indices)
            for i in it:
                pending.append((i, pool.apply_async(get_index, (self.uid, i))))
                if len(pending) >= self.max_queue_size:
                    yield self._result(*pending.popleft())
            while pending:
                yield self._result(*pending.popleft())
            finished = True
        finally:
            if self._pool is pool:  # not already replaced by the next epoch's (which stopped this one)
                self.stop(graceful=finished)

    def _result(self, i: int, result: Any) -> Any:
        try:
            return result.get()
        except Exception as exc:
            raise self.error(i, exc) from exc

    def stop(self, graceful: bool = False) -> None:
        """Shut the pool down and reap its workers: `graceful` after all results are in (workers
        exit when idle), else terminated (error, early stop, Ctrl-C, end of fit)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            if graceful:
                pool.close()
            else:
                pool.terminate()
            pool.join()
        finally:
            _SHARED_SEQUENCES.pop(self.uid, None)
            _drain_worker_ids()
