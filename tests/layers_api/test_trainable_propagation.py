"""`layer.trainable = v` reaches every sub-layer, as Keras 3's setter does (the transfer-learning
pattern: `base.trainable = False`, later `base.trainable = True` and freeze some layers again),
while loading restores each layer's own flag (a partly frozen nested model stays as saved)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import kir  # noqa: E402


def nested(lib):
    inner_in = lib.Input(shape=(4,), name="inner_in")
    x = lib.layers.Dense(5, name="d1")(inner_in)
    x = lib.layers.Bidirectional(lib.layers.LSTM(3, name="lstm"), name="bi")(lib.layers.Reshape((5, 1))(x))
    inner = lib.models.Model(inner_in, lib.layers.Dense(3, name="d2")(x), name="inner")
    inp = lib.Input(shape=(4,), name="x")
    return lib.models.Model(inp, lib.layers.Dense(2, name="head")(inner(inp)), name="outer"), inner


def counts(model, inner):
    return (len(model.trainable_weights), len(model.non_trainable_weights),
            [layer.trainable for layer in inner.layers], inner.get_layer("bi").forward_layer.trainable)


def test_freeze_and_unfreeze_reach_sub_layers_like_keras():
    # (Keras on TensorFlow skips `inner.trainable = True` when it already is True: its
    # KerasAutoTrackable.__setattr__ short-circuits `self.x = self.x`, so that set is not passed on;
    # on JAX/torch, and in kir, it is. The steps below avoid that TensorFlow-only quirk.)
    ours, our_inner = nested(kir)
    theirs, their_inner = nested(keras)
    for step in (lambda inner: setattr(inner, "trainable", False),
                 lambda inner: setattr(inner, "trainable", True),
                 lambda inner: setattr(inner.get_layer("d1"), "trainable", False),
                 lambda inner: setattr(inner.get_layer("bi"), "trainable", False),
                 lambda inner: setattr(inner, "trainable", False),
                 lambda inner: setattr(inner, "trainable", True)):
        step(our_inner)
        step(their_inner)
        assert counts(ours, our_inner) == counts(theirs, their_inner)


def test_unfreezing_the_outer_model_trains_every_layer_again_as_in_keras():
    ours, inner = nested(kir)
    inner.get_layer("d1").trainable = False
    ours.trainable = True  # Keras: the whole tree becomes trainable, d1 included
    before = inner.get_layer("d1").get_weights()[0].copy()
    ours.compile(optimizer=kir.optimizers.SGD(0.5), loss="mse")
    ours.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    assert not np.allclose(inner.get_layer("d1").get_weights()[0], before)


@pytest.mark.parametrize("suffix", [".kir", ".keras"])
def test_files_keep_a_partly_frozen_nested_model_as_saved(suffix, tmp_path):
    ours, inner = nested(kir)
    inner.get_layer("d1").trainable = False  # inner stays trainable itself
    path = str(tmp_path / f"m{suffix}")
    ours.save(path)
    loaded = kir.models.load_model(path)
    again = loaded.get_layer("inner")
    assert counts(loaded, again) == counts(ours, inner)
    assert [layer.trainable for layer in again.layers] == [True, False, True, True, True]
