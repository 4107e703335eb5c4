"""One error hierarchy for everything kir refuses.

Every message names the layer, node, input or file at fault and says what to do, so a user
can fix the call that failed without reading kir's source.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable
from typing import Any


class KirError(Exception):
    """Base of every error kir raises on bad input."""


class ShapeError(KirError, ValueError):
    """A tensor's shape or rank does not fit the layer or op it is given to."""


class GraphError(KirError, ValueError):
    """The layer graph is malformed: disconnected, cyclic, duplicate names, bad node index."""


class ConfigError(KirError, ValueError):
    """A layer, model, loss, optimizer or metric was configured with an invalid argument."""


class UnsupportedOpError(KirError, NotImplementedError):
    """A backend has no lowering for an op type."""

    def __init__(self, op: str, backend: str, layer: str | None = None) -> None:
        where = "" if not layer else f" ({layer})" if layer.startswith("layer '") else f" (layer '{layer}')"
        super().__init__(
            f"backend '{backend}' has no lowering for op '{op}'{where}; "
            f"use another backend or add a lowering for '{op}' to the '{backend}' table"
        )
        self.op, self.backend, self.layer = op, backend, layer


class ExportError(KirError, RuntimeError):
    """Writing an exported model failed; no partial file is left behind."""


class LoadError(KirError, ValueError):
    """A model file is corrupt, unsafe or not a kir file."""


class FeedError(KirError, ValueError):
    """Data fed to predict/fit/evaluate does not match the model's inputs or outputs."""


class MissingDependencyError(KirError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean ...?' suffix naming the closest valid choice, or ''."""
    close = difflib.get_close_matches(str(name), sorted(set(choices)), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> ConfigError:
    """The error for an unknown activation/loss/optimizer/... name, with the close match."""
    choices = sorted(set(choices))
    return ConfigError(
        f"unknown {kind} '{name}'.{did_you_mean(str(name), choices)} "
        f"Known {kind}s: {', '.join(choices)}"
    )


def check_positive_int(value: Any, what: str, error: type[KirError] = ConfigError, allow_none: bool = False) -> Any:
    """`value` as an `int` if it is a positive integer (a numpy integer counts, a bool does not),
    else `error("<what> must be a positive integer, got <value>")`. With `allow_none`, None is
    returned as is and the message says "a positive integer or None"."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise error(f"{what} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)
