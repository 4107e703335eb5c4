"""GaussianNoise, GaussianDropout, AlphaDropout: identities in an inference file (the cleanup pass
removes them from optimized exports; O0 keeps an Identity node where one is needed)."""

from __future__ import annotations

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops.noise import NOISE_OPS


@LOWERINGS.register(*NOISE_OPS)
def noise(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [inputs[0]]
