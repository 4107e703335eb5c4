"""The attention family in ONNX.

Portable (standard ops): MultiHeadAttention is MatMul projections, Reshape/Transpose to heads,
MatMul scores, Where for the masks, Softmax and the output MatMul (self-attention: one packed QKV
MatMul). With `ctx.fused` (export at O2 unless
portable=True) self-attention is one com.microsoft `Attention` node (packed QKV weights,
`unidirectional` for the causal mask, `attention_bias` for the masks), cross-attention one
com.microsoft `MultiHeadAttention` after the projections. SkipLayerNormalization is Sum +
LayerNormalization either way (see `skip_layer_norm`)."""

from __future__ import annotations

import math

import numpy as np

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings.normalization import layer_norm
from kir.backends.onnx.table import LOWERINGS
from kir.ir.ops.attention import implicit_masks, mha_axes, mha_equations, mha_general, mha_inputs

MS = "com.microsoft"
NEG = -1e9


def _causal(ctx: OnnxContext, q: str, k: str, t: int | None, s: int | None) -> str:
    """(t, s) bool, True where query step i may see step j <= i; a constant when both are static."""
    if t is not None and s is not None:
        return ctx.const(np.arange(t)[:, None] >= np.arange(s)[None, :], np.bool_, "causal_mask")

    def steps(x: str, name: str) -> str:
        n = ctx.op("Gather", ctx.op("Shape", x, suffix=f"{name}_shape"), ctx.const(1, np.int64, "one"),
                   suffix=f"{name}_steps", axis=0)
        return ctx.op("Range", ctx.const(0, np.int64, "zero"), n, ctx.const(1, np.int64, "one"), suffix=f"{name}_range")

    rows = ctx.unsqueeze(steps(q, "query"), [1], "query_rows")
    return ctx.op("GreaterOrEqual", rows, steps(k, "key"), suffix="causal_mask")


def _bool(ctx: OnnxContext, x: str, dtype: str, suffix: str) -> str:
    if dtype == "bool":
        return x
    return ctx.op("Not", ctx.op("Equal", x, ctx.const(0, np.dtype(dtype), f"{suffix}_zero"), suffix=f"{suffix}_eq0"),
                  suffix=suffix)


def _mask(ctx: OnnxContext, attrs: Attrs, inputs: list[str]) -> str | None:
    """(batch, 1, T, S) or (T, S) bool mask from attention_mask and the causal flag, or None."""
    q, v, k, m = mha_inputs(attrs, inputs)
    out = None
    if m is not None:
        index = 2 + bool(attrs.get("has_key"))
        out = ctx.unsqueeze(_bool(ctx, m, ctx.input_spec(index).dtype, "attention_mask"), [1], "mask_heads")
    for name, im in implicit_masks(attrs, inputs).items():
        im = ctx.unsqueeze(im, [1, 3] if name == "query_mask" else [1, 2], name)
        out = im if out is None else ctx.op("And", out, im, suffix=f"and_{name}")
    if attrs.get("causal"):
        c = _causal(ctx, q, k, ctx.input_spec(0).shape[1], ctx.input_spec(1).shape[1])
        out = c if out is None else ctx.op("And", out, c, suffix="mask_and_causal")
    return out


def _masked(attrs: Attrs) -> bool:
    """Whether a call has a mask other than the causal one (explicit or implicit)."""
    return bool(attrs.get("has_mask") or any(attrs.get(n) for n in ("query_mask", "value_mask", "key_mask")))


def _proj(ctx: OnnxContext, x: str, role: str, use_bias: bool, scale: float = 1.0) -> str:
    """x @ kernel (d, heads*size) + bias, the kernel reshaped (and scaled) once at export."""
    tag = "2d" if scale == 1.0 else "2d_scaled"
    kernel = ctx.param(f"{role}_kernel", lambda w: (w * np.float32(scale)).reshape(w.shape[0], -1), tag)
    y = ctx.op("MatMul", x, kernel, suffix=f"{role}_MatMul")
    if use_bias and f"{role}_bias" in ctx.vertex.params:
        bias = ctx.param(f"{role}_bias", lambda b: (b * np.float32(scale)).reshape(-1), tag)
        y = ctx.op("Add", y, bias, suffix=f"{role}_bias")
    return y


def _output(ctx: OnnxContext, heads: str, use_bias: bool) -> str:
    """(B, T, heads*value_dim) @ output kernel + bias."""
    y = ctx.op("MatMul", heads, ctx.param("output_kernel", lambda w: w.reshape(-1, w.shape[-1]), "2d"),
               suffix="output_MatMul")
    if use_bias and "output_bias" in ctx.vertex.params:
        y = ctx.op("Add", y, ctx.param("output_bias"), suffix="output_bias")
    return y


def _packed_projection(ctx: OnnxContext, x: str, h: int, kd: int, vd: int, use_bias: bool) -> list[str]:
    """Self-attention: one MatMul (+ Add) with [Wq / sqrt(key_dim) | Wk | Wv], split into q, k, v."""
    scale = np.float32(1.0 / math.sqrt(kd))
    d = ctx.input_spec(0).shape[-1]

    def pack(wq: np.ndarray, wk: np.ndarray, wv: np.ndarray, shape: tuple = (d, -1)) -> np.ndarray:
        return np.concatenate([(wq * scale).reshape(shape), wk.reshape(shape), wv.reshape(shape)], -1)

    y = ctx.op("MatMul", x, ctx.derived(["query_kernel", "key_kernel", "value_kernel"], "qkv_kernel_scaled", pack),
               suffix="qkv_MatMul")
    if use_bias and "query_bias" in ctx.vertex.params:
        bias = ctx.derived(["query_bias", "key_bias", "value_bias"], "qkv_bias_scaled",
                           lambda bq, bk, bv: pack(bq, bk, bv, (-1,)))
        y = ctx.op("Add", y, bias, suffix="qkv_bias")
    return ctx.node("Split", [y, ctx.ints([h * kd, h * kd, h * vd], "qkv_sizes")], "qkv_split", n_outputs=3, axis=-1)


def _portable(ctx: OnnxContext, attrs: Attrs, inputs: list[str]) -> list[str]:
    q, v, k, _ = mha_inputs(attrs, inputs)
    h, kd = int(attrs["num_heads"]), int(attrs["key_dim"])
    vd = int(attrs.get("value_dim") or kd)
    use_bias = attrs.get("use_bias", True)
    if q == v == k:
        query, key, value = _packed_projection(ctx, q, h, kd, vd, use_bias)
    else:
        query = _proj(ctx, q, "query", use_bias, 1.0 / math.sqrt(kd))
        key, value = _proj(ctx, k, "key", use_bias), _proj(ctx, v, "value", use_bias)
    query = ctx.reshape(query, [0, 0, h, kd], "query_heads")
    key = ctx.reshape(key, [0, 0, h, kd], "key_heads")
    value = ctx.reshape(value, [0, 0, h, vd], "value_heads")
    # (B, H, S, K) then a last-two-axes Transpose, which onnxruntime folds into the MatMul
    key_t = ctx.op("Transpose", ctx.transpose(key, [0, 2, 1, 3], "key_bhsk"), suffix="key_bhks", perm=[0, 1, 3, 2])
    scores = ctx.op("MatMul", ctx.transpose(query, [0, 2, 1, 3], "query_bhtk"), key_t, suffix="scores")
    mask = _mask(ctx, attrs, inputs)
    if mask is not None:
        scores = ctx.op("Where", mask, scores, ctx.const(NEG), suffix="masked_scores")
    weights = ctx.op("Softmax", scores, suffix="weights", axis=-1)
    if mask is not None and attrs.get("zero_masked"):
        weights = ctx.op("Where", mask, weights, ctx.const(0.0), suffix="masked_weights")
    heads = ctx.op("MatMul", weights, ctx.transpose(value, [0, 2, 1, 3], "value_bhsv"), suffix="heads")
    heads = ctx.reshape(ctx.transpose(heads, [0, 2, 1, 3], "heads_bthv"), [0, 0, h * vd], "heads_concat")
    out = [_output(ctx, heads, use_bias)]
    if attrs.get("return_scores"):
        out.append(weights)
    return out


def _general(ctx: OnnxContext, attrs: Attrs, inputs: list[str]) -> list[str]:
    """MultiHeadAttention over `attention_axes` (Keras' einsum path; its Softmax layer zeroes the
    masked weights): MatMul projections reshaped to (B, d..., heads, size), Einsum scores, a softmax
    over every key attention axis (ReduceMax, Exp, ReduceSum), Einsum heads, output MatMul."""
    q, v, k, m = mha_inputs(attrs, inputs)
    rank = ctx.input_spec(0).rank
    h, kd = int(attrs["num_heads"]), int(attrs["key_dim"])
    vd = int(attrs.get("value_dim") or kd)
    use_bias = attrs.get("use_bias", True)
    axes = mha_axes(attrs, rank)
    dot, combine, srank = mha_equations(rank, axes)
    keep_dims = [0] * (rank - 1)
    query = ctx.reshape(_proj(ctx, q, "query", use_bias, 1.0 / math.sqrt(kd)), [*keep_dims, h, kd], "query_heads")
    key = ctx.reshape(_proj(ctx, k, "key", use_bias), [*keep_dims, h, kd], "key_heads")
    value = ctx.reshape(_proj(ctx, v, "value", use_bias), [*keep_dims, h, vd], "value_heads")
    scores = ctx.op("Einsum", key, query, suffix="scores", equation=dot)
    keep = None
    if m is not None:
        index = 2 + bool(attrs.get("has_key"))
        mrank, n = ctx.input_spec(index).rank, 2 * len(axes)
        keep = _bool(ctx, m, ctx.input_spec(index).dtype, "attention_mask")
        if mrank < srank:
            keep = ctx.unsqueeze(keep, list(range(mrank - n, mrank - n + srank - mrank)), "mask_expanded")
        scores = ctx.op("Where", keep, scores, ctx.const(NEG), suffix="masked_scores")
    norm = list(range(srank - len(axes), srank))
    shifted = ctx.op("Sub", scores, ctx.reduce("ReduceMax", scores, norm, suffix="scores_max"), suffix="shifted")
    e = ctx.op("Exp", shifted, suffix="exp")
    weights = ctx.op("Div", e, ctx.reduce("ReduceSum", e, norm, suffix="exp_sum"), suffix="weights")
    if keep is not None:
        weights = ctx.op("Where", keep, weights, ctx.const(0.0), suffix="masked_weights")
    heads = ctx.op("Einsum", weights, value, suffix="heads", equation=combine)
    out = [_output(ctx, ctx.reshape(heads, [*keep_dims, h * vd], "heads_concat"), use_bias)]
    if attrs.get("return_scores"):
        out.append(weights)
    return out


def _packed(ctx: OnnxContext, roles: list[str], tag: str, shapes: list[tuple]) -> str:
    """One initializer concatenating several parameters (each flattened to `shape`) on the last axis."""
    return ctx.derived(roles, tag, lambda *ws: np.concatenate([w.reshape(s) for w, s in zip(ws, shapes)], -1))


def _attention_bias(ctx: OnnxContext, attrs: Attrs, inputs: list[str]) -> str:
    """attention_mask (and the causal mask) as an additive (batch, 1, T, S) bias: 0 where attended,
    -1e9 elsewhere, so a fully masked row is uniform as in Keras (`unidirectional` would add its own
    -10000 on top and leave it causal)."""
    keep = _mask(ctx, attrs, inputs)
    bias = ctx.op("Where", keep, ctx.const(0.0), ctx.const(NEG), suffix="attention_bias")
    # onnxruntime wants the query steps spelled out: (b, 1, 1, S) from value/key masks alone
    # broadcasts to (b, 1, T, S) by an Expand to (1, 1, T, 1)
    steps = ctx.op("Gather", ctx.op("Shape", inputs[0], suffix="query_shape"), ctx.ints([1], "one_axis"),
                   suffix="query_steps", axis=0)
    shape = ctx.op("Concat", ctx.ints([1, 1], "ones2"), steps, ctx.ints([1], "ones1"), suffix="bias_shape", axis=0)
    return ctx.op("Expand", bias, shape, suffix="attention_bias_full")


def _fused(ctx: OnnxContext, attrs: Attrs, inputs: list[str]) -> list[str]:
    q, v, k, m = mha_inputs(attrs, inputs)
    h, kd = int(attrs["num_heads"]), int(attrs["key_dim"])
    vd = int(attrs.get("value_dim") or kd)
    use_bias = attrs.get("use_bias", True) and "query_bias" in ctx.vertex.params
    bias_roles = ["query_bias", "key_bias", "value_bias"]
    if use_bias:
        bias = _packed(ctx, bias_roles, "qkv_bias", [(-1,)] * 3)
    else:
        bias = ctx.const(np.zeros(h * (2 * kd + vd)), suffix="qkv_bias")
    extra = {"unidirectional": 1} if attrs.get("causal") and not _masked(attrs) else {}
    mask_bias = _attention_bias(ctx, attrs, inputs) if _masked(attrs) else ""
    if q == v == k:
        dq = ctx.input_spec(0).shape[-1]
        weights = _packed(ctx, ["query_kernel", "key_kernel", "value_kernel"], "qkv_kernel", [(dq, -1)] * 3)
        args = [q, weights, bias] + (["", "", mask_bias] if mask_bias else [])
        heads = ctx.node("Attention", args, suffix="Attention", domain=MS, num_heads=h,
                         qkv_hidden_sizes=[h * kd, h * kd, h * vd], **extra)[0]
    else:
        query, key, value = (_proj(ctx, x, role, False) for x, role in ((q, "query"), (k, "key"), (v, "value")))
        args = [query, key, value, bias] + (["", mask_bias] if mask_bias else [])
        heads = ctx.node("MultiHeadAttention", args, suffix="MultiHeadAttention", domain=MS, num_heads=h,
                         scale=1.0 / math.sqrt(kd), **extra)[0]
    return [_output(ctx, heads, attrs.get("use_bias", True))]


def fusable(ctx: OnnxContext, attrs: Attrs) -> bool:
    """Whether onnxruntime's kernels compute exactly this call: no scores output, no masked row
    that Keras would zero (its softmax-layer path, taken with dropout or scores)."""
    if not ctx.fused or attrs.get("return_scores") or (attrs.get("zero_masked") and _masked(attrs)):
        return False
    return True


@LOWERINGS.register("MultiHeadAttention")
def multi_head_attention(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    if mha_general(attrs, ctx.input_spec(0).rank):
        return _general(ctx, attrs, inputs)
    if fusable(ctx, attrs):
        return _fused(ctx, attrs, inputs)
    return _portable(ctx, attrs, inputs)


@LOWERINGS.register("Attention")
def attention(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """Keras' Attention / AdditiveAttention: scores, causal / padding penalty (-1e9), Softmax,
    MatMul, zeros at padded query steps."""
    masks = implicit_masks(attrs, inputs)
    inputs = inputs[:len(inputs) - len(masks)]
    q, v = inputs[0], inputs[1]
    k = inputs[2] if len(inputs) > 2 else v
    mode = attrs.get("score_mode", "dot")
    scale = params["scale"] if attrs.get("use_scale") and "scale" in params else None
    rank = ctx.input_spec(0).rank
    if mode == "dot":
        perm = [*range(rank - 2), rank - 1, rank - 2]
        scores = ctx.op("MatMul", q, ctx.transpose(k, perm, "key_t"), suffix="scores")
        if scale is not None:
            scores = ctx.op("Mul", scores, scale, suffix="scaled_scores")
    else:
        pair = ctx.op("Add", ctx.unsqueeze(q, [rank - 1], "query_pair"), ctx.unsqueeze(k, [rank - 2], "key_pair"),
                      suffix="pair")
        if mode == "concat":
            inner = ctx.op("Mul", pair, scale, suffix="scaled_pair") if scale is not None else pair
            scores = ctx.reduce("ReduceSum", ctx.op("Tanh", inner, suffix="tanh"), [-1], keepdims=False,
                                suffix="scores_sum")
            scores = ctx.op("Mul", scores, params["concat_score_weight"], suffix="scores")
        else:
            t = ctx.op("Tanh", pair, suffix="tanh")
            if scale is not None:
                t = ctx.op("Mul", t, scale, suffix="scaled_tanh")
            scores = ctx.reduce("ReduceSum", t, [-1], keepdims=False, suffix="scores")
    keep = _causal(ctx, q, k, ctx.input_spec(0).shape[-2], ctx.input_spec(1).shape[-2]) if attrs.get("causal") \
        else None
    if "value_mask" in masks:
        v_mask = ctx.unsqueeze(masks["value_mask"], [rank - 2], "value_mask")
        keep = v_mask if keep is None else ctx.op("And", keep, v_mask, suffix="keep")
    if keep is not None:
        scores = ctx.op("Where", keep, scores, ctx.op("Sub", scores, ctx.const(1e9), suffix="penalized"),
                        suffix="masked_scores")
    weights = ctx.op("Softmax", scores, suffix="weights", axis=-1)
    y = ctx.op("MatMul", weights, v, suffix="MatMul")
    if "query_mask" in masks:
        y = ctx.op("Where", ctx.unsqueeze(masks["query_mask"], [rank - 1], "query_mask"), y, ctx.const(0.0),
                   suffix="masked_output")
    out = [y]
    if attrs.get("return_scores"):
        out.append(weights)
    return out


@LOWERINGS.register("SkipLayerNormalization")
def skip_layer_norm(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """Sum + LayerNormalization (opset 17; its decomposition below), fused or portable.

    Not com.microsoft SkipLayerNormalization: onnxruntime 1.32's CPU kernel for it takes 6x (batch 1)
    to 16x (batch 32) the time of LayerNormalization + the sum on a (b, 128, 128) tensor
    (docs/benchmarks.md), and its optimizer fuses `Add` + LayerNormalization into that kernel, so the
    residual is a `Sum`, which it leaves alone."""
    spec = ctx.input_spec(0)
    total = ctx.op("Sum", inputs[0], inputs[1], suffix="residual")
    return layer_norm(ctx, {**attrs, "axis": [spec.rank - 1]}, [total], params)
