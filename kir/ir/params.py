"""The parameter store: weights referenced by key from graph vertices.

Keys are readable (`dense_1/kernel`) so they become ONNX initializer names. Whoever builds the
graph registers each weight with its trainable flag and an opaque write-back callback, so a
backend can train the graph and hand values back without knowing what owns them. Passes that
derive new weights (BN folding) add new keys and never touch the registered arrays
(copy-on-write). `version` changes whenever an array does, so backends can cache per store.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

import numpy as np

from kir.ir.names import unique_name

Writer = Callable[[np.ndarray], None]
"""Receives a trained value for one weight (the frontend passes the owning layer's setter)."""

_versions = itertools.count(1)

WEIGHTS_LOCK = threading.RLock()
"""Makes a weight update atomic with respect to predict: held while several weights are replaced
together (`set_weights`, training's write-back) and while a graph's store is filled from them, so
a graph (and every backend artifact made from it) holds all old or all new weights, never a mix."""


class ReadWriteLock:
    """Many readers or one writer: backends that keep weights in mutable state shared by graphs
    (TensorFlow variables) run under `read()` and update that state under `write()`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting = 0  # writers waiting: new readers wait behind them, so writers never starve

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class ParamStore:
    """key -> numpy array, plus per registered key: trainable or not, and its write-back callback."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._trainable: dict[str, bool] = {}
        self._writers: dict[str, Writer] = {}
        self._key_of: dict[Hashable, str] = {}
        self.version = next(_versions)
        """Unique to this store's current arrays: a new value anywhere gives a new version."""

    def register(self, owner: Hashable, base: str, array: np.ndarray, *, trainable: bool = True,
                 writer: Writer | None = None) -> str:
        """The key of the weight identified by `owner`, registering it on first use (so every
        vertex of a shared layer reads one key). `writer` receives trained values."""
        key = self._key_of.get(owner)
        if key is None:
            key = unique_name(base, self._arrays)
            self._key_of[owner] = key
            self._arrays[key] = array
            self._trainable[key] = bool(trainable)
            if writer is not None:
                self._writers[key] = writer
            self.version = next(_versions)
        return key

    def add(self, base: str, array: np.ndarray) -> str:
        """Store a derived array under a fresh key (used by passes; never trained); returns the key."""
        key = unique_name(base, self._arrays)
        self._arrays[key] = np.asarray(array)
        self._trainable[key] = False
        self.version = next(_versions)
        return key

    def __getitem__(self, key: str) -> np.ndarray:
        return self._arrays[key]

    def __contains__(self, key: str) -> bool:
        return key in self._arrays

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def keys(self) -> list[str]:
        return list(self._arrays)

    def items(self) -> list[tuple[str, np.ndarray]]:
        return list(self._arrays.items())

    def is_trainable(self, key: str) -> bool:
        """Whether training may change `key` (recorded when the graph was built)."""
        return self._trainable.get(key, False)

    def trainable_keys(self) -> frozenset[str]:
        return frozenset(k for k, t in self._trainable.items() if t)

    def writes_back(self, key: str) -> bool:
        """Whether `key` has an owner to hand trained values to."""
        return key in self._writers

    def write_back(self, key: str, value: np.ndarray) -> None:
        """Store a trained value for `key` and hand it to the key's owner."""
        old = self._arrays[key]
        value = np.asarray(value, dtype=old.dtype).reshape(old.shape)
        self._arrays[key] = value
        self.version = next(_versions)
        writer = self._writers.get(key)
        if writer is not None:
            writer(value)

    def copy(self) -> ParamStore:
        """A new store sharing the arrays (they are never mutated in place) and the version."""
        new = ParamStore()
        new._arrays = dict(self._arrays)
        new._trainable = dict(self._trainable)
        new._writers = dict(self._writers)
        new._key_of = dict(self._key_of)
        new.version = self.version
        return new
