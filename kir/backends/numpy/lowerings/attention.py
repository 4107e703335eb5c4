"""Numpy lowerings of the attention family (the reference semantics): Keras' Attention and
AdditiveAttention scores, MultiHeadAttention (projections, scaled dot-product attention with
attention_mask / causal mask, output projection) and SkipLayerNormalization."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy.table import LOWERINGS
from kir.ir.ops.attention import implicit_masks, mha_axes, mha_equations, mha_general, mha_inputs

NEG = np.float32(-1e9)
"""What Keras puts in masked scores (float32)."""


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def causal_mask(t: int, s: int) -> np.ndarray:
    """(t, s) bool: query step i sees value steps j <= i (Keras' cumsum rows >= cols)."""
    return np.arange(t)[:, None] >= np.arange(s)[None, :]


@LOWERINGS.register("Attention")
def attention(ctx, attrs, inputs, params):
    """Keras' Attention (dot / concat) and AdditiveAttention scores; a masked score (causal, or a
    padded value step) loses 1e9; padded query steps give zeros."""
    masks = implicit_masks(attrs, inputs)
    inputs = inputs[:len(inputs) - len(masks)]
    q = np.asarray(inputs[0], np.float32)
    v = np.asarray(inputs[1], np.float32)
    k = np.asarray(inputs[2], np.float32) if len(inputs) > 2 else v
    mode = attrs.get("score_mode", "dot")
    scale = np.asarray(params["scale"], np.float32) if attrs.get("use_scale") and "scale" in params else None
    if mode == "dot":
        scores = q @ np.swapaxes(k, -1, -2)
        if scale is not None:
            scores = scores * scale
    else:
        pair = q[..., :, None, :] + k[..., None, :, :]
        if mode == "concat":
            scores = np.asarray(params["concat_score_weight"], np.float32) * np.tanh(
                pair if scale is None else scale * pair).sum(-1)
        else:
            scores = ((scale if scale is not None else np.float32(1.0)) * np.tanh(pair)).sum(-1)
    keep = causal_mask(q.shape[-2], k.shape[-2]) if attrs.get("causal") else None
    if "value_mask" in masks:
        v_mask = np.asarray(masks["value_mask"], bool)[..., None, :]
        keep = v_mask if keep is None else keep & v_mask
    if keep is not None:
        scores = np.where(keep, scores, scores - np.float32(1e9))
    weights = softmax(scores.astype(np.float32))
    y = weights @ v
    if "query_mask" in masks:
        y = np.where(np.asarray(masks["query_mask"], bool)[..., None], y, np.float32(0.0))
    out = [y.astype(np.float32)]
    if attrs.get("return_scores"):
        out.append(weights.astype(np.float32))
    return out


def _project(x: np.ndarray, params, role: str, use_bias: bool) -> np.ndarray:
    y = np.einsum("btd,dhk->bthk", x, np.asarray(params[f"{role}_kernel"], np.float32))
    if use_bias and f"{role}_bias" in params:
        y = y + np.asarray(params[f"{role}_bias"], np.float32)
    return y.astype(np.float32)


def mha_mask(attrs, mask, t: int, s: int, implicit: dict | None = None) -> np.ndarray | None:
    """(batch or 1, 1, t, s) bool: attention_mask != 0, the implicit query/value/key masks and the
    causal mask, or None."""
    out = None
    if mask is not None:
        out = (np.asarray(mask) != 0)[:, None]
    for name, m in (implicit or {}).items():
        m = np.asarray(m, bool)
        m = m[:, None, :, None] if name == "query_mask" else m[:, None, None, :]
        out = m if out is None else out & m
    if attrs.get("causal"):
        c = causal_mask(t, s)[None, None]
        out = c if out is None else out & c
    return out


def expand_mask(mask: np.ndarray, rank: int, n_axes: int) -> np.ndarray:
    """Keras' `_masked_softmax`: insert the missing axes of an attention_mask right before its last
    2 * len(attention_axes) ones (the heads axis, and any others), so it broadcasts to the scores."""
    while mask.ndim < rank:
        mask = np.expand_dims(mask, -2 * n_axes - 1)
    return mask


def _mha_general(attrs, q, v, k, m, params) -> list[np.ndarray]:
    """MultiHeadAttention over `attention_axes` (Keras' einsum path and Softmax layer: masked
    weights are zeroed, the softmax spans every key attention axis)."""
    use_bias = attrs.get("use_bias", True)
    axes = mha_axes(attrs, q.ndim)
    dot, combine, rank = mha_equations(q.ndim, axes)

    def project(x, role):
        y = np.einsum("...d,dhk->...hk", x.astype(np.float32), np.asarray(params[f"{role}_kernel"], np.float32))
        return y + np.asarray(params[f"{role}_bias"], np.float32) if use_bias and f"{role}_bias" in params else y

    query = project(q, "query") * np.float32(1.0 / np.sqrt(attrs["key_dim"]))
    scores = np.einsum(dot, project(k, "key"), query).astype(np.float32)
    norm = tuple(range(rank - len(axes), rank))
    keep = None if m is None else expand_mask(np.asarray(m) != 0, rank, len(axes))
    if keep is not None:
        scores = np.where(keep, scores, NEG)
    e = np.exp(scores - scores.max(axis=norm, keepdims=True))
    weights = (e / e.sum(axis=norm, keepdims=True)).astype(np.float32)
    if keep is not None:
        weights = np.where(keep, weights, np.float32(0.0))
    heads = np.einsum(combine, weights, project(v, "value"))
    y = np.einsum("...hv,hvo->...o", heads, np.asarray(params["output_kernel"], np.float32))
    if use_bias and "output_bias" in params:
        y = y + np.asarray(params["output_bias"], np.float32)
    return [y.astype(np.float32), weights] if attrs.get("return_scores") else [y.astype(np.float32)]


@LOWERINGS.register("MultiHeadAttention")
def multi_head_attention(ctx, attrs, inputs, params):
    """Keras' MultiHeadAttention at inference: softmax(q k^T / sqrt(key_dim)) v per head."""
    q, v, k, m = (None if a is None else np.asarray(a) for a in mha_inputs(attrs, inputs))
    if mha_general(attrs, q.ndim):
        return _mha_general(attrs, q, v, k, m, params)
    use_bias = attrs.get("use_bias", True)
    query = _project(q.astype(np.float32), params, "query", use_bias) * np.float32(1.0 / np.sqrt(attrs["key_dim"]))
    key = _project(k.astype(np.float32), params, "key", use_bias)
    value = _project(v.astype(np.float32), params, "value", use_bias)
    scores = np.einsum("bshk,bthk->bhts", key, query).astype(np.float32)
    mask = mha_mask(attrs, m, q.shape[1], v.shape[1], implicit_masks(attrs, inputs))
    if mask is not None:
        scores = np.where(mask, scores, NEG)
    weights = softmax(scores)
    if mask is not None and attrs.get("zero_masked"):
        weights = np.where(mask, weights, np.float32(0.0))
    heads = np.einsum("bhts,bshv->bthv", weights, value)
    y = np.einsum("bthv,hvo->bto", heads, np.asarray(params["output_kernel"], np.float32))
    if use_bias and "output_bias" in params:
        y = y + np.asarray(params["output_bias"], np.float32)
    out = [y.astype(np.float32)]
    if attrs.get("return_scores"):
        out.append(weights.astype(np.float32))
    return out


@LOWERINGS.register("SkipLayerNormalization")
def skip_layer_norm(ctx, attrs, inputs, params):
    """LayerNormalization(x + skip) over the last axis."""
    x = np.asarray(inputs[0], np.float32) + np.asarray(inputs[1], np.float32)
    mean = x.mean(-1, keepdims=True)
    var = np.square(x - mean).mean(-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float32(attrs.get("epsilon", 1e-3)))
    if attrs.get("scale", True) and "gamma" in params:
        y = y * np.asarray(params["gamma"], np.float32)
    if attrs.get("center", True) and "beta" in params:
        y = y + np.asarray(params["beta"], np.float32)
    return [y.astype(np.float32)]
