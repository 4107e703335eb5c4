"""What a TensorFlow lowering sees besides its inputs: training mode, randomness and the vertex."""

from __future__ import annotations

import zlib
from typing import Any

from kir.backends.context import LoweringContext


class TensorFlowContext(LoweringContext):
    """Per-trace state shared by all lowerings of one forward pass."""

    def __init__(self, training: bool, step_seed: Any = None, compute_dtype: str = "float32") -> None:
        super().__init__()
        self.training = training
        #: the dtype layers compute in: the kir.mixed_precision policy's compute dtype ("float16" or
        #: "bfloat16" under a mixed policy; variables stay float32 and are cast when read).
        self.compute_dtype = compute_dtype
        #: int64 scalar tensor that changes every training step (seeds dropout masks).
        self.step_seed = step_seed
        #: whether the layer owning the current vertex is trainable (BatchNormalization needs it).
        self.layer_trainable = True

    def seed(self, attr_seed: int | None):
        """A (2,) int64 seed for stateless random ops: the layer seed (or a hash of the vertex's
        path, e.g. 'outer/inner/dropout') + the step."""
        import tensorflow as tf

        base = attr_seed if attr_seed is not None else zlib.crc32(self.path.encode()) & 0x7FFFFFFF
        step = self.step_seed if self.step_seed is not None else tf.constant(0, "int64")
        return tf.stack([tf.constant(int(base), "int64"), tf.cast(step, "int64")])
