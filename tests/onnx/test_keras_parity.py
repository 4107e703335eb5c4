"""Keras' outputs through the exported ONNX file: the guide's models built in Keras and in kir
with the same layer names, Keras' (randomized) weights copied into kir layer by layer."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import kir  # noqa: E402
from kir.backends.onnx import Runtime, export  # noqa: E402
from kir.cli.check import random_feeds  # noqa: E402
from kir.zoo import guide as zoo  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.onnx.util import CPU  # noqa: E402


def _leaves(layer, found: dict) -> dict:
    """name -> leaf layer (one holding its own weights), through nested models and wrappers."""
    children = getattr(layer, "layers", None)
    if children is None and getattr(layer, "layer", None) is not None:
        children = [layer.layer]
    if children is None and hasattr(layer, "forward_layer"):
        children = [layer.forward_layer, layer.backward_layer]
    for child in children or []:
        _leaves(child, found)
    if children is None:
        found.setdefault(layer.name, layer)
    return found


def copy_keras_weights(keras_model, kir_model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    kir_layers = _leaves(kir_model, {})
    for name, layer in _leaves(keras_model, {}).items():
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for w in weights:
            std = 1.0 / np.sqrt(np.prod(w.shape[:-1])) if w.ndim >= 2 else 0.3
            new.append(rng.normal(0.0, std, w.shape).astype(w.dtype))
        layer.set_weights(new)
        kir_layers[name].set_weights(new)


MODELS = {
    "functional_mlp": zoo.functional_mlp,
    "sequential_mlp": zoo.sequential_mlp,
    "time_distributed_mlp": partial(zoo.time_distributed_mlp, steps=4, input_dim=20, hidden=8),
    "multi_io": partial(zoo.multi_io, seq_len=12, vocab=50, embed=16, lstm_units=8, hidden=16),
    "shared_lstm": partial(zoo.shared_lstm, timesteps=10, features=12, units=8),
    "inception": partial(zoo.inception, size=12, filters=4),
    "residual": partial(zoo.residual, size=12),
    "shared_vision": partial(zoo.shared_vision, size=13, filters=8),
    "vqa": partial(zoo.vqa, image=32, seq_len=6, vocab=40, embed=8, lstm_units=8, answers=10, filters=(4, 8, 8)),
    "video_qa": partial(zoo.video_qa, frames=3, image=32, seq_len=6, vocab=40, embed=8, lstm_units=8, answers=10,
                        filters=(4, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_file_gives_keras_outputs(name, tmp_path) -> None:
    keras_model, kir_model = MODELS[name](lib=keras, names=True), MODELS[name](lib=kir, names=True)
    copy_keras_weights(keras_model, kir_model, seed=len(name))
    path = tmp_path / "model.onnx"
    export(kir_model, path)
    runtime = Runtime(path, providers=CPU)
    for batch in (1, 7):
        feeds = random_feeds(kir_model.to_graph(), batch, seed=batch)
        expected = keras_model(feeds if len(feeds) > 1 else feeds[0], training=False)
        expected = expected if isinstance(expected, (list, tuple)) else [expected]
        got = runtime.run(feeds)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_close(g, keras.ops.convert_to_numpy(e))


def test_bidirectional_and_gru_match_keras(tmp_path) -> None:
    def build(lib):
        L = lib.layers
        x = lib.Input(shape=(6, 5), name="seq")
        y = L.Bidirectional(L.GRU(4, return_sequences=True, name="gru"), name="bi")(x)
        y = L.Bidirectional(L.LSTM(3, name="lstm"), merge_mode="ave", name="bi2")(y)
        return lib.models.Model(x, L.Dense(2, name="head")(y), name="bidi")

    keras_model, kir_model = build(keras), build(kir)
    kir_model.set_weights(keras_model.get_weights())
    rng = np.random.default_rng(0)
    new = [rng.normal(0, 0.4, w.shape).astype(np.float32) for w in keras_model.get_weights()]
    keras_model.set_weights(new)
    kir_model.set_weights(new)
    path = tmp_path / "bidi.onnx"
    export(kir_model, path)
    x = rng.normal(size=(7, 6, 5)).astype(np.float32)
    assert_close(Runtime(path, providers=CPU).run(x)[0], keras.ops.convert_to_numpy(keras_model(x)))
