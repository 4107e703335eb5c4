"""Padding and layout helpers shared by the convolution and pooling lowerings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kir.backends.onnx.context import OnnxContext


def pad_attributes(spatial: Sequence[int | None], window: Sequence[int], strides: Sequence[int],
                   dilation: Sequence[int], padding: str) -> dict[str, Any]:
    """ONNX `pads` (TF/Keras semantics: 'same' puts the odd pixel after, 'causal' pads only
    before), or auto_pad=SAME_UPPER (the same rule) when a spatial size is unknown."""
    if padding == "valid":
        return {}
    before, after = [], []
    for size, k, s, d in zip(spatial, window, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "causal":
            before.append(span - 1)
            after.append(0)
            continue
        if size is None:
            return {"auto_pad": "SAME_UPPER"}
        total = max((-(-size // s) - 1) * s + span - size, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    if not any(before) and not any(after):
        return {}
    return {"pads": before + after}


class ChannelsFirst:
    """Moves a channels_last tensor to NCHW for an ONNX window op and back (nothing to do when
    the layout pass already set data_format='channels_first')."""

    def __init__(self, ctx: OnnxContext, rank: int, channels_first: bool) -> None:
        self.ctx, self.rank, self.first = ctx, rank, channels_first

    def spatial(self, shape: Sequence[int | None]) -> list[int | None]:
        return list(shape[2:] if self.first else shape[1:-1])

    def enter(self, x: str) -> str:
        if self.first:
            return x
        return self.ctx.transpose(x, [0, self.rank - 1, *range(1, self.rank - 1)], "to_channels_first")

    def leave(self, y: str) -> str:
        if self.first:
            return y
        return self.ctx.transpose(y, [0, *range(2, self.rank), 1], "to_channels_last")
