"""TensorFlow lowerings of the attention family (differentiable; dropout on the attention
weights only while training, seeded per step like Dropout)."""

from __future__ import annotations

import math

import tensorflow as tf

from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.ops.attention import implicit_masks, mha_axes, mha_equations, mha_general, mha_inputs


def _causal(t, s):
    """(t, s) bool: query step i sees value steps j <= i."""
    return tf.range(t)[:, None] >= tf.range(s)[None, :]


def _dropout(ctx, attrs, weights):
    rate = float(attrs.get("dropout", 0.0))
    if not ctx.training or rate <= 0.0:
        return weights
    return tf.nn.experimental.stateless_dropout(weights, rate, seed=ctx.seed(attrs.get("seed")))


@LOWERINGS.register("Attention")
def attention(ctx, attrs, inputs, params):
    masks = implicit_masks(attrs, inputs)
    inputs = inputs[:len(inputs) - len(masks)]
    q, v = tf.cast(inputs[0], ctx.compute_dtype), tf.cast(inputs[1], ctx.compute_dtype)
    k = tf.cast(inputs[2], ctx.compute_dtype) if len(inputs) > 2 else v
    mode = attrs.get("score_mode", "dot")
    scale = params["scale"] if attrs.get("use_scale") and "scale" in params else None
    if mode == "dot":
        scores = tf.matmul(q, k, transpose_b=True)
        if scale is not None:
            scores = scores * scale
    else:
        pair = tf.expand_dims(q, -2) + tf.expand_dims(k, -3)
        if mode == "concat":
            scores = params["concat_score_weight"] * tf.reduce_sum(tf.tanh(pair if scale is None else scale * pair), -1)
        else:
            scores = tf.reduce_sum((scale if scale is not None else 1.0) * tf.tanh(pair), -1)
    keep = _causal(tf.shape(q)[-2], tf.shape(k)[-2]) if attrs.get("causal") else None
    if "value_mask" in masks:
        v_mask = tf.expand_dims(tf.cast(masks["value_mask"], "bool"), -2)
        keep = v_mask if keep is None else tf.logical_and(keep, v_mask)
    if keep is not None:
        scores = tf.where(keep, scores, scores - 1e9)
    weights = tf.nn.softmax(scores, -1)
    y = tf.matmul(_dropout(ctx, attrs, weights), v)
    if "query_mask" in masks:
        y = tf.where(tf.expand_dims(tf.cast(masks["query_mask"], "bool"), -1), y, tf.zeros_like(y))
    out = [y]
    if attrs.get("return_scores"):
        out.append(weights)
    return out


def _project(x, params, role, use_bias):
    y = tf.einsum("btd,dhk->bthk", x, params[f"{role}_kernel"])
    if use_bias and f"{role}_bias" in params:
        y = y + params[f"{role}_bias"]
    return y


def _general(ctx, attrs, q, v, k, m, params):
    """MultiHeadAttention over `attention_axes` (Keras' einsum path; its Softmax layer zeroes the
    masked weights and normalizes over every key attention axis)."""
    use_bias = attrs.get("use_bias", True)
    axes = mha_axes(attrs, q.shape.rank)
    dot, combine, rank = mha_equations(q.shape.rank, axes)

    def project(x, role):
        y = tf.einsum("...d,dhk->...hk", x, params[f"{role}_kernel"])
        return y + params[f"{role}_bias"] if use_bias and f"{role}_bias" in params else y

    query = project(q, "query") * (1.0 / math.sqrt(int(attrs["key_dim"])))
    scores = tf.einsum(dot, project(k, "key"), query)
    norm = list(range(rank - len(axes), rank))
    keep = None
    if m is not None:
        keep = tf.not_equal(m, tf.zeros_like(m))
        while keep.shape.rank < rank:
            keep = tf.expand_dims(keep, -2 * len(axes) - 1)
        scores = _fill_masked(scores, keep)
    e = tf.exp(scores - tf.stop_gradient(tf.reduce_max(scores, norm, keepdims=True)))
    weights = e / tf.reduce_sum(e, norm, keepdims=True)
    if keep is not None:
        weights = tf.where(keep, weights, tf.zeros_like(weights))
    heads = tf.einsum(combine, _dropout(ctx, attrs, weights), project(v, "value"))
    return _output(attrs, params, "...hv,hvo->...o", heads, weights, use_bias)


@LOWERINGS.register("MultiHeadAttention")
def multi_head_attention(ctx, attrs, inputs, params):
    q, v, k, m = mha_inputs(attrs, inputs)
    q, v, k = (tf.cast(a, ctx.compute_dtype) for a in (q, v, k))
    if mha_general(attrs, q.shape.rank):
        return _general(ctx, attrs, q, v, k, m, params)
    use_bias = attrs.get("use_bias", True)
    query = _project(q, params, "query", use_bias) * (1.0 / math.sqrt(int(attrs["key_dim"])))
    key = _project(k, params, "key", use_bias)
    value = _project(v, params, "value", use_bias)
    scores = tf.einsum("bshk,bthk->bhts", key, query)
    mask = None
    if m is not None:
        mask = tf.expand_dims(tf.not_equal(m, tf.zeros_like(m)), 1)
    for name, im in implicit_masks(attrs, inputs).items():
        im = tf.cast(im, "bool")
        im = im[:, None, :, None] if name == "query_mask" else im[:, None, None, :]
        mask = im if mask is None else tf.logical_and(mask, im)
    if attrs.get("causal"):
        causal = _causal(tf.shape(q)[1], tf.shape(v)[1])[None, None]
        mask = causal if mask is None else tf.logical_and(mask, causal)
    if mask is not None:
        scores = _fill_masked(scores, mask)
    weights = tf.nn.softmax(scores, -1)
    if mask is not None and attrs.get("zero_masked"):
        weights = tf.where(mask, weights, tf.zeros_like(weights))
    heads = tf.einsum("bhts,bshv->bthv", _dropout(ctx, attrs, weights), value)
    return _output(attrs, params, "bthv,hvo->bto", heads, weights, use_bias)


def _fill_masked(scores, keep):
    """Scores of masked pairs pushed to the dtype's large negative, so softmax gives them ~0."""
    return tf.where(keep, scores, tf.constant(-65504.0 if scores.dtype == tf.float16 else -1e9, scores.dtype))


def _output(attrs, params, equation, heads, weights, use_bias):
    """The output projection of the heads (+ bias), and the scores when the call asked for them."""
    y = tf.einsum(equation, heads, params["output_kernel"])
    if use_bias and "output_bias" in params:
        y = y + params["output_bias"]
    return [y, weights] if attrs.get("return_scores") else [y]


@LOWERINGS.register("SkipLayerNormalization")
def skip_layer_norm(ctx, attrs, inputs, params):
    x = tf.cast(inputs[0], "float32") + tf.cast(inputs[1], "float32")  # float32 under mixed precision
    mean, var = tf.nn.moments(x, [-1], keepdims=True)
    y = (x - mean) * tf.math.rsqrt(var + float(attrs.get("epsilon", 1e-3)))
    if attrs.get("scale", True) and "gamma" in params:
        y = y * params["gamma"]
    if attrs.get("center", True) and "beta" in params:
        y = y + params["beta"]
    return [tf.cast(y, ctx.compute_dtype)]
