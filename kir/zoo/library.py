"""Which library builds a zoo model (`kir` or `keras`), and whether its layers get the zoo's names."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import kir
from kir.errors import ConfigError

LIBRARIES = ("kir", "keras")


def library(lib: Any = None) -> ModuleType:
    """The module a factory builds with: `kir` (the default, also for None) or `keras`, given as the
    module or its name. Keras is imported here, on first request, never when the zoo is imported."""
    if lib is None or lib == "kir":
        return kir
    if lib == "keras":
        import keras

        return keras
    if isinstance(lib, ModuleType) and all(hasattr(lib, a) for a in ("layers", "models", "Input")):
        return lib
    raise ConfigError(f"lib must be one of {', '.join(LIBRARIES)} (the module or its name), got {lib!r}")


def namer(names: bool) -> Callable[[str], str | None]:
    """`name=n("dense_1")` in a factory: the zoo's name with `names=True`, else None (automatic names)."""
    return (lambda name: name) if names else (lambda name: None)
