"""Numpy kernel for ReshapeFull (reshape including the batch axis; 0 copies the input dim)."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.table import KERNELS


@KERNELS.register("ReshapeFull")
def reshape_full(attrs, inputs, params):
    x = inputs[0]
    shape = [x.shape[i] if int(d) == 0 else int(d) for i, d in enumerate(attrs["shape"])]
    return [np.reshape(x, shape)]
