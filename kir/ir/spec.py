"""What an edge carries: a tensor's shape (None for unknown dims, usually the batch) and dtype."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Shape = tuple[int | None, ...]

DTYPES = ("float32", "float16", "float64", "int32", "int64", "bool", "uint8", "int8")


def normalize_dtype(dtype: object) -> str:
    """Canonical dtype string ('float32', 'int32', ...) from a str, numpy dtype or type."""
    from kir.errors import ConfigError

    if dtype is None:
        return "float32"
    try:
        name = np.dtype(getattr(dtype, "as_numpy_dtype", dtype)).name
    except TypeError as exc:
        raise ConfigError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}") from exc
    if name not in DTYPES:
        raise ConfigError(f"unsupported dtype '{name}'; use one of {', '.join(DTYPES)}")
    return name


@dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of one tensor. Shapes include the batch dimension (None when dynamic)."""

    shape: Shape
    dtype: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(None if d is None else int(d) for d in self.shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_batch(self, batch: int | None) -> TensorSpec:
        return TensorSpec((batch,) + self.shape[1:], self.dtype)

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_json(cls, data: dict) -> TensorSpec:
        return cls(tuple(data["shape"]), data["dtype"])


def format_shape(shape: Shape) -> str:
    """'(None, 32, 32, 3)' — the way Keras prints shapes."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
