"""Pooling: MaxPool / AveragePool (count_include_pad=0, Keras' 'same' averaging) in NCHW with
Transposes for channels_last inputs; global pooling as ReduceMean/ReduceMax (no Transpose)."""

from __future__ import annotations

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings._windows import ChannelsFirst, pad_attributes
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops._checks import as_list


def _local(op_type: str):
    def lowering(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
        spec = ctx.input_spec(0)
        n = spec.rank - 2
        layout = ChannelsFirst(ctx, spec.rank, attrs.get("data_format") == "channels_first")
        size = as_list(attrs["pool_size"], n)
        strides = as_list(attrs.get("strides") or size, n)
        pads = pad_attributes(layout.spatial(spec.shape), size, strides, [1] * n, attrs.get("padding", "valid"))
        extra = {"count_include_pad": 0} if op_type == "AveragePool" else {}
        y = ctx.op(op_type, layout.enter(inputs[0]), kernel_shape=size, strides=strides, **pads, **extra)
        return [layout.leave(y)]

    return lowering


def _global(op_type: str):
    def lowering(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
        rank = ctx.input_spec(0).rank
        axes = range(2, rank) if attrs.get("data_format") == "channels_first" else range(1, rank - 1)
        return [ctx.reduce(op_type, inputs[0], list(axes), bool(attrs.get("keepdims", False)))]

    return lowering


LOWERINGS.register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")(_local("MaxPool"))
LOWERINGS.register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")(_local("AveragePool"))
LOWERINGS.register("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")(_global("ReduceMax"))
LOWERINGS.register("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")(_global("ReduceMean"))
