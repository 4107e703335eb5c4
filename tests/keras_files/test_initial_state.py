"""Keras files whose layers are called with initial_state= (the seq2seq encoder/decoder) load with
the states wired as Keras wires them."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from kir.models import load_model  # noqa: E402


def _seq2seq(cell: str):
    layer = getattr(keras.layers, cell)
    enc_in = keras.Input((5, 3), name="encoder_inputs")
    dec_in = keras.Input((4, 3), name="decoder_inputs")
    _, *states = layer(6, return_state=True, name="encoder")(enc_in)
    seq = layer(6, return_sequences=True, name="decoder")(dec_in, initial_state=states)
    out = keras.layers.Dense(3, activation="softmax", name="decoder_dense")(seq)
    return keras.Model([enc_in, dec_in], out, name=f"seq2seq_{cell.lower()}")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_seq2seq_file_loads_with_its_initial_states(tmp_path, cell, suffix):
    model = _seq2seq(cell)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(2, 5, 3)).astype("float32"), rng.normal(size=(2, 4, 3)).astype("float32")]
    loaded = load_model(path)
    assert loaded.input_names == ["encoder_inputs", "decoder_inputs"]
    np.testing.assert_allclose(loaded.predict(x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.predict(x, backend="onnx"), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
