"""The benchmark's models, written once against a Keras-like API so Keras 3 and kir build the same graph.

Every layer gets an explicit name so weights can be copied from Keras to kir by layer name. Each
builder takes `api` (`KERAS` or `KIR` below, built lazily) and returns a model; `INPUTS` says how to make
random feeds for it and `FLOPS` how much arithmetic one sample costs (for the GFLOP/s column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np


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


def keras_api() -> SimpleNamespace:
    import keras

    return SimpleNamespace(L=keras.layers, Input=keras.Input, Model=keras.Model, name="keras")


def kir_api() -> SimpleNamespace:
    import kir

    return SimpleNamespace(L=kir.layers, Input=kir.Input, Model=kir.Model, name="kir")


# ----------------------------------------------------------------------------- builders
def mlp(api: SimpleNamespace, size: int = 0) -> Any:
    """The guide's functional MLP: 784-64-64-10, relu, softmax."""
    L = api.L
    inputs = api.Input(shape=(784,), name="input")
    x = L.Dense(64, activation="relu", name="dense_1")(inputs)
    x = L.Dense(64, activation="relu", name="dense_2")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return api.Model(inputs=inputs, outputs=out, name="mlp")


def mnist_cnn(api: SimpleNamespace, size: int = 0) -> Any:
    """Keras' mnist_cnn example: two 3x3 convs, 2x2 max-pool, dropout, dense 128, dropout, dense 10."""
    L = api.L
    inputs = api.Input(shape=(28, 28, 1), name="image")
    x = L.Conv2D(32, (3, 3), activation="relu", name="conv1")(inputs)
    x = L.Conv2D(64, (3, 3), activation="relu", name="conv2")(x)
    x = L.MaxPooling2D((2, 2), name="pool")(x)
    x = L.Dropout(0.25, name="drop1")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(128, activation="relu", name="fc1")(x)
    x = L.Dropout(0.5, name="drop2")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return api.Model(inputs=inputs, outputs=out, name="mnist_cnn")


def imdb_lstm(api: SimpleNamespace, size: int = 0) -> Any:
    """Keras' imdb_lstm example: Embedding 20000->128, LSTM 128, Dense 1 sigmoid, 80 tokens."""
    L = api.L
    inputs = api.Input(shape=(80,), dtype="int32", name="tokens")
    x = L.Embedding(20000, 128, name="embedding")(inputs)
    x = L.LSTM(128, name="lstm")(x)
    out = L.Dense(1, activation="sigmoid", name="score")(x)
    return api.Model(inputs=inputs, outputs=out, name="imdb_lstm")


def inception(api: SimpleNamespace, size: int = 64) -> Any:
    """The guide's Inception block (concatenate on axis=1, as the guide writes it)."""
    L = api.L
    input_img = api.Input(shape=(size, size, 3), name="input_img")
    t1 = L.Conv2D(64, (1, 1), padding="same", activation="relu", name="tower_1a")(input_img)
    t1 = L.Conv2D(64, (3, 3), padding="same", activation="relu", name="tower_1b")(t1)
    t2 = L.Conv2D(64, (1, 1), padding="same", activation="relu", name="tower_2a")(input_img)
    t2 = L.Conv2D(64, (5, 5), padding="same", activation="relu", name="tower_2b")(t2)
    t3 = L.MaxPooling2D((3, 3), strides=(1, 1), padding="same", name="tower_3a")(input_img)
    t3 = L.Conv2D(64, (1, 1), padding="same", activation="relu", name="tower_3b")(t3)
    out = L.concatenate([t1, t2, t3], axis=1, name="mixed")
    return api.Model(inputs=input_img, outputs=out, name="inception")


def residual(api: SimpleNamespace, size: int = 64) -> Any:
    """The guide's residual block: x + Conv2D(3, 3x3, same)(x)."""
    L = api.L
    x = api.Input(shape=(size, size, 3), name="x")
    y = L.Conv2D(3, (3, 3), padding="same", name="conv")(x)
    z = L.add([x, y], name="residual_add")
    return api.Model(inputs=x, outputs=z, name="residual")


def headline(api: SimpleNamespace, size: int = 0) -> Any:
    """The guide's multi-input multi-output headline model."""
    L = api.L
    main_input = api.Input(shape=(100,), dtype="int32", name="main_input")
    x = L.Embedding(output_dim=512, input_dim=10000, name="embedding")(main_input)
    lstm_out = L.LSTM(32, name="lstm")(x)
    auxiliary_output = L.Dense(1, activation="sigmoid", name="aux_output")(lstm_out)
    auxiliary_input = api.Input(shape=(5,), name="aux_input")
    x = L.concatenate([lstm_out, auxiliary_input], name="merge")
    x = L.Dense(64, activation="relu", name="dense_1")(x)
    x = L.Dense(64, activation="relu", name="dense_2")(x)
    x = L.Dense(64, activation="relu", name="dense_3")(x)
    main_output = L.Dense(1, activation="sigmoid", name="main_output")(x)
    return api.Model(inputs=[main_input, auxiliary_input], outputs=[main_output, auxiliary_output],
                     name="headline")


def shared_vision(api: SimpleNamespace, size: int = 27) -> Any:
    """The guide's shared vision model: one nested conv model applied to two digits."""
    L = api.L
    digit_input = api.Input(shape=(size, size, 1), name="digit_input")
    x = L.Conv2D(64, (3, 3), name="vconv1")(digit_input)
    x = L.Conv2D(64, (3, 3), name="vconv2")(x)
    x = L.MaxPooling2D((2, 2), name="vpool")(x)
    out = L.Flatten(name="vflatten")(x)
    vision_model = api.Model(digit_input, out, name="vision_model")
    digit_a = api.Input(shape=(size, size, 1), name="digit_a")
    digit_b = api.Input(shape=(size, size, 1), name="digit_b")
    out_a = vision_model(digit_a)
    out_b = vision_model(digit_b)
    concatenated = L.concatenate([out_a, out_b], name="merge")
    out = L.Dense(1, activation="sigmoid", name="same_digit")(concatenated)
    return api.Model([digit_a, digit_b], out, name="shared_vision")


# ----------------------------------------------------------------------------- registry
def _conv_flops(hw_out: int, k: int, cin: int, cout: int) -> int:
    return 2 * hw_out * hw_out * k * k * cin * cout


def _lstm_flops(steps: int, features: int, units: int) -> int:
    return 2 * steps * 4 * units * (features + units)


@dataclass(frozen=True)
class GuideModel:
    """A benchmark model: builder, default/full spatial size, inputs and FLOPs per sample."""

    build: Callable[..., Any]
    inputs: Callable[[int], list[InputSpec]]
    flops: Callable[[int], int]
    conv: bool
    size: int = 0
    full_size: int = 0


MODELS: dict[str, GuideModel] = {
    "mlp": GuideModel(
        mlp, lambda s: [InputSpec("input", (784,))],
        lambda s: 2 * (784 * 64 + 64 * 64 + 64 * 10), conv=False),
    "mnist_cnn": GuideModel(
        mnist_cnn, lambda s: [InputSpec("image", (28, 28, 1))],
        lambda s: _conv_flops(26, 3, 1, 32) + _conv_flops(24, 3, 32, 64) + 2 * (9216 * 128 + 128 * 10),
        conv=True),
    "imdb_lstm": GuideModel(
        imdb_lstm, lambda s: [InputSpec("tokens", (80,), "int32", 20000)],
        lambda s: _lstm_flops(80, 128, 128) + 2 * 128, conv=False),
    "inception": GuideModel(
        inception, lambda s: [InputSpec("input_img", (s, s, 3))],
        lambda s: (_conv_flops(s, 1, 3, 64) * 2 + _conv_flops(s, 3, 64, 64) + _conv_flops(s, 5, 64, 64)
                   + _conv_flops(s, 1, 3, 64)),
        conv=True, size=64, full_size=256),
    "residual": GuideModel(
        residual, lambda s: [InputSpec("x", (s, s, 3))],
        lambda s: _conv_flops(s, 3, 3, 3), conv=True, size=64, full_size=256),
    "headline": GuideModel(
        headline, lambda s: [InputSpec("main_input", (100,), "int32", 10000), InputSpec("aux_input", (5,))],
        lambda s: _lstm_flops(100, 512, 32) + 2 * (37 * 64 + 64 * 64 * 2 + 64 + 32), conv=False),
    "shared_vision": GuideModel(
        shared_vision, lambda s: [InputSpec("digit_a", (s, s, 1)), InputSpec("digit_b", (s, s, 1))],
        lambda s: 2 * (_conv_flops(s - 2, 3, 1, 64) + _conv_flops(s - 4, 3, 64, 64))
        + 2 * 2 * ((s - 4) // 2) ** 2 * 64,
        conv=True, size=27, full_size=27),
}
