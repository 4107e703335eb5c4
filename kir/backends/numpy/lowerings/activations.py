"""Activation functions in numpy, Keras 3 semantics, float32 in and out."""

from __future__ import annotations

import math

import numpy as np

from kir.backends.numpy.table import LOWERINGS


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.float32(0), x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype)


_ERF = np.vectorize(math.erf, otypes=[np.float64])

ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "softmax": _softmax,
    "log_softmax": lambda x: x - x.max(axis=-1, keepdims=True)
    - np.log(np.exp(x - x.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True)),
    "tanh": np.tanh,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: 1.0507009873554805
    * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
    "softplus": _softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "exponential": np.exp,
    "swish": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + _ERF(x / math.sqrt(2))),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "mish": lambda x: x * np.tanh(_softplus(x)),
}
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]


def activate(name: str, x: np.ndarray) -> np.ndarray:
    """Apply a named activation, keeping float32."""
    return np.asarray(ACTIVATIONS[name](x), dtype=np.float32)


@LOWERINGS.register("Activation")
def activation(ctx, attrs, inputs, params):
    return [activate(attrs["activation"], inputs[0])]


@LOWERINGS.register("ELU")
def elu(ctx, attrs, inputs, params):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    x = np.asarray(inputs[0], dtype=np.float32)
    return [np.where(x > 0, x, np.float32(attrs.get("alpha", 1.0)) * np.expm1(np.minimum(x, 0)))]
