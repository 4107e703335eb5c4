"""Numpy lowerings of the core ops: Dense, Dropout, Identity, Flatten, Reshape, ReshapeFull,
Permute, Transpose, RepeatVector, Embedding (inference semantics, float32)."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.lowerings.activations import activate
from kir.backends.numpy.table import LOWERINGS
from kir.errors import FeedError


@LOWERINGS.register("Dense")
def dense(ctx, attrs, inputs, params):
    """activation(x @ kernel + bias) on the last axis."""
    x = np.asarray(inputs[0], dtype=np.float32)
    y = x @ np.asarray(params["kernel"], dtype=np.float32)
    if attrs.get("use_bias", True) and "bias" in params:
        y = y + np.asarray(params["bias"], dtype=np.float32)
    return [activate(attrs.get("activation", "linear"), y)]


@LOWERINGS.register("Dropout", "Identity")
def identity(ctx, attrs, inputs, params):
    """Dropout is the identity at inference."""
    return [inputs[0]]


@LOWERINGS.register("ByMode")
def by_mode(ctx, attrs, inputs, params):
    """The numpy backend runs inference: the inference value."""
    return [inputs[0]]


@LOWERINGS.register("Flatten")
def flatten(ctx, attrs, inputs, params):
    """(b, ...) -> (b, prod); channels_first inputs are moved to channels_last first, like Keras."""
    x = inputs[0]
    if attrs.get("data_format") == "channels_first" and x.ndim > 2:
        x = np.moveaxis(x, 1, -1)
    return [np.reshape(x, (x.shape[0], -1))]


@LOWERINGS.register("Reshape")
def reshape(ctx, attrs, inputs, params):
    x = inputs[0]
    return [np.reshape(x, (x.shape[0], *(int(d) for d in attrs["target_shape"])))]


@LOWERINGS.register("ReshapeFull")
def reshape_full(ctx, attrs, inputs, params):
    """Reshape including the batch axis: 0 copies the input dim, one -1 is inferred."""
    x = inputs[0]
    shape = [x.shape[i] if int(d) == 0 else int(d) for i, d in enumerate(attrs["shape"])]
    return [np.reshape(x, shape)]


@LOWERINGS.register("Permute")
def permute(ctx, attrs, inputs, params):
    return [np.transpose(inputs[0], [0, *(int(d) for d in attrs["dims"])])]


@LOWERINGS.register("Transpose")
def transpose(ctx, attrs, inputs, params):
    return [np.transpose(inputs[0], [int(p) for p in attrs["perm"]])]


@LOWERINGS.register("RepeatVector")
def repeat_vector(ctx, attrs, inputs, params):
    """(b, f) -> (b, n, f)."""
    x = np.asarray(inputs[0], dtype=np.float32)
    return [np.repeat(x[:, None, :], int(attrs["n"]), axis=1)]


@LOWERINGS.register("Embedding")
def embedding(ctx, attrs, inputs, params):
    """Row lookup; float ids are truncated to int like Keras' cast. Out-of-range ids are refused
    (numpy would silently wrap negative ones)."""
    ids = inputs[0]
    if not np.issubdtype(ids.dtype, np.integer):
        ids = ids.astype(np.int32)
    table = np.asarray(params["embeddings"], dtype=np.float32)
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise FeedError(
            f"Embedding got token id {int(bad)} outside [0, {table.shape[0]}) (input_dim "
            f"{table.shape[0]}); map ids into range or raise input_dim"
        )
    return [np.take(table, ids, axis=0)]
