"""`pad_sequences`: variable-length sequences to one padded array, with Keras' semantics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kir.errors import ConfigError, check_positive_int


def pad_sequences(sequences: Sequence[Any], maxlen: int | None = None, dtype: Any = "int32", padding: str = "pre",
                  truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Pads (or truncates) each sequence to `maxlen` (default: the longest), giving an array of shape
    (len(sequences), maxlen, ...). `padding` / `truncating` 'pre' (default) or 'post' say at which
    end values are added or dropped; `value` fills the padding. As keras.utils.pad_sequences."""
    if not hasattr(sequences, "__len__"):
        raise ConfigError("pad_sequences: `sequences` must be a list of sequences")
    if padding not in ("pre", "post"):
        raise ConfigError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ConfigError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    lengths = []
    sample_shape: tuple[int, ...] = ()
    found = False
    for i, s in enumerate(sequences):
        try:
            lengths.append(len(s))
        except TypeError:
            raise ConfigError(f"pad_sequences: sequence {i} is not a sequence: {s!r:.60}") from None
        if not found and len(s):
            sample_shape, found = np.asarray(s).shape[1:], True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    else:
        maxlen = check_positive_int(maxlen, "pad_sequences: maxlen")
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ConfigError(f"pad_sequences: dtype {dtype} cannot hold the padding value {value!r}; use dtype=object "
                          f"for variable-length strings")
    out = np.full((len(sequences), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or not maxlen:
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ConfigError(f"pad_sequences: the items of sequence {i} have shape {kept.shape[1:]}, those of the "
                              f"first non-empty sequence {sample_shape}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, -len(kept):] = kept
    return out
