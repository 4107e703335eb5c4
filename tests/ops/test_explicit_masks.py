"""Explicit masks (`layer(x, mask=m)`, Attention's `mask=[query_mask, value_mask]`,
MultiHeadAttention's `value_mask=` / `key_mask=` / `attention_mask=`) follow Keras 3: the mask is a
symbolic tensor of the model (an Input or a layer's output), overrides the mask its input carries,
and passes on as Keras' compute_mask says; numbers equal Keras twins on numpy and TensorFlow (ONNX:
tests/onnx/test_explicit_masks_onnx.py), one fit epoch equals Keras', and bad masks are KirErrors
naming the layer."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402
from tests.helpers import assert_close, assert_files_round_trip  # noqa: E402

RNG = np.random.default_rng(0)
STEP_MASK = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 1, 1, 0]], bool)  # front, none, holes


def recurrent(lib, dtype: str = "bool"):
    """LSTM(return_sequences) with an explicit mask feeding a GRU (the mask passes on), pooling,
    Bidirectional and TimeDistributed (its mask passes on to an LSTM) with the same explicit mask."""
    L = lib.layers
    x, m = lib.Input((5, 3)), lib.Input((5,), dtype=dtype)
    h = L.LSTM(4, return_sequences=True)(x, mask=m)
    t = L.TimeDistributed(L.Dense(2))(x, mask=m)
    return lib.Model([x, m], [L.GRU(2)(h), L.GlobalAveragePooling1D()(x, mask=m),
                              L.Bidirectional(L.SimpleRNN(2, return_sequences=True))(x, mask=m), L.LSTM(2)(t)])


def attention(lib):
    """Attention's mask=[q, v]; an explicit value mask overriding Embedding's; MultiHeadAttention's
    value_mask= (its query_mask= is ignored, as Keras' call() reads the query's own mask),
    key_mask= with attention_mask=, and scores."""
    L = lib.layers
    q, v = lib.Input((4, 6)), lib.Input((5, 6))
    qm, vm = lib.Input((4,), dtype="bool"), lib.Input((5,), dtype="bool")
    am, ids = lib.Input((4, 5), dtype="bool"), lib.Input((5,), dtype="int32")
    ev = L.Embedding(10, 6, mask_zero=True)(ids)
    a = L.Attention()([q, v], mask=[qm, vm])
    a2 = L.Attention(use_scale=True)([q, ev], mask=[None, vm])
    m1 = L.MultiHeadAttention(2, 3)(q, v, query_mask=qm, value_mask=vm)
    m2 = L.MultiHeadAttention(2, 3)(q, v, key_mask=vm, attention_mask=am)
    m3 = L.MultiHeadAttention(2, 3)(q, ev, value_mask=vm, return_attention_scores=True)
    return lib.Model([q, v, qm, vm, am, ids], [a, a2, m1, m2, *m3])


def attention_feeds() -> list[np.ndarray]:
    return [RNG.normal(size=(2, 4, 6)).astype("float32"), RNG.normal(size=(2, 5, 6)).astype("float32"),
            np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool),
            RNG.random((2, 4, 5)) > 0.3, np.array([[1, 2, 0, 0, 0], [3, 3, 3, 3, 0]], "int32")]


def twins(build, *args):
    theirs, ours = build(keras, *args), build(kir, *args)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def test_explicit_step_masks_follow_keras():
    theirs, ours = twins(recurrent)
    feeds = [RNG.normal(size=(3, 5, 3)).astype("float32"), STEP_MASK]
    expected = theirs.predict(feeds, verbose=0)
    for backend in ("numpy", "tensorflow"):
        for got, want in zip(ours.predict(feeds, backend=backend), expected):
            assert_close(got, want, rtol=1e-5)
    for dtype in ("int32", "float32"):  # Keras takes numeric masks too: nonzero is a real step
        numeric = recurrent(kir, dtype)
        numeric.set_weights(ours.get_weights())
        for got, want in zip(numeric.predict([feeds[0], STEP_MASK.astype(dtype)]), expected):
            assert_close(got, want, rtol=1e-5)


def test_explicit_masks_pass_on_as_keras_compute_mask_says():
    L = kir.layers
    x, m = kir.Input((5, 3)), kir.Input((5,), dtype="bool")
    ids = kir.Input((5,), dtype="int32")
    assert L.LSTM(2, return_sequences=True)(x, mask=m).mask is m
    assert L.LSTM(2)(x, mask=m).mask is None
    assert L.GlobalAveragePooling1D()(x, mask=m).mask is None
    e = L.Embedding(9, 3, mask_zero=True)(ids)
    assert L.LSTM(2, return_sequences=True)(e, mask=m).mask is m  # overrides Embedding's
    q = kir.Input((4, 3))
    assert L.Attention()([q, x], mask=[None, m]).mask is None
    qm = kir.Input((4,), dtype="bool")
    assert L.Attention()([q, x], mask=[qm, m]).mask is qm


def test_attention_explicit_masks_follow_keras():
    theirs, ours = twins(attention)
    feeds = attention_feeds()
    expected = theirs.predict(feeds, verbose=0)
    for backend in ("numpy", "tensorflow"):
        for got, want in zip(ours.predict(feeds, backend=backend), expected):
            assert_close(got, want, rtol=1e-5)


def nested(lib):
    """`inner(x, mask=m)` (Keras' Functional.call mask=): the inner LSTM runs masked and its sequence
    output carries the mask on to the outer GRU."""
    L = lib.layers
    inner = lib.Sequential([lib.Input((5, 3)), L.LSTM(4, return_sequences=True)], name="inner")
    x, m = lib.Input((5, 3)), lib.Input((5,), dtype="bool")
    return lib.Model([x, m], L.GRU(3)(inner(x, mask=m)))


@pytest.mark.filterwarnings("ignore:Layer 'inner'")  # Keras warns, yet its outputs carry the inner masks
def test_a_nested_model_called_with_an_explicit_mask_follows_keras():
    theirs, ours = twins(nested)
    feeds = [RNG.normal(size=(3, 5, 3)).astype("float32"), STEP_MASK]
    expected = theirs.predict(feeds, verbose=0)
    for backend in ("numpy", "tensorflow"):
        assert_close(ours.predict(feeds, backend=backend), expected, rtol=1e-5)


@pytest.mark.slow  # ~10 s of CPU: Keras saves and loads three files
def test_explicit_masks_survive_kir_and_keras_files_both_ways(tmp_path):
    for build, feeds in ((recurrent, [RNG.normal(size=(3, 5, 3)).astype("float32"), STEP_MASK]),
                         (attention, attention_feeds())):
        theirs, ours = twins(build)
        assert_files_round_trip(ours, theirs, feeds, tmp_path)


def masked_lstm(lib):
    L = lib.layers
    x, m = lib.Input((6, 3)), lib.Input((6,), dtype="bool")
    h = L.LSTM(5, return_sequences=True)(x, mask=m)
    return lib.Model([x, m], L.Dense(1)(L.GlobalAveragePooling1D()(h)))


@pytest.mark.slow  # ~5 s of CPU: a Keras fit and a TensorFlow program
def test_one_fit_epoch_with_an_explicit_mask_input_equals_keras():
    theirs, ours = twins(masked_lstm)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 6, 3)).astype("float32")
    lengths = rng.integers(1, 7, 32)
    mask = np.arange(6)[None, :] < lengths[:, None]
    y = rng.normal(size=(32, 1)).astype("float32")
    theirs.compile(keras.optimizers.SGD(0.1), "mse")
    ours.compile(kir.optimizers.SGD(0.1), "mse")
    h_theirs = theirs.fit([x, mask], y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    h_ours = ours.fit([x, mask], y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_bad_explicit_masks_are_kir_errors_naming_the_layer(tmp_path):
    L = kir.layers
    x = kir.Input((5, 3))
    with pytest.raises(ConfigError, match=r"layer 'lstm_m'.*mask must be a symbolic tensor.*got ndarray"):
        L.LSTM(2, name="lstm_m")(x, mask=np.ones((1, 5), bool))
    with pytest.raises(ShapeError, match=r"layer 'lstm_s'.*mask must have shape \(None, 5\).*got \(None, 4\)"):
        L.LSTM(2, name="lstm_s")(x, mask=kir.Input((4,), dtype="bool"))
    with pytest.raises(ShapeError, match=r"layer 'gap'.*mask must have shape"):
        L.GlobalAveragePooling1D(name="gap")(x, mask=kir.Input((5, 1), dtype="bool"))
    with pytest.raises(ConfigError, match=r"layer 'dense_m'.*takes no 'mask' argument"):
        L.Dense(2, name="dense_m")(x, mask=kir.Input((5,), dtype="bool"))
    with pytest.raises(ConfigError, match=r"layer 'td'.*explicit mask for a wrapped LSTM is not supported"):
        L.TimeDistributed(L.LSTM(2), name="td")(kir.Input((5, 4, 3)), mask=kir.Input((5,), dtype="bool"))
    with pytest.raises(ConfigError, match=r"layer 'att'.*mask must be a list \[query_mask, value_mask\]"):
        L.Attention(name="att")([x, x], mask=kir.Input((5,), dtype="bool"))
    with pytest.raises(ShapeError, match=r"layer 'att2'.*mask\[1\] \(value_mask\) must have shape"):
        L.Attention(name="att2")([x, x], mask=[None, kir.Input((3,), dtype="bool")])
    with pytest.raises(ConfigError, match=r"layer 'mha'.*value_mask must be a symbolic tensor"):
        L.MultiHeadAttention(2, 2, name="mha")(x, x, value_mask=np.ones((1, 5)))
    class Encoder(L.Layer):  # traced code: its sub-layer calls run without masks, so mask= is refused
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lstm = L.LSTM(2, name="inner_lstm")

        def call(self, inputs, mask=None):
            return self.lstm(inputs, mask=mask)

    with pytest.raises(ConfigError, match=r"layer 'inner_lstm': an explicit mask= inside traced code"):
        Encoder()(x, mask=kir.Input((5,), dtype="bool"))
    ids = kir.Input((5,), dtype="int32")
    e = L.Embedding(9, 3, mask_zero=True)(ids)
    y = L.LSTM(2, name="lstm_saved")(x, mask=e.mask)  # works, but a file cannot name a mask tensor
    assert kir.Model([x, ids], y).predict([np.ones((1, 5, 3), "float32"), np.ones((1, 5), "int32")]).shape == (1, 2)
    for path in ("explicit.keras", "explicit.kir"):
        with pytest.raises(ConfigError, match=r"layer 'lstm_saved' is called with an explicit mask that is another"):
            kir.Model([x, ids], y).save(str(tmp_path / path))
    with pytest.raises(kir.errors.GraphError, match="disconnected"):
        kir.Model(x, y)
