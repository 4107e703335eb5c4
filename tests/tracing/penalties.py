"""keras.io's activity-regularization layer (`self.add_loss` in `call()`), in kir and in Keras 3,
shared by the add_loss tests (import after `pytest.importorskip("keras")`)."""

from __future__ import annotations

import keras

import kir.backend as K
from kir import layers as L


class Penalty(L.Layer):
    """Adds rate * sum(x**2) to the training loss and passes x on."""

    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * K.sum(K.square(inputs)))
        return inputs


class KerasPenalty(keras.layers.Layer):
    """The Keras 3 twin of `Penalty`."""

    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * keras.ops.sum(keras.ops.square(inputs)))
        return inputs
