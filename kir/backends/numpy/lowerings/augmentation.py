"""The image augmentation ops: the identity (the numpy reference is inference; Keras' layers pass
images through unchanged when not training)."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops.augmentation import AUGMENTATION_OPS


@LOWERINGS.register(*AUGMENTATION_OPS)
def augmentation(ctx, attrs, inputs, params):
    return [np.asarray(inputs[0], dtype=np.float32)]
