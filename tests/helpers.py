"""Shared assertions for numeric parity tests."""

from __future__ import annotations

import numpy as np


def max_abs_err(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute difference (inf when shapes differ)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return float("inf")
    if actual.size == 0:
        return 0.0
    return float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5) -> None:
    """Assert equal shapes and max|actual - expected| <= rtol * max(1, max|expected|)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    err = max_abs_err(actual, expected)
    assert err <= rtol * scale, f"max abs err {err:.3g} > {rtol:.1g} * {scale:.3g}"


def assert_files_round_trip(ours, theirs, feeds, folder, rtol: float = 1e-5) -> None:
    """A kir model and its Keras twin (same weights) through files both ways: kir loads its own
    `.kir` and Keras' `.keras`, Keras loads kir's `.keras`; each predicts what the twin predicts."""
    import keras

    import kir

    folder = str(folder)
    expected = theirs.predict(feeds, verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    ours.save(f"{folder}/ours.kir")
    ours.save(f"{folder}/ours.keras")
    theirs.save(f"{folder}/theirs.keras")
    for path in ("ours.kir", "theirs.keras"):
        got = kir.models.load_model(f"{folder}/{path}").predict(feeds)
        for g, w in zip(got if isinstance(got, list) else [got], expected, strict=True):
            assert_close(g, w, rtol=rtol)
    got = keras.models.load_model(f"{folder}/ours.keras").predict(feeds, verbose=0)
    for g, w in zip(got if isinstance(got, list) else [got], expected, strict=True):
        assert_close(g, w, rtol=rtol)
