"""Shape rules for the image augmentation ops (RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomContrast): identities at inference (the cleanup pass removes them, so
they vanish from exports), random transforms while training (the TensorFlow backend only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.ir.ops._checks import expect_inputs, expect_rank, layout_text
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec

AUGMENTATION_OPS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast")


@shape_rule(*AUGMENTATION_OPS)
def augmentation_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """A batch of images (rank 4, channels_last unless data_format says otherwise), shape kept, float32."""
    expect_inputs("RandomFlip/RandomRotation/RandomZoom/RandomTranslation/RandomContrast", inputs, 1)
    (x,) = inputs
    expect_rank("an image augmentation", x, 4, layout_text(attrs, 4))
    return [TensorSpec(x.shape, "float32")]
