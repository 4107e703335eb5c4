"""What a lowering sees besides its inputs: training mode, randomness and the vertex."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoweringContext:
    """Per-trace state shared by all lowerings of one forward pass."""

    training: bool
    #: int64 scalar tensor that changes every training step (seeds dropout masks).
    step_seed: Any = None
    #: the vertex being lowered (set by the program before each call).
    vertex: Any = None
    #: whether the layer owning the current vertex is trainable (BatchNormalization needs it).
    layer_trainable: bool = True
    #: graph path of the current vertex, e.g. "outer/inner/dropout" (stable seeds).
    path: str = ""
    extra: dict = field(default_factory=dict)

    def seed(self, attr_seed: int | None):
        """A (2,) int64 seed for stateless random ops: the layer seed (or a name hash) + the step."""
        import tensorflow as tf

        base = attr_seed if attr_seed is not None else zlib.crc32(self.path.encode()) & 0x7FFFFFFF
        step = self.step_seed if self.step_seed is not None else tf.constant(0, "int64")
        return tf.stack([tf.constant(int(base), "int64"), tf.cast(step, "int64")])
