"""One cache of per-graph artifacts (an onnxruntime session, a TensorFlow program, ...).

Keys are the graph's structure key plus whatever else decides whether an artifact is still
right (the store's weights version for a session with weights baked in, the trainable set for
a training program). Nothing is stashed on models or graphs; the least recently used entries go
once the cache is full.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ArtifactCache(Generic[T]):
    """A small least-recently-used map from a key to something expensive to make."""

    def __init__(self, maxsize: int = 16) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, T] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The artifact for `key`, made by `make()` on a miss."""
        entry = self._entries.get(key)
        if entry is None:
            entry = make()
            self._entries[key] = entry
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
