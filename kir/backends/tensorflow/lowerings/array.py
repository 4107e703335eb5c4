"""Array primitives of traced code: Concat, Slice, ReshapeTo, ExpandDims, Squeeze, Tile, Fill,
Range, Gather (sizes known only at run time are read with tf.shape)."""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops.array import is_dim_ref, slice_key


def dims(shape, inputs, known=None):
    """A dims list as a TF shape: a list of ints when static, else a stacked int32 tensor."""
    if known is not None and None not in known:
        return [int(d) for d in known]
    if not any(is_dim_ref(d) for d in shape):
        return [int(d) for d in shape]
    return tf.stack([tf.shape(inputs[int(d[0])])[int(d[1])] if is_dim_ref(d) else tf.constant(int(d))
                     for d in shape])


@LOWERINGS.register("Concat")
def concat(ctx, attrs, inputs, params):
    return [tf.concat(list(inputs), axis=int(attrs["axis"]))]


@LOWERINGS.register("Slice")
def slice_(ctx, attrs, inputs, params):
    return [inputs[0][slice_key(attrs)]]


@LOWERINGS.register("ReshapeTo")
def reshape_to(ctx, attrs, inputs, params):
    return [tf.reshape(inputs[0], dims(attrs["shape"], inputs, ctx.vertex.outputs[0].shape))]


@LOWERINGS.register("ExpandDims")
def expand_dims(ctx, attrs, inputs, params):
    return [tf.expand_dims(inputs[0], int(attrs["axis"]))]


@LOWERINGS.register("Squeeze")
def squeeze(ctx, attrs, inputs, params):
    return [tf.squeeze(inputs[0], axis=[int(a) for a in attrs["axes"]])]


@LOWERINGS.register("Tile")
def tile(ctx, attrs, inputs, params):
    return [tf.tile(inputs[0], [int(m) for m in attrs["multiples"]])]


@LOWERINGS.register("Fill")
def fill(ctx, attrs, inputs, params):
    dtype = attrs.get("dtype", "float32")
    return [tf.fill(dims(attrs["shape"], inputs, ctx.vertex.outputs[0].shape), tf.constant(attrs["value"], dtype))]


@LOWERINGS.register("Range")
def range_(ctx, attrs, inputs, params):
    stop = attrs["stop"]
    limit = tf.shape(inputs[int(stop[0])])[int(stop[1])] if is_dim_ref(stop) else int(stop)
    dtype = attrs.get("dtype", "int32")
    kind = "float32" if dtype.startswith("float") else "int32"
    out = tf.range(tf.cast(attrs.get("start", 0), kind), tf.cast(limit, kind), tf.cast(attrs.get("step", 1), kind))
    return [tf.cast(out, dtype)]


@LOWERINGS.register("Gather")
def gather(ctx, attrs, inputs, params):
    return [tf.gather(inputs[0], inputs[1], axis=0)]
