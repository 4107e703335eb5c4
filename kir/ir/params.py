"""The parameter store: weights referenced by key from graph vertices.

Keys are readable (`dense_1/kernel`) so they become ONNX initializer names. Entries that came
from a layer remember their owner, so trained values can be written back; passes that derive
new weights (BN folding) add new keys and never touch the user's arrays (copy-on-write).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kir.layers.base import Layer


class ParamStore:
    """key -> numpy array, plus key -> (layer, weight name) for arrays a layer owns."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._owners: dict[str, tuple[Layer, str]] = {}
        self._key_of: dict[tuple[int, str], str] = {}

    def key_for(self, layer: Layer, weight: str) -> str:
        """The key of `layer`'s weight, registering it on first use (shared layers share a key)."""
        ident = (id(layer), weight)
        key = self._key_of.get(ident)
        if key is None:
            key = self.unique_key(f"{layer.name}/{weight}")
            self._key_of[ident] = key
            self._owners[key] = (layer, weight)
            self._arrays[key] = layer.get_weight(weight)
        return key

    def unique_key(self, base: str) -> str:
        key, n = base, 1
        while key in self._arrays:
            key, n = f"{base}_{n}", n + 1
        return key

    def add(self, base: str, array: np.ndarray) -> str:
        """Store a derived array under a fresh key (used by passes); returns the key."""
        key = self.unique_key(base)
        self._arrays[key] = np.asarray(array)
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

    def owner(self, key: str) -> tuple[Layer, str] | None:
        return self._owners.get(key)

    def write_back(self, key: str, value: np.ndarray) -> None:
        """Write a trained value to the owning layer's weight (and to this store)."""
        owner = self._owners.get(key)
        value = np.asarray(value, dtype=self._arrays[key].dtype).reshape(self._arrays[key].shape)
        self._arrays[key] = value
        if owner is not None:
            layer, weight = owner
            layer.assign_weight(weight, value)

    def copy(self) -> ParamStore:
        """A new store sharing the arrays (they are never mutated in place)."""
        new = ParamStore()
        new._arrays = dict(self._arrays)
        new._owners = dict(self._owners)
        new._key_of = dict(self._key_of)
        return new
