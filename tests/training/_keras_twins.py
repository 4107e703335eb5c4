"""Helpers building the same small model in kir and Keras with identical initial weights."""

import keras
import numpy as np

import kir
from kir import layers as L


def mlp_pair(n_in=8, hidden=16, n_out=3, out_act="softmax", batchnorm=False, dropout=0.0):
    kl = [L.Dense(hidden, activation="relu", input_shape=(n_in,))]
    ks = [keras.Input((n_in,)), keras.layers.Dense(hidden, activation="relu")]
    if batchnorm:
        kl.append(L.BatchNormalization())
        ks.append(keras.layers.BatchNormalization())
    if dropout:
        kl.append(L.Dropout(dropout))
        ks.append(keras.layers.Dropout(dropout))
    kl.append(L.Dense(n_out, activation=out_act))
    ks.append(keras.layers.Dense(n_out, activation=out_act))
    ours, theirs = kir.Sequential(kl), keras.Sequential(ks)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def data(n=96, n_in=8, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype("float32")
    labels = rng.integers(0, n_out, n)
    return x, np.eye(n_out, dtype="float32")[labels], labels
