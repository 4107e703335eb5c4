"""GaussianNoise, GaussianDropout, AlphaDropout: the identity (the numpy reference is inference)."""

from __future__ import annotations

from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops.noise import NOISE_OPS


@LOWERINGS.register(*NOISE_OPS)
def noise(ctx, attrs, inputs, params):
    return [inputs[0]]
