"""A lowering table: op type -> lowering, one table (`LOWERINGS`) per backend.

Adding an op to a backend means registering one `fn(ctx, attrs, inputs, params)` here; a missing
one is an UnsupportedOpError naming op, layer and backend, never a KeyError.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from kir.errors import UnsupportedOpError

F = TypeVar("F", bound=Callable)


class LoweringTable(Generic[F]):
    """Maps op type names to one backend's lowering functions."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._table: dict[str, F] = {}

    def register(self, *op_types: str) -> Callable[[F], F]:
        def decorate(fn: F) -> F:
            for op in op_types:
                if op in self._table:
                    raise RuntimeError(f"{self.backend}: lowering for '{op}' registered twice")
                self._table[op] = fn
            return fn

        return decorate

    def lookup(self, op: str, layer: str | None = None) -> F:
        try:
            return self._table[op]
        except KeyError:
            raise UnsupportedOpError(op, self.backend, layer) from None

    def __contains__(self, op: str) -> bool:
        return op in self._table

    def ops(self) -> list[str]:
        return sorted(self._table)


def import_families(package: str, path: Iterable[str]) -> None:
    """Import every op-family module of a backend's `lowerings` package (`_helpers` excepted), which
    registers their lowerings; each `lowerings/__init__.py` calls this with its `__name__, __path__`."""
    for info in pkgutil.iter_modules(path):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
