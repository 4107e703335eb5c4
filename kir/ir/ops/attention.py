"""Shape rules of the attention family: `Attention` (Keras' Attention and AdditiveAttention),
`MultiHeadAttention` (projections + scaled dot-product attention + output projection as one op,
so the ONNX backend can hand it to a fused kernel) and `SkipLayerNormalization` (LayerNorm of a
residual sum, what the O2 pass makes of `LayerNormalization(Add(x, y))`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import differ, expect_inputs, fmt
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


def _same(op: str, a: tuple, b: tuple, what: str) -> None:
    if len(a) != len(b) or any(differ(x, y) for x, y in zip(a, b)):
        raise ShapeError(f"{op}: {what}")


def _param(op: str, params: Mapping[str, tuple], role: str, want: tuple) -> None:
    if role in params:
        _same(op, tuple(params[role]), want,
              f"parameter '{role}' has shape {fmt(tuple(params[role]))} but the inputs need {fmt(want)}; a built "
              f"layer keeps its sizes, so call it on matching tensors or use a new layer")


def _check_masks(op: str, masks: Mapping[str, TensorSpec], owners: Mapping[str, TensorSpec]) -> None:
    for name, mask in masks.items():
        want = owners[name].shape[:-1]
        if mask.rank != len(want) or any(differ(a, b) for a, b in zip(mask.shape, want)):
            raise ShapeError(f"{op}: {name} must have shape {fmt(want)} (the steps of the tensor it masks), "
                             f"got {fmt(mask)}")


@shape_rule("Attention")
def attention_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """[query (*, Tq, D), value (*, Tv, Dv), key (*, Tv, D)?] -> (*, Tq, Dv) [+ scores (*, Tq, Tv)]."""
    op = "Attention"
    masks = implicit_masks(attrs, inputs)
    inputs = list(inputs)[:len(inputs) - len(masks)]
    if len(inputs) not in (2, 3):
        raise ShapeError(f"{op} takes [query, value] or [query, value, key], got {len(inputs)} tensors")
    q, v = inputs[0], inputs[1]
    k = inputs[2] if len(inputs) == 3 else v
    _check_masks(op, masks, {"query_mask": q, "value_mask": v, "key_mask": k})
    for name, t in (("query", q), ("value", v), ("key", k)):
        if t.rank < 3:
            raise ShapeError(f"{op}: {name} must have shape (batch, steps, features), got {fmt(t)}")
    if not (q.rank == v.rank == k.rank):
        raise ShapeError(f"{op}: query {fmt(q)}, value {fmt(v)} and key {fmt(k)} must have the same rank")
    _same(op, q.shape[:-2], v.shape[:-2], f"query {fmt(q)} and value {fmt(v)} must agree on the batch dimensions")
    _same(op, k.shape[:-1], v.shape[:-1], f"key {fmt(k)} and value {fmt(v)} must have the same steps")
    _same(op, (q.shape[-1],), (k.shape[-1],), f"query {fmt(q)} and key {fmt(k)} must have the same feature size")
    if attrs.get("score_mode") == "additive":
        _param(op, params, "scale", (q.shape[-1],))
    out = [TensorSpec((*q.shape[:-1], v.shape[-1]), "float32")]
    if attrs.get("return_scores"):
        out.append(TensorSpec((*q.shape[:-1], k.shape[-2]), "float32"))
    return out


IMPLICIT_MASKS = ("query_mask", "value_mask", "key_mask")
"""Keras' masks carried by the query/value/key tensors (Embedding(mask_zero=True), Masking): when an
attr of this name is true the op takes that (batch, steps) bool mask as an extra input, in this order
after the other inputs."""


def implicit_masks(attrs: Mapping[str, Any], inputs: Sequence[Any]) -> dict[str, Any]:
    """name -> the implicit mask input (only those the vertex has), shared by every backend."""
    names = [n for n in IMPLICIT_MASKS if attrs.get(n)]
    return dict(zip(names, list(inputs)[len(inputs) - len(names):]))


def mha_inputs(attrs: Mapping[str, Any], inputs: Sequence[Any]) -> tuple[Any, Any, Any, Any]:
    """(query, value, key, mask) of a MultiHeadAttention vertex's inputs (key: value when absent;
    mask: None when absent); shared by every backend."""
    q, v = inputs[0], inputs[1]
    rest = list(inputs[2:])
    k = rest.pop(0) if attrs.get("has_key") else v
    m = rest.pop(0) if attrs.get("has_mask") else None
    return q, v, k, m


@shape_rule("MultiHeadAttention")
def mha_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """query (B, T, Dq), value (B, S, Dv), key (B, S, Dk)?, attention_mask (B, T, S)? ->
    (B, T, output_dim) [+ scores (B, heads, T, S)]."""
    op = "MultiHeadAttention"
    masks = implicit_masks(attrs, inputs)
    expect_inputs(op, inputs, 2 + bool(attrs.get("has_key")) + bool(attrs.get("has_mask")) + len(masks))
    q, v, k, m = mha_inputs(attrs, inputs)
    _check_masks(op, masks, {"query_mask": q, "value_mask": v, "key_mask": k})
    for name, t in (("query", q), ("value", v), ("key", k)):
        if t.rank != 3 or t.shape[-1] is None:
            raise ShapeError(f"{op}: {name} must have shape (batch, steps, features) with known features, "
                             f"got {fmt(t)}")
    _same(op, k.shape[:-1], v.shape[:-1], f"key {fmt(k)} and value {fmt(v)} must have the same batch and steps")
    _same(op, q.shape[:1], v.shape[:1], f"query {fmt(q)} and value {fmt(v)} must have the same batch")
    if m is not None:
        want = (q.shape[0], q.shape[1], v.shape[1])
        if m.rank != 3 or any(differ(a, b) for a, b in zip(m.shape[1:], want[1:])):
            raise ShapeError(f"{op}: attention_mask must have shape (batch, query steps, value steps) = "
                             f"{fmt(want)}, got {fmt(m)}")
    h, kd = int(attrs["num_heads"]), int(attrs["key_dim"])
    vd, od = int(attrs.get("value_dim") or kd), int(attrs.get("output_dim") or q.shape[-1])
    for role, want in (("query_kernel", (q.shape[-1], h, kd)), ("key_kernel", (k.shape[-1], h, kd)),
                       ("value_kernel", (v.shape[-1], h, vd)), ("output_kernel", (h, vd, od)),
                       ("query_bias", (h, kd)), ("key_bias", (h, kd)), ("value_bias", (h, vd)),
                       ("output_bias", (od,))):
        _param(op, params, role, want)
    out = [TensorSpec((q.shape[0], q.shape[1], od), "float32")]
    if attrs.get("return_scores"):
        out.append(TensorSpec((q.shape[0], h, q.shape[1], v.shape[1]), "float32"))
    return out


@shape_rule("SkipLayerNormalization")
def skip_layer_norm_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """LayerNormalization(x + skip) over the last axis: both inputs of one shape."""
    op = "SkipLayerNormalization"
    expect_inputs(op, inputs, 2)
    x, skip = inputs
    _same(op, x.shape, skip.shape, f"input {fmt(x)} and skip {fmt(skip)} must have the same shape")
    if x.rank < 2:
        raise ShapeError(f"{op}: input must have rank >= 2, got {fmt(x)}")
    for role in ("gamma", "beta"):
        _param(op, params, role, (x.shape[-1],))
    return [TensorSpec(x.shape, "float32")]
