"""The image augmentation ops: identities in an inference file (the cleanup pass removes them from
optimized exports; at O0 an Identity node appears only where an output needs its own name)."""

from __future__ import annotations

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops.augmentation import AUGMENTATION_OPS


@LOWERINGS.register(*AUGMENTATION_OPS)
def augmentation(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [inputs[0]]
