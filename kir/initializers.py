"""Keras' weight initializers, drawn from one seedable generator (`kir.utils.set_random_seed`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from kir.errors import unknown_name

_rng = np.random.default_rng()


def set_seed(seed: int | None) -> None:
    """Reseed the generator every initializer draws from."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    return _rng


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """fan_in, fan_out as Keras computes them (conv kernels multiply by the receptive field)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _variance_scaling(scale: float, mode: str, distribution: str) -> Callable:
    def init(shape: tuple[int, ...]) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        var = scale / max(1.0, n)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return _rng.uniform(-limit, limit, shape)
        std = math.sqrt(var) / 0.87962566103423978  # truncated normal correction, as Keras
        return np.clip(_rng.normal(0.0, std, shape), -2 * std, 2 * std)

    return init


def _orthogonal(shape: tuple[int, ...]) -> np.ndarray:
    rows, cols = math.prod(shape[:-1]), shape[-1]
    flat = _rng.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return q.reshape(shape)


INITIALIZERS: dict[str, Callable[[tuple[int, ...]], np.ndarray]] = {
    "zeros": lambda shape: np.zeros(shape),
    "ones": lambda shape: np.ones(shape),
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "orthogonal": _orthogonal,
    "random_normal": lambda shape: _rng.normal(0.0, 0.05, shape),
    "random_uniform": lambda shape: _rng.uniform(-0.05, 0.05, shape),
}
INITIALIZERS["uniform"] = INITIALIZERS["random_uniform"]
INITIALIZERS["normal"] = INITIALIZERS["random_normal"]


def get(name: object) -> str:
    """Validate an initializer name (Keras names), returning it."""
    if name is None:
        return "zeros"
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise unknown_name("initializer", name, INITIALIZERS)
    return name


def initialize(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A new float32 array of `shape` drawn by the named initializer."""
    return np.asarray(INITIALIZERS[get(name)](tuple(int(d) for d in shape)), dtype=np.float32)
