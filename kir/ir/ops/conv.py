"""Shape rules for Conv1D and Conv2D (channels_last, or channels_first after the layout pass)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import as_list, channel_axis, differ, fmt, windowed_input, windowed_shape
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


def _conv_rule(op: str, rank: int):
    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        x = windowed_input(op, inputs, attrs, rank)
        n = rank - 2
        kernel_size = as_list(attrs["kernel_size"], n)
        strides = as_list(attrs.get("strides", 1), n)
        dilation = as_list(attrs.get("dilation_rate", 1), n)
        filters = int(attrs["filters"])
        if attrs.get("padding") == "causal" and op != "Conv1D":
            raise ShapeError(f"{op} does not support padding='causal'; use 'valid' or 'same'")
        channels = x.shape[channel_axis(attrs, x.rank)]
        kernel = params.get("kernel")
        if kernel is not None and differ(channels, kernel[-2]):
            raise ShapeError(
                f"{op} expects inputs with {kernel[-2]} channels (its kernel has shape {fmt(kernel)}), got "
                f"input shape {fmt(x)}; a built layer keeps its input channels, so call it on tensors "
                f"with {kernel[-2]} channels or use a new {op} layer"
            )
        shape = windowed_shape(op, x, attrs, kernel_size, strides, dilation, filters, "kernel_size")
        return [TensorSpec(shape, "float32")]

    return rule


shape_rule("Conv1D")(_conv_rule("Conv1D", 3))
shape_rule("Conv2D")(_conv_rule("Conv2D", 4))
