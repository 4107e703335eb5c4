"""Turning what users pass to predict/fit/run (array, list, dict by name) into ordered, checked
arrays: one implementation for models, training and the ONNX Runtime, keyed by names and specs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kir.errors import FeedError, check_positive_int, did_you_mean
from kir.ir.spec import DTYPES, TensorSpec, format_shape


def order_feeds(kind: str, names: Sequence[str], data: Any, model_name: str) -> list[Any]:
    if isinstance(data, dict):
        unknown = [k for k in data if k not in names]
        if unknown:
            raise FeedError(f"model '{model_name}' has no {kind} named '{unknown[0]}'."
                            f"{did_you_mean(unknown[0], names)} Its {kind}s are: {', '.join(names)}")
        missing = [n for n in names if n not in data]
        if missing:
            raise FeedError(f"model '{model_name}': no data for {kind} '{missing[0]}' "
                            f"(expected keys: {', '.join(names)})")
        return [data[n] for n in names]
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    if len(items) != len(names):
        raise FeedError(f"model '{model_name}' has {len(names)} {kind}(s) ({', '.join(names)}), "
                        f"got {len(items)} array(s); pass a list in that order or a dict keyed by name")
    return items


_NP_DTYPES = {name: np.dtype(name) for name in DTYPES}


def check_array(value: Any, spec: TensorSpec, what: str | Callable[[], str]) -> np.ndarray:
    """`value` as an array of `spec`'s dtype, or a FeedError naming `what` and the expected shape.

    `what` may be a callable so the hot path (a well-formed array) formats no message.
    """
    if (type(value) is np.ndarray and value.dtype is _NP_DTYPES[spec.dtype] and value.ndim == spec.rank
            and value.flags.c_contiguous
            and all(d is None or d == a for d, a in zip(spec.shape, value.shape))):
        return value
    if callable(what):
        what = what()
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise FeedError(f"{what}: cannot make an array from {type(value).__name__}: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise FeedError(f"{what}: expected numbers of dtype {spec.dtype}, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise FeedError(f"{what}: expected real numbers of dtype {spec.dtype}, got complex dtype {arr.dtype}; "
                        f"pass x.real (or np.abs(x)) explicitly")
    if arr.ndim != spec.rank or any(d is not None and d != a for d, a in zip(spec.shape, arr.shape)):
        raise FeedError(f"{what}: expected shape {format_shape(spec.shape)}, got {format_shape(arr.shape)}")
    if np.issubdtype(np.dtype(spec.dtype), np.integer) and arr.dtype != bool:
        _check_integral(arr, spec.dtype, what)
    return np.ascontiguousarray(arr, dtype=spec.dtype)


def _check_integral(arr: np.ndarray, dtype: str, what: str) -> None:
    """Refuse values an integer input cannot hold: a cast would wrap 2**32 + 3 to 3 silently."""
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.mod(arr, 1) == 0):
        raise FeedError(f"{what}: expects integers ({dtype}), got non-integral floats")
    if arr.size == 0 or np.can_cast(arr.dtype, dtype, "safe"):
        return
    info = np.iinfo(dtype)
    low, high = arr.min(), arr.max()
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        index = tuple(int(i) for i in np.argwhere(arr == bad)[0])
        raise FeedError(f"{what}: value {int(bad)} at index {index} does not fit the input's dtype {dtype} "
                        f"(range [{info.min}, {info.max}]); it would wrap around, so map the values into range")


def check_feeds(names: Sequence[str], specs: Sequence[TensorSpec], data: Any, owner: str,
                of: str | None = None) -> list[np.ndarray]:
    """Input arrays in `names` order, checked against `specs` and cast to their dtypes, or a
    FeedError naming the input and `of` (default "model '<owner>'")."""
    of = of or f"model '{owner}'"
    items = order_feeds("input", names, data, owner)
    arrays = [check_array(v, spec, lambda n=n: f"input '{n}' of {of}")
              for v, spec, n in zip(items, specs, names)]
    same_batch(arrays, names, owner, "input")
    return arrays


def check_targets(names: Sequence[str], data: Any, owner: str) -> list[np.ndarray]:
    """Target arrays in output order (shapes are checked by the losses)."""
    items = order_feeds("output", names, data, owner)
    arrays = []
    for v, n in zip(items, names):
        try:
            arr = np.asarray(v)
        except Exception as exc:  # ragged lists and the like
            raise FeedError(f"target for output '{n}' of model '{owner}': cannot make an array from "
                            f"{type(v).__name__}: {exc}") from None
        if arr.dtype == object:
            raise FeedError(f"target for output '{n}' of model '{owner}' is not a numeric array")
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise FeedError(f"target for output '{n}' of model '{owner}' is complex ({arr.dtype}); "
                            f"pass real numbers (y.real) explicitly")
        arrays.append(arr)
    same_batch(arrays, names, owner, "target")
    return arrays


def check_finite(arr: np.ndarray, what: str) -> None:
    """Refuse NaN or infinity in a float array (one training step on them turns every weight
    into NaN): a FeedError naming `what` and the first bad index. Costs one sum (no copy): NaN or
    inf make it non-finite; only then (or on overflow) is every element looked at."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return
    with np.errstate(all="ignore"):
        if np.isfinite(arr.sum()):
            return
        bad = np.argwhere(~np.isfinite(arr))
    if not len(bad):  # the sum overflowed; every value is finite
        return
    index = tuple(int(i) for i in bad[0])
    raise FeedError(f"{what} holds {arr[index]} at index {index}; training on NaN or infinity turns the "
                    f"weights into NaN: clean or impute the data first (e.g. np.nan_to_num)")


def check_ids(bounds: Sequence[tuple[int, str, int]], arrays: Sequence[np.ndarray], owner: str,
              of: str | None = None) -> None:
    """Refuse token ids outside [0, input_dim) for each (input index, input name, input_dim): a
    FeedError naming the input (of `of`, default "'<owner>'"), the id and its index (engines would
    wrap, or fail deep inside)."""
    of = of or f"'{owner}'"
    for index, name, bound in bounds:
        ids = arrays[index]
        if ids.size == 0:
            continue
        low, high = ids.min(), ids.max()
        if low < 0 or high >= bound:
            bad = low if low < 0 else high
            at = tuple(int(i) for i in np.argwhere(ids == bad)[0])
            raise FeedError(f"input '{name}' of {of} holds token id {int(bad)} at index {at}, outside "
                            f"[0, {bound}) (the Embedding's input_dim); map ids into range or raise input_dim")


def same_batch(arrays: list[np.ndarray], names: Sequence[str], model_name: str, kind: str) -> None:
    if len(arrays) < 2:
        return
    sizes = {n: a.shape[0] if a.ndim else 1 for n, a in zip(names, arrays)}
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{n}: {s}" for n, s in sizes.items())
        raise FeedError(f"model '{model_name}': all {kind}s need the same number of samples, got {listing}")


def batches(n: int, batch_size: int | None) -> list[slice]:
    """Slices covering `n` samples in order, `batch_size` at a time (None: one batch)."""
    if batch_size is None or batch_size >= n:
        return [slice(0, n)]
    check_positive_int(batch_size, "batch_size", FeedError)
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def run_in_batches(run: Callable[[list[np.ndarray]], list[np.ndarray]], arrays: list[np.ndarray],
                   batch_size: int | None) -> list[np.ndarray]:
    """`run` over `batch_size` samples at a time, outputs concatenated in order (one call when
    everything fits in a batch, so the common case copies nothing)."""
    n = arrays[0].shape[0] if arrays and arrays[0].ndim else 0
    if batch_size is None or n <= batch_size:
        return run(arrays)
    parts = [run([a[s] for a in arrays]) for s in batches(n, batch_size)]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
