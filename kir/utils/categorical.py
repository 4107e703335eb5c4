"""`to_categorical`: integer class vectors to one-hot matrices, with Keras' semantics."""

from __future__ import annotations

from typing import Any

import numpy as np

from kir.errors import ConfigError


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encodes integer labels into float32 (a trailing axis of 1 is dropped first).

    ``to_categorical(labels, num_classes=10)`` turns labels of shape (1000, 1) into (1000, 10),
    like Keras. Without `num_classes` it is ``max(x) + 1``.
    """
    x = np.asarray(x)
    if x.dtype.kind == "f":
        if not np.all(np.equal(np.mod(x, 1), 0)):
            raise ConfigError("to_categorical needs integer class labels; got non-integer floats")
        x = x.astype("int64")
    elif x.dtype.kind not in "iub":
        raise ConfigError(f"to_categorical needs integer class labels, got dtype {x.dtype}")
    x = x.astype("int64")
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if x.size and x.min() < 0:
        raise ConfigError(f"to_categorical got a negative class label ({int(x.min())})")
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    elif x.size and int(x.max()) >= num_classes:
        raise ConfigError(
            f"to_categorical got label {int(x.max())} but num_classes={num_classes}; "
            f"labels must be in [0, {num_classes - 1}]"
        )
    out = np.zeros((x.shape[0], num_classes), dtype="float32")
    out[np.arange(x.shape[0]), x] = 1.0
    return out.reshape(shape + (num_classes,))
