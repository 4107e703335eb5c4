"""Local and global pooling (TF semantics: 'same' average pooling ignores the padding)."""

from __future__ import annotations

import tensorflow as tf

from kir.backends.tensorflow.lowerings.conv import from_channels_last, to_channels_last
from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops._checks import as_list


def _local(kind: str):
    def lowering(ctx, attrs, inputs, params):
        x = to_channels_last(attrs, inputs[0])
        n = x.shape.rank - 2
        size = as_list(attrs["pool_size"], n)
        strides = as_list(attrs.get("strides") or size, n)
        fn = tf.nn.max_pool if kind == "max" else tf.nn.avg_pool
        y = fn(x, ksize=size, strides=strides, padding=attrs.get("padding", "valid").upper())
        return [from_channels_last(attrs, y)]

    return lowering


def _global(kind: str):
    def lowering(ctx, attrs, inputs, params):
        x = inputs[0]
        first = attrs.get("data_format") == "channels_first"
        axes = list(range(2, x.shape.rank)) if first else list(range(1, x.shape.rank - 1))
        fn = tf.reduce_max if kind == "max" else tf.reduce_mean
        return [fn(x, axis=axes, keepdims=bool(attrs.get("keepdims", False)))]

    return lowering


LOWERINGS.register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")(_local("max"))
LOWERINGS.register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")(_local("avg"))
LOWERINGS.register("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")(_global("max"))
LOWERINGS.register("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")(_global("avg"))
