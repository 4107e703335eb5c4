"""Masks as graph tensors: the primitives a layer emits to compute or apply a Keras mask.

A mask is an ordinary bool tensor of the graph, (batch, timesteps), True for the real steps
(Keras' convention). Embedding(mask_zero=True) computes it as `ids != 0`, Masking as
`any(x != mask_value, axis=-1)`; consumers (the recurrent ops, GlobalAveragePooling1D, merges)
take it as an input. Everything here is built from the math primitives (Constant, Binary, Cast,
Reduce, Where, ExpandDims, Squeeze), so every backend already runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kir.ir.spec import TensorSpec
from kir.layers.base import Layer
from kir.layers.tensor import KTensor

if TYPE_CHECKING:
    from kir.ir.graph import Ref
    from kir.layers.emitter import Emitter
    from kir.layers.node import Node


def constant(emitter: Emitter, layer: Layer, value: float, dtype: str, name: str) -> Ref:
    """A scalar constant of `dtype`."""
    return emitter.op("Constant", [], {"value": value, "shape": [], "dtype": dtype}, layer, name=name)[0]


def not_equal(emitter: Emitter, layer: Layer, x: Ref, value: float, name: str) -> Ref:
    """`x != value` elementwise (bool, x's shape)."""
    dtype = emitter.graph.spec(x).dtype
    if dtype == "bool":
        value = bool(value)
    c = constant(emitter, layer, value, dtype, f"{name}_value")
    return emitter.op("Binary", [x, c], {"fn": "not_equal"}, layer, name=name)[0]


def any_last(emitter: Emitter, layer: Layer, flags: Ref, name: str, keepdims: bool) -> Ref:
    """`any(flags, axis=-1)` of a bool tensor (as max of its float cast, > 0)."""
    f = emitter.op("Cast", [flags], {"dtype": "float32"}, layer, name=f"{name}_float")[0]
    m = emitter.op("Reduce", [f], {"fn": "max", "axis": [-1], "keepdims": keepdims}, layer, name=f"{name}_max")[0]
    zero = constant(emitter, layer, 0.0, "float32", f"{name}_zero")
    return emitter.op("Binary", [m, zero], {"fn": "greater"}, layer, name=name)[0]


def logical_or(emitter: Emitter, layer: Layer, masks: list[Ref], name: str) -> Ref:
    """The OR of several masks of one shape (Keras' merge of input masks)."""
    out = masks[0]
    for i, m in enumerate(masks[1:]):
        out = emitter.op("Binary", [out, m], {"fn": "logical_or"}, layer, name=f"{name}_{i}")[0]
    return out


def zero_masked(emitter: Emitter, layer: Layer, x: Ref, mask: Ref, name: str) -> Ref:
    """x where the step is real, 0 where it is masked: `where(mask[..., None], x, 0)`."""
    dtype = emitter.graph.spec(x).dtype
    cond = emitter.op("ExpandDims", [mask], {"axis": -1}, layer, name=f"{name}_expand")[0]
    zero = constant(emitter, layer, 0, dtype, f"{name}_zero")
    return emitter.op("Where", [cond, x, zero], {}, layer, name=name)[0]


def count(emitter: Emitter, layer: Layer, mask: Ref, dtype: str, name: str) -> Ref:
    """The number of real steps per row, (batch, 1), as `dtype`."""
    f = emitter.op("Cast", [mask], {"dtype": dtype}, layer, name=f"{name}_cast")[0]
    return emitter.op("Reduce", [f], {"fn": "sum", "axis": [1], "keepdims": True}, layer, name=name)[0]


class MaskOf(Layer):
    """The mask a tensor carries, as a tensor of its own (no new vertex: the mask's graph tensor):
    training adds it to the model's outputs to weight the loss (Keras 3's mask as sample weights)."""

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        return [self._mask_spec]

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        return [emitter.input_mask(node)]


_MASK_TENSORS: dict[int, tuple[KTensor, KTensor]] = {}


def output_masks(outputs: list[KTensor]) -> list[KTensor | None]:
    """For each output, a tensor holding the mask it carries (None: it carries none); the same
    tensor on every call, so graphs built from it are cached."""
    result: list[KTensor | None] = []
    for t in outputs:
        if t.mask is None:
            result.append(None)
            continue
        if id(t) not in _MASK_TENSORS or _MASK_TENSORS[id(t)][0] is not t:
            layer = MaskOf()
            layer._mask_spec = t.mask.spec
            _MASK_TENSORS[id(t)] = (t, layer(t))
        result.append(_MASK_TENSORS[id(t)][1])
    return result
