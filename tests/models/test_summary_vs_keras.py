"""kir's summary rows and totals equal what Keras 3 prints for the same guide model."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")

from kir import layers as L  # noqa: E402
from kir.models import Model  # noqa: E402
from tests.models.test_summary import rows  # noqa: E402


def _headline(lib, layers):
    """The guide's multi-input multi-output model with every layer named, built by `lib`."""
    main_input = layers.Input(shape=(100,), dtype="int32", name="main_input")
    x = layers.Embedding(output_dim=64, input_dim=1000, name="embedding")(main_input)
    lstm_out = layers.LSTM(32, name="lstm")(x)
    auxiliary_output = layers.Dense(1, activation="sigmoid", name="aux_output")(lstm_out)
    auxiliary_input = layers.Input(shape=(5,), name="aux_input")
    x = layers.concatenate([lstm_out, auxiliary_input], name="concatenate")
    for i in range(3):
        x = layers.Dense(64, activation="relu", name=f"dense_{i}")(x)
    main_output = layers.Dense(1, activation="sigmoid", name="main_output")(x)
    bn = layers.BatchNormalization(name="bn")(main_output)
    return lib(inputs=[main_input, auxiliary_input], outputs=[bn, auxiliary_output], name="headline")


def _keras_lines(model, width):
    captured = []
    model.summary(line_length=width, print_fn=lambda text, **_: captured.append(text))
    return "".join(captured).rstrip("\n").split("\n")


def test_headline_model_summary_matches_keras():
    ours = []
    _headline(Model, L).summary(line_length=78, print_fn=ours.append)
    theirs = _keras_lines(_headline(keras.Model, keras.layers), 78)
    assert ours[0] == theirs[0] == 'Model: "headline"'
    assert ours[1:4] == theirs[1:4]  # borders and header row
    assert rows(ours) == rows(theirs)
    assert ours[-3:] == theirs[-3:]


def test_sequential_summary_matches_keras():
    def build(seq, layers):
        return seq([layers.Input(shape=(784,), name="x"), layers.Dense(32, name="d1"),
                    layers.Activation("relu", name="act"), layers.Dense(10, name="d2")], name="mlp")

    ours = []
    build(__import__("kir").Sequential, L).summary(line_length=78, print_fn=ours.append)
    assert ours == _keras_lines(build(keras.Sequential, keras.layers), 78)
