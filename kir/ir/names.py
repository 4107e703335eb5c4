"""Readable unique names: the one rule for vertex names, parameter keys and ONNX names."""

from __future__ import annotations

from collections.abc import Container


def unique_name(base: str, taken: Container[str]) -> str:
    """`base` if it is free, else the first of `base_1`, `base_2`, ... not in `taken` (the caller
    records the name it keeps)."""
    name, n = base, 1
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name
