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


def mha_axes(attrs: Mapping[str, Any], rank: int) -> tuple[int, ...]:
    """The attention axes of (batch, d1, ..., dn, features) inputs of `rank`, as Keras normalizes
    `attention_axes` (None: every axis between batch and features; negative: from the features
    axis, `axis + rank`); a ShapeError names an axis that is not one of d1..dn."""
    axes = attrs.get("attention_axes")
    if axes is None:
        return tuple(range(1, rank - 1))
    out = tuple(int(a) + rank if int(a) < 0 else int(a) for a in axes)
    if not out or any(not 1 <= a <= rank - 2 for a in out) or len(set(out)) != len(out):
        raise ShapeError(f"MultiHeadAttention: attention_axes={list(axes)} must be distinct axes among "
                         f"1..{rank - 2} (between batch and features) of rank-{rank} inputs")
    return out


def mha_general(attrs: Mapping[str, Any], rank: int) -> bool:
    """Whether a call attends over other axes than the steps of (batch, steps, features) inputs
    (backends then take the einsum path, Keras' `_build_attention_equation`)."""
    return mha_axes(attrs, rank) != (1,) or rank != 3


def mha_equations(rank: int, axes: Sequence[int]) -> tuple[str, str, int]:
    """Keras' einsum equations for projected (batch, d..., heads, channels) tensors of `rank` + 1
    dims: (key x query -> scores, scores x value -> heads, rank of the scores). The scores are
    (batch, non-attention d..., heads, query attention d..., key attention d...); softmax runs
    over the last len(axes) of them."""
    prank = rank + 1
    letters = "abcdefghijklmnopqrstuvwxyz"
    target = letters[:prank]
    batch = [i for i in range(prank) if i not in axes and i != prank - 1]
    extra = iter(letters[prank:])
    source = "".join(target[i] if i in batch or i == prank - 1 else next(extra) for i in range(prank))
    product = "".join([target[i] for i in batch] + [target[i] for i in axes] + [source[i] for i in axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def mha_scores_shape(q: tuple, v: tuple, heads: int, axes: Sequence[int]) -> tuple:
    """The shape of the attention scores for query shape `q` and value shape `v`."""
    batch = [q[i] for i in range(len(q) - 1) if i not in axes]
    return (*batch, heads, *(q[a] for a in axes), *(v[a] for a in axes))


@shape_rule("MultiHeadAttention")
def mha_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """query (B, T, Dq), value (B, S, Dv), key (B, S, Dk)?, attention_mask (B, T, S)? ->
    (B, T, output_dim) [+ scores (B, heads, T, S)]."""
    op = "MultiHeadAttention"
    masks = implicit_masks(attrs, inputs)
    expect_inputs(op, inputs, 2 + bool(attrs.get("has_key")) + bool(attrs.get("has_mask")) + len(masks))
    q, v, k, m = mha_inputs(attrs, inputs)
    if q.rank != 3 or mha_general(attrs, q.rank):  # (1,) / (-2,) on (batch, steps, features): the steps
        return _mha_general_rule(attrs, q, v, k, m, masks, params)
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
    return _mha_outputs(attrs, q, v, k, params, (q.shape[0], int(attrs["num_heads"]), q.shape[1], v.shape[1]))


def _mha_outputs(attrs: Mapping[str, Any], q: TensorSpec, v: TensorSpec, k: TensorSpec,
                 params: Mapping[str, tuple], scores: tuple) -> list[TensorSpec]:
    """Check the weights against the inputs' feature sizes; the output (and scores) specs."""
    op = "MultiHeadAttention"
    h, kd = int(attrs["num_heads"]), int(attrs["key_dim"])
    vd, od = int(attrs.get("value_dim") or kd), int(attrs.get("output_dim") or q.shape[-1])
    for role, want in (("query_kernel", (q.shape[-1], h, kd)), ("key_kernel", (k.shape[-1], h, kd)),
                       ("value_kernel", (v.shape[-1], h, vd)), ("output_kernel", (h, vd, od)),
                       ("query_bias", (h, kd)), ("key_bias", (h, kd)), ("value_bias", (h, vd)),
                       ("output_bias", (od,))):
        _param(op, params, role, want)
    out = [TensorSpec((*q.shape[:-1], od), "float32")]
    if attrs.get("return_scores"):
        out.append(TensorSpec(tuple(scores), "float32"))
    return out


def _mha_general_rule(attrs: Mapping[str, Any], q: TensorSpec, v: TensorSpec, k: TensorSpec,
                      m: TensorSpec | None, masks: Mapping[str, TensorSpec], params: Mapping[str, tuple]):
    """MultiHeadAttention over `attention_axes` of (batch, d1, ..., dn, features) inputs (Keras'
    einsum path): the non-attention axes of query and value agree, key and value agree but for
    features; attention_mask broadcasts to the scores (Keras inserts its missing axes before the
    query attention axes)."""
    op = "MultiHeadAttention"
    for name, t in (("query", q), ("value", v), ("key", k)):
        if t.rank < 3 or t.shape[-1] is None:
            raise ShapeError(f"{op}: {name} must have shape (batch, d1, ..., features) with known features, "
                             f"got {fmt(t)}")
    if not q.rank == v.rank == k.rank:
        raise ShapeError(f"{op}: query {fmt(q)}, value {fmt(v)} and key {fmt(k)} must have the same rank")
    axes = mha_axes(attrs, q.rank)
    if masks or attrs.get("causal"):
        what = "use_causal_mask" if attrs.get("causal") else "the Keras masks of query/value/key"
        raise ShapeError(f"{op}: {what} with attention_axes={list(axes)} on rank-{q.rank} inputs is not "
                         f"supported by kir; pass an attention_mask of the scores' shape instead")
    _same(op, k.shape[:-1], v.shape[:-1], f"key {fmt(k)} and value {fmt(v)} must agree on every axis but the last")
    others = [i for i in range(q.rank - 1) if i not in axes]
    _same(op, tuple(q.shape[i] for i in others), tuple(v.shape[i] for i in others),
          f"query {fmt(q)} and value {fmt(v)} must agree on the axes outside attention_axes={list(axes)}")
    scores = mha_scores_shape(q.shape, v.shape, int(attrs["num_heads"]), axes)
    if m is not None:
        n = 2 * len(axes)
        full = len(scores)
        if m.rank < n or m.rank > full:
            raise ShapeError(f"{op}: attention_mask {fmt(m)} must have rank {n}..{full} for scores "
                             f"{fmt(scores)}; give it the shape {fmt(scores[:-n - 1] + scores[-n:])}")
        expanded = m.shape[:m.rank - n] + (1,) * (full - m.rank) + m.shape[m.rank - n:]
        if any(a not in (1, None) and b is not None and differ(a, b) for a, b in zip(expanded, scores)):
            raise ShapeError(f"{op}: attention_mask {fmt(m)} does not broadcast to the scores {fmt(scores)}; "
                             f"give it the shape {fmt(scores[:-n - 1] + scores[-n:])}")
    return _mha_outputs(attrs, q, v, k, params, scores)


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
