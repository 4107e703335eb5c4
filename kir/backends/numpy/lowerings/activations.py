"""Activation functions in numpy, Keras 3 semantics, float32 in and out."""

from __future__ import annotations

import math

import numpy as np

from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops.activations import softmax_axes


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
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "log_sigmoid": lambda x: -_softplus(-x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "squareplus": lambda x: (x + np.sqrt(x * x + np.float32(4))) / 2,
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
}
ACTIVATIONS["silu"] = ACTIVATIONS["swish"]
ACTIVATIONS["hard_swish"] = ACTIVATIONS["hard_silu"]


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


def relu_with(x: np.ndarray, negative_slope: float, max_value: float | None, threshold: float) -> np.ndarray:
    """Keras' relu(x, negative_slope, max_value, threshold): min(x, max_value) above the threshold,
    negative_slope * (x - threshold) below it."""
    above = x if max_value is None else np.minimum(x, np.float32(max_value))
    below = np.float32(negative_slope) * (x - np.float32(threshold))
    return np.where(x > np.float32(threshold), above, below).astype(np.float32)


@LOWERINGS.register("ReLU")
def relu(ctx, attrs, inputs, params):
    x = np.asarray(inputs[0], dtype=np.float32)
    return [relu_with(x, attrs.get("negative_slope", 0.0), attrs.get("max_value"), attrs.get("threshold", 0.0))]


@LOWERINGS.register("PReLU")
def prelu(ctx, attrs, inputs, params):
    """relu(x) - alpha * relu(-x), alpha broadcast over the batch."""
    x = np.asarray(inputs[0], dtype=np.float32)
    alpha = np.asarray(params["alpha"], dtype=np.float32)
    return [np.where(x > 0, x, alpha * x).astype(np.float32)]


@LOWERINGS.register("Softmax")
def softmax(ctx, attrs, inputs, params):
    """exp(x - logsumexp(x)) over the `axis` attr (one axis or several)."""
    x = np.asarray(inputs[0], dtype=np.float32)
    axes = tuple(softmax_axes(attrs, x.ndim))
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return [(e / e.sum(axis=axes, keepdims=True)).astype(np.float32)]
