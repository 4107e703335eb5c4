"""ConvLSTM2D in files: a Keras 3 .keras loads into kir, kir's .keras loads into Keras 3, and .kir
round-trips; the outputs agree and `summary` counts Keras' parameters."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from kir.layers import ConvLSTM2D  # noqa: E402
from kir.models import load_model  # noqa: E402
from tests.helpers import assert_close  # noqa: E402


@pytest.fixture(scope="module")
def keras_model():
    model = keras.Sequential([
        keras.Input((None, 6, 5, 2)),
        keras.layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, name="first"),
        keras.layers.ConvLSTM2D(2, (2, 3), strides=(2, 1), dropout=0.1, unit_forget_bias=False,
                                recurrent_activation="hard_sigmoid", name="second"),
    ])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_keras_file_round_trip(tmp_path, keras_model, capsys):
    x = np.random.default_rng(1).normal(size=(2, 3, 6, 5, 2)).astype("float32")
    want = keras_model.predict(x, verbose=0)
    keras_model.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert isinstance(ours.layers[1], ConvLSTM2D)
    assert ours.layers[1].get_config()["recurrent_activation"] == "hard_sigmoid"
    assert ours.layers[1].dropout == pytest.approx(0.1)
    assert_close(ours.predict(x, backend="numpy"), want)
    assert ours.count_params() == keras_model.count_params() == 800
    ours.summary()
    assert "first (ConvLSTM2D)" in capsys.readouterr().out

    ours.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    assert_close(theirs.predict(x, verbose=0), want)
    assert theirs.layers[1].get_config()["strides"] == (2, 1)

    ours.save(tmp_path / "ours.kir")
    again = load_model(tmp_path / "ours.kir")
    assert_close(again.predict(x, backend="numpy"), want)
    assert again.layers[1].get_config() == ours.layers[1].get_config()
