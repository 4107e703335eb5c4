"""Weights that live elsewhere while a fit runs: the hooks between layer weights and training.

During `fit` the trained values sit in the training program's variables; the layers get them
lazily. A running fit registers a `LiveSource` here, and every weight read or write of a layer
goes through `before_read` / `after_write`, so that
- a read (`layer.get_weights()`, `layer.kernel`, a nested model's layer) first copies the values
  trained since the last copy into the layers, and
- a write (`set_weights`, `Variable.assign`) from a callback is pushed into the variables before
  the next step.
With no fit running both hooks are one falsy check; kir.ir knows no layers or programs, only this
protocol (`flush()`, `assigned()`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class LiveSource(Protocol):
    """What a running fit (kir.training.state.TrainingState) offers the layers."""

    def flush(self) -> None:
        """Copy values trained since the last copy into the layers."""

    def assigned(self) -> None:
        """A layer weight was replaced from outside training: push it before the next step."""


SOURCES: list[LiveSource] = []
"""The running fits (usually none or one)."""

_local = threading.local()


def register(source: LiveSource) -> None:
    SOURCES.append(source)


def unregister(source: LiveSource) -> None:
    if source in SOURCES:
        SOURCES.remove(source)


@contextmanager
def writing_back() -> Iterator[None]:
    """Training handing its values to the layers: those writes are not user writes (`after_write`
    ignores them) and need no flush first."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth


def before_read() -> None:
    """Called before a layer weight is read (or replaced): bring trained values in first."""
    if SOURCES and not getattr(_local, "depth", 0):
        for source in tuple(SOURCES):
            source.flush()


def after_write() -> None:
    """Called after a layer weight was replaced: running fits take it from their next step on."""
    if SOURCES and not getattr(_local, "depth", 0):
        for source in tuple(SOURCES):
            source.assigned()
