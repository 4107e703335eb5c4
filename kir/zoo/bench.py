"""The benchmark's models (kir's ONNX export vs Keras + tf2onnx): which zoo model, at which size, fed
how, and how much arithmetic one sample costs (for a GFLOP/s column).

`MODELS[name].build(lib, size)` builds the model with every layer named (`names=True`), so Keras
weights can be copied into kir by layer name; `inputs(size)` describes its feeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kir.zoo import guide, keras_examples


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, per-sample shape, dtype and (for token ids) the id range."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    high: int = 0

    def sample(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        if self.high:
            return rng.integers(1, self.high, size=(batch, *self.shape)).astype(self.dtype)
        return rng.standard_normal((batch, *self.shape)).astype(self.dtype)


@dataclass(frozen=True)
class BenchModel:
    """A benchmark model: zoo factory, inputs and FLOPs per sample as functions of the spatial size,
    whether it is convolutional, and its default and full spatial size (0: the factory takes none)."""

    factory: Callable[..., Any]
    inputs: Callable[[int], list[InputSpec]]
    flops: Callable[[int], int]
    conv: bool
    size: int = 0
    full_size: int = 0

    def build(self, lib: Any, size: int = 0) -> Any:
        """The model in `lib` (`kir` or `keras`), every layer named; `size` 0 means the default size."""
        sized = {"size": size or self.size} if self.size else {}
        return self.factory(lib=lib, names=True, **sized)


def _conv_flops(hw_out: int, k: int, cin: int, cout: int) -> int:
    return 2 * hw_out * hw_out * k * k * cin * cout


def _lstm_flops(steps: int, features: int, units: int) -> int:
    return 2 * steps * 4 * units * (features + units)


MODELS: dict[str, BenchModel] = {
    "mlp": BenchModel(
        guide.functional_mlp, lambda s: [InputSpec("input", (784,))],
        lambda s: 2 * (784 * 64 + 64 * 64 + 64 * 10), conv=False),
    "mnist_cnn": BenchModel(
        keras_examples.mnist_cnn, lambda s: [InputSpec("image", (28, 28, 1))],
        lambda s: _conv_flops(26, 3, 1, 32) + _conv_flops(24, 3, 32, 64) + 2 * (9216 * 128 + 128 * 10),
        conv=True),
    "imdb_lstm": BenchModel(
        keras_examples.imdb_lstm, lambda s: [InputSpec("tokens", (80,), "int32", 20000)],
        lambda s: _lstm_flops(80, 128, 128) + 2 * 128, conv=False),
    "inception": BenchModel(
        guide.inception, lambda s: [InputSpec("input_img", (s, s, 3))],
        lambda s: (_conv_flops(s, 1, 3, 64) * 2 + _conv_flops(s, 3, 64, 64) + _conv_flops(s, 5, 64, 64)
                   + _conv_flops(s, 1, 3, 64)),
        conv=True, size=64, full_size=256),
    "residual": BenchModel(
        guide.residual, lambda s: [InputSpec("x", (s, s, 3))],
        lambda s: _conv_flops(s, 3, 3, 3), conv=True, size=64, full_size=256),
    "headline": BenchModel(
        guide.multi_io, lambda s: [InputSpec("main_input", (100,), "int32", 10000), InputSpec("aux_input", (5,))],
        lambda s: _lstm_flops(100, 512, 32) + 2 * (37 * 64 + 64 * 64 * 2 + 64 + 32), conv=False),
    "shared_vision": BenchModel(
        guide.shared_vision, lambda s: [InputSpec("digit_a", (s, s, 1)), InputSpec("digit_b", (s, s, 1))],
        lambda s: 2 * (_conv_flops(s - 2, 3, 1, 64) + _conv_flops(s - 4, 3, 64, 64))
        + 2 * 2 * ((s - 4) // 2) ** 2 * 64,
        conv=True, size=27, full_size=27),
}
