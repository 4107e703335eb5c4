"""Data for the examples: scikit-learn's handwritten digits, Keras-layout .npz files, sequence helpers.

Keras' examples download MNIST, CIFAR10, IMDB and Reuters; these examples run offline instead:
the digits set ships inside scikit-learn, the others generate data with a learnable signal, and
`--data file.npz` takes the real thing in the layout Keras' dataset files use.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import kir


class Split(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits(seed: int = 0, test_fraction: float = 0.25, limit: int | None = None) -> Split:
    """scikit-learn's 1797 8x8 handwritten digits as images in [0, 1], split stratified by class.

    `limit` keeps only that many training and a quarter as many test images (for --smoke)."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise SystemExit("error: this example needs scikit-learn for its digits data set; "
                         "install it with: pip install -e '.[examples]'") from None
    x, y = sk_load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for digit in range(10):  # stratified: the same fraction of every class goes to the test set
        idx = rng.permutation(np.flatnonzero(y == digit))
        test[idx[: round(test_fraction * len(idx))]] = True
    train_idx, test_idx = rng.permutation(np.flatnonzero(~test)), np.flatnonzero(test)
    if limit is not None:
        train_idx, test_idx = train_idx[:limit], test_idx[: max(1, limit // 4)]
    return Split(x[train_idx], y[train_idx], x[test_idx], y[test_idx])


def digits_one_hot(seed: int = 0, limit: int | None = None, shape: tuple[int, ...] = (8, 8, 1)) -> Split:
    """The digits as Keras' MNIST examples prepare MNIST: each image reshaped to `shape` ((8, 8, 1) for a
    CNN, (64,) for an MLP), the labels one-hot over the 10 classes; `seed` and `limit` as `load_digits`."""
    digits = load_digits(seed, limit=limit)
    return Split(digits.x_train.reshape(-1, *shape), kir.utils.to_categorical(digits.y_train, 10),
                 digits.x_test.reshape(-1, *shape), kir.utils.to_categorical(digits.y_test, 10))


def load_npz(path: Path, allow_pickle: bool = False) -> Split:
    """x_train, y_train, x_test, y_test from a Keras-layout .npz (or x, y split 80/20 as Keras' reuters)."""
    try:
        with np.load(path, allow_pickle=allow_pickle) as f:
            keys = set(f.files)
            if {"x_train", "y_train", "x_test", "y_test"} <= keys:
                return Split(f["x_train"], f["y_train"], f["x_test"], f["y_test"])
            if {"x", "y"} <= keys:
                x, y = f["x"], f["y"]
                cut = int(len(x) * 0.8)
                return Split(x[:cut], y[:cut], x[cut:], y[cut:])
    except FileNotFoundError:
        raise SystemExit(f"error: --data {path}: no such file") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise SystemExit(f"error: --data {path} stores Python objects (lists of word indices, as Keras' "
                             "imdb.npz does); pass --allow-pickle if you trust the file") from None
        raise SystemExit(f"error: --data {path}: {exc}") from None
    raise SystemExit(f"error: --data {path} has arrays {sorted(keys)}; expected x_train, y_train, x_test, "
                     "y_test (or x, y)")


def load_or_generate(args: argparse.Namespace, generate: Callable[[int], tuple[Any, Any]], train: int,
                     test: int) -> Split:
    """`--data`'s split (only its first `train` and `test` samples under --smoke), or without --data
    `generate(train)` and `generate(test)`, each an (x, y) pair."""
    if args.data is None:
        return Split(*generate(train), *generate(test))
    data = load_npz(args.data, args.allow_pickle)
    if args.smoke:
        data = Split(data.x_train[:train], data.y_train[:train], data.x_test[:test], data.y_test[:test])
    return data


def source(args: argparse.Namespace, generated: str) -> str:
    """What the data is, for the header: `--data FILE`, or `generated` (e.g. 'generated reviews')."""
    return f"--data {args.data}" if args.data else generated


def pad_sequences(sequences: object, maxlen: int) -> np.ndarray:
    """Keras' `pad_sequences` defaults: zeros in front, keep the last `maxlen` entries of long ones."""
    if isinstance(sequences, np.ndarray) and sequences.dtype != object and sequences.ndim == 2:
        sequences = list(sequences)
    out = np.zeros((len(sequences), maxlen), dtype="int32")  # type: ignore[arg-type]
    for i, seq in enumerate(sequences):  # type: ignore[arg-type]
        seq = np.asarray(seq, dtype="int64")[-maxlen:]
        if len(seq):
            out[i, -len(seq):] = seq
    return out


def multi_hot(sequences: object, num_words: int) -> np.ndarray:
    """Keras' `Tokenizer.sequences_to_matrix(mode='binary')`: 1 where a word index occurs."""
    out = np.zeros((len(sequences), num_words), dtype="float32")  # type: ignore[arg-type]
    for i, seq in enumerate(sequences):  # type: ignore[arg-type]
        seq = np.asarray(seq, dtype="int64")
        out[i, seq[(seq >= 0) & (seq < num_words)]] = 1.0
    return out
