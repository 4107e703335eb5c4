"""The op registry: one shape/dtype rule per op type.

The same rule runs when a layer is called on a symbolic tensor (so a bad call fails on the
line that made it) and in the shape-inference pass (so passes and backends agree with it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kir.errors import ShapeError, UnsupportedOpError
from kir.ir.spec import TensorSpec

ShapeRule = Callable[[Mapping[str, Any], Sequence[TensorSpec], Mapping[str, tuple]], list[TensorSpec]]

_RULES: dict[str, ShapeRule] = {}


def shape_rule(*op_types: str) -> Callable[[ShapeRule], ShapeRule]:
    """Register `fn(attrs, inputs, param_shapes) -> output specs` for the given op types."""

    def register(fn: ShapeRule) -> ShapeRule:
        for op in op_types:
            if op in _RULES:
                raise RuntimeError(f"shape rule for op '{op}' registered twice")
            _RULES[op] = fn
        return fn

    return register


def registered_ops() -> list[str]:
    _load_all()
    return sorted(_RULES)


def infer(
    op: str,
    attrs: Mapping[str, Any],
    inputs: Sequence[TensorSpec],
    param_shapes: Mapping[str, tuple] | None = None,
    where: str = "",
) -> list[TensorSpec]:
    """Output specs of `op` applied to `inputs`; ShapeError messages are prefixed with `where`."""
    _load_all()
    rule = _RULES.get(op)
    if rule is None:
        raise UnsupportedOpError(op, "shape inference", where or None)
    try:
        return list(rule(attrs, list(inputs), dict(param_shapes or {})))
    except ShapeError as exc:
        if where and not str(exc).startswith(where):
            raise ShapeError(f"{where}: {exc}") from None
        raise


_loaded = False


def _load_all() -> None:
    """Import the rule modules once (they register themselves)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    import kir.ir.ops as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "registry":
            importlib.import_module(f"kir.ir.ops.{info.name}")
