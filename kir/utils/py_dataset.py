"""`PyDataset` (alias `Sequence`): Keras' base class for a data set served batch by batch from Python."""

from __future__ import annotations

from typing import Any

from kir.errors import ConfigError


class PyDataset:
    """Subclass it and define `__len__` (batches per epoch) and `__getitem__(index)` (one batch:
    x, (x, y) or (x, y, sample_weight)); `on_epoch_end` runs after every epoch. `fit` shuffles
    the batch order each epoch when its `shuffle` is True and fetches batches ahead with `workers`
    threads, or worker processes with `use_multiprocessing=True` (then the dataset must be picklable
    under the spawn/forkserver start methods); batches arrive in order either way."""

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"PyDataset: {name} must be a positive int, got {value!r}")
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    # kir's streaming reads these; a subclass that forgot super().__init__() gets the defaults
    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches)")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning one batch")

    def on_epoch_end(self) -> None:
        """Called after each epoch: reshuffle or augment here."""

    @property
    def num_batches(self) -> int | None:
        return len(self)


Sequence = PyDataset
"""Keras 2's name for PyDataset."""
