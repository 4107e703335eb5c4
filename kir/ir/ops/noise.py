"""Shape rules for the regularization noise ops (GaussianNoise, GaussianDropout, AlphaDropout):
identities at inference, noise while training (the TensorFlow backend only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.ir.ops._checks import expect_inputs
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec

NOISE_OPS = ("GaussianNoise", "GaussianDropout", "AlphaDropout")


@shape_rule(*NOISE_OPS)
def noise_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Same shape and dtype as the input."""
    expect_inputs("GaussianNoise/GaussianDropout/AlphaDropout", inputs, 1)
    return [inputs[0]]
