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
