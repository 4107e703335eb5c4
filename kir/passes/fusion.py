"""Fusions that change which ops run but not what they compute: activation fusion,
BatchNormalization folding into a neighbouring Dense/Conv, and reshape-chain collapse.

Folded weights are computed in float64 and stored under new keys (`store.add`), so the user's
arrays are never touched.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from kir.ir.graph import Graph
from kir.ir.ops._checks import channel_axis
from kir.passes.base import graph_pass
from kir.passes.edit import bypass, drop_if_unused, reinfer, sole_user
from kir.passes.rewrite import Rule, apply_rules

LINEAR_OPS = ("Dense", "Conv1D", "Conv2D", "Conv3D")
DEPTHWISE_OPS = ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
"""Convolutions whose output channels are not a plain kernel's last axis (BN folds into them by its own rule)."""


# ------------------------------------------------------------------ activation fusion
def _fuse_activation(graph: Graph, vid: int):
    """Activation(Dense/Conv(x, linear)) -> Dense/Conv(x, activation) when the Activation is its only user."""
    return _fuse_named(graph, vid, graph.vertex(vid).attrs["activation"])


#: ReLU ops (the ReLU/LeakyReLU layers) that equal a named activation: (max_value, negative_slope, threshold).
RELU_NAMES = {(None, 0.0, 0.0): "relu", (6.0, 0.0, 0.0): "relu6", (None, 0.2, 0.0): "leaky_relu"}


def _fuse_relu(graph: Graph, vid: int):
    """ReLU(Dense/Conv(x, linear)) -> Dense/Conv(x, relu / relu6 / leaky_relu) when it is one of those."""
    a = graph.vertex(vid).attrs
    max_value = a.get("max_value")
    key = (None if max_value is None else float(max_value), float(a.get("negative_slope", 0.0)),
           float(a.get("threshold", 0.0)))
    return None if key not in RELU_NAMES else _fuse_named(graph, vid, RELU_NAMES[key])


def _fuse_named(graph: Graph, vid: int, activation: str):
    src = graph.producer(vid)
    p = graph.vertex(src)
    if (p.op not in LINEAR_OPS + DEPTHWISE_OPS or p.attrs.get("activation", "linear") != "linear"
            or sole_user(graph, src) != vid):
        return None
    p.attrs["activation"] = activation
    bypass(graph, vid, (src, 0))
    return [src]


ACTIVATION_RULES = [Rule("activation_into_linear_op", ("Activation",), _fuse_activation),
                    Rule("relu_into_linear_op", ("ReLU",), _fuse_relu)]


@graph_pass("fuse_activations", recurse=True)
def fuse_activations(graph: Graph, **_: object) -> Counter:
    """Fold an Activation (or a ReLU layer equal to a named one) into the Dense/Conv before it, so
    backends emit one fused op."""
    return apply_rules(graph, ACTIVATION_RULES)


# ------------------------------------------------------------------ BatchNormalization folding
def bn_affine(graph: Graph, vid: int) -> tuple[np.ndarray, np.ndarray]:
    """BN at inference is y = x * scale + shift along its axis; returns (scale, shift) in float64."""
    v = graph.vertex(vid)
    get = {role: np.asarray(graph.store[key], np.float64) for role, key in v.params.items()}
    scale = 1.0 / np.sqrt(get["moving_variance"] + float(v.attrs.get("epsilon", 1e-3)))
    if v.attrs.get("scale", True) and "gamma" in get:
        scale = scale * get["gamma"]
    shift = -get["moving_mean"] * scale
    if v.attrs.get("center", True) and "beta" in get:
        shift = shift + get["beta"]
    return scale, shift


def _bias(graph: Graph, vid: int, units: int) -> np.ndarray:
    v = graph.vertex(vid)
    if v.attrs.get("use_bias", True) and "bias" in v.params:
        return np.asarray(graph.store[v.params["bias"]], np.float64)
    return np.zeros(units)


def _set_weights(graph: Graph, vid: int, kernel: np.ndarray, bias: np.ndarray, tag: str) -> None:
    v = graph.vertex(vid)
    v.params["kernel"] = graph.store.add(f"{v.params['kernel']}_{tag}", kernel.astype(np.float32))
    v.params["bias"] = graph.store.add(f"{v.name}/bias_{tag}", bias.astype(np.float32))
    v.attrs["use_bias"] = True


def _out_channel_axis(graph: Graph, vid: int) -> int:
    v = graph.vertex(vid)
    rank = v.outputs[0].rank
    return rank - 1 if v.op == "Dense" else channel_axis(v.attrs, rank)


def _bn_into_producer(graph: Graph, vid: int):
    """BN(Dense/Conv(x)) -> Dense/Conv(x) with kernel*scale and bias*scale+shift."""
    src = graph.producer(vid)
    p = graph.vertex(src)
    if (p.op not in LINEAR_OPS or p.attrs.get("activation", "linear") != "linear"
            or sole_user(graph, src) != vid
            or int(graph.vertex(vid).attrs["axis"]) != _out_channel_axis(graph, src)):
        return None
    scale, shift = bn_affine(graph, vid)
    kernel = np.asarray(graph.store[p.params["kernel"]], np.float64)
    _set_weights(graph, src, kernel * scale, _bias(graph, src, kernel.shape[-1]) * scale + shift, "bnfold")
    bypass(graph, vid, (src, 0))
    return [src]


def _bn_into_consumer(graph: Graph, vid: int):
    """Dense/Conv(padding='valid')(BN(x)) -> Dense/Conv(x) with the BN's affine map in the weights
    (with 'same' padding the zero border would be shifted too, so that case is left alone)."""
    user = sole_user(graph, vid)
    if user is None:
        return None
    u = graph.vertex(user)
    rank = u.outputs[0].rank
    in_axis = rank - 1 if u.op == "Dense" else channel_axis(u.attrs, rank)
    if (u.op not in LINEAR_OPS or (u.op != "Dense" and u.attrs.get("padding", "valid") != "valid")
            or int(graph.vertex(vid).attrs["axis"]) != in_axis):
        return None
    scale, shift = bn_affine(graph, vid)
    kernel = np.asarray(graph.store[u.params["kernel"]], np.float64)  # (..., in, out)
    bias = _bias(graph, user, kernel.shape[-1]) + (kernel * shift[:, None]).sum(axis=tuple(range(kernel.ndim - 1)))
    _set_weights(graph, user, kernel * scale[:, None], bias, "bnfold")
    bypass(graph, vid, graph.input_refs(vid)[0])
    return [user]


def _bn_into_depthwise_producer(graph: Graph, vid: int):
    """BN(DepthwiseConv(x)) -> DepthwiseConv(x) with kernel (*k, in, m) * scale as (in, m) (output
    channel c*m + j); BN(SeparableConv(x)) -> its pointwise kernel * scale; bias * scale + shift."""
    src = graph.producer(vid)
    p = graph.vertex(src)
    if (p.op not in DEPTHWISE_OPS or p.attrs.get("activation", "linear") != "linear"
            or sole_user(graph, src) != vid
            or int(graph.vertex(vid).attrs["axis"]) != _out_channel_axis(graph, src)):
        return None
    scale, shift = bn_affine(graph, vid)
    role = "pointwise_kernel" if p.op.startswith("Separable") else "kernel"
    key = p.params[role]
    kernel = np.asarray(graph.store[key], np.float64)
    folded = kernel * (scale if role == "pointwise_kernel" else scale.reshape(kernel.shape[-2:]))
    bias = _bias(graph, src, scale.shape[0]) * scale + shift
    p.params[role] = graph.store.add(f"{key}_bnfold", folded.astype(np.float32))
    p.params["bias"] = graph.store.add(f"{p.name}/bias_bnfold", bias.astype(np.float32))
    p.attrs["use_bias"] = True
    bypass(graph, vid, (src, 0))
    return [src]


def _bn_into_depthwise_consumer(graph: Graph, vid: int):
    """Depthwise/SeparableConv(padding='valid')(BN(x)) -> the conv with the BN's per-input-channel
    scale in its depthwise kernel and the shift's contribution in its bias (through the pointwise
    kernel for SeparableConv)."""
    user = sole_user(graph, vid)
    if user is None:
        return None
    u = graph.vertex(user)
    rank = u.outputs[0].rank
    if (u.op not in DEPTHWISE_OPS or u.attrs.get("padding", "valid") != "valid"
            or int(graph.vertex(vid).attrs["axis"]) != channel_axis(u.attrs, rank)):
        return None
    scale, shift = bn_affine(graph, vid)
    separable = u.op.startswith("Separable")
    role = "depthwise_kernel" if separable else "kernel"
    key = u.params[role]
    kernel = np.asarray(graph.store[key], np.float64)  # (*k, in, m)
    extra = (kernel * shift[:, None]).sum(axis=tuple(range(kernel.ndim - 2))).reshape(-1)  # (in * m,)
    if separable:
        pointwise = np.asarray(graph.store[u.params["pointwise_kernel"]], np.float64)
        extra = extra @ pointwise.reshape(pointwise.shape[-2:])
    u.params[role] = graph.store.add(f"{key}_bnfold", (kernel * scale[:, None]).astype(np.float32))
    bias = _bias(graph, user, extra.shape[0]) + extra
    u.params["bias"] = graph.store.add(f"{u.name}/bias_bnfold", bias.astype(np.float32))
    u.attrs["use_bias"] = True
    bypass(graph, vid, graph.input_refs(vid)[0])
    return [user]


BN_RULES = [
    Rule("bn_into_producer", ("BatchNormalization",), _bn_into_producer),
    Rule("bn_into_depthwise_producer", ("BatchNormalization",), _bn_into_depthwise_producer),
    Rule("bn_into_depthwise_consumer", ("BatchNormalization",), _bn_into_depthwise_consumer),
    Rule("bn_into_consumer", ("BatchNormalization",), _bn_into_consumer),
]


@graph_pass("fold_batch_norm", recurse=True)
def fold_batch_norm(graph: Graph, **_: object) -> Counter:
    """Fold inference BatchNormalization into the Dense/Conv before (or a Dense/valid Conv after) it."""
    return apply_rules(graph, BN_RULES)


# ------------------------------------------------------------------ reshape-chain collapse
def _pure_reshape(graph: Graph, vid: int) -> bool:
    """Does `vid` only re-view its input's per-sample elements in order (batch kept)?"""
    v = graph.vertex(vid)
    if v.op == "Reshape":
        return True
    if v.op == "Flatten":
        return v.attrs.get("data_format") != "channels_first" or graph.spec(graph.input_refs(vid)[0]).rank <= 2
    return False


def _skip_inner_reshape(graph: Graph, vid: int):
    """reshape(reshape(x)) -> reshape(x): the outer one alone fixes the result's shape."""
    v = graph.vertex(vid)
    if not _pure_reshape(graph, vid) and not (v.op == "ReshapeFull" and 0 not in v.attrs["shape"]):
        return None
    src = graph.producer(vid)
    if not _pure_reshape(graph, src):
        return None
    graph.set_input(vid, 0, graph.input_refs(src)[0])
    reinfer(graph, vid)
    return [vid, *drop_if_unused(graph, src)]


def _compose_permutes(graph: Graph, vid: int):
    """Permute(Permute(x, a), b) -> Permute(x, a[b])."""
    src = graph.producer(vid)
    if graph.vertex(src).op != "Permute":
        return None
    inner = graph.vertex(src).attrs["dims"]
    v = graph.vertex(vid)
    v.attrs["dims"] = [int(inner[d - 1]) for d in v.attrs["dims"]]
    graph.set_input(vid, 0, graph.input_refs(src)[0])
    return [vid, *drop_if_unused(graph, src)]


RESHAPE_RULES = [
    Rule("reshape_of_reshape", ("Reshape", "Flatten", "ReshapeFull"), _skip_inner_reshape),
    Rule("permute_of_permute", ("Permute",), _compose_permutes),
]


@graph_pass("collapse_reshapes", recurse=True)
def collapse_reshapes(graph: Graph, **_: object) -> Counter:
    """Collapse consecutive Reshape/Flatten/Permute chains (then no-op ones are dropped)."""
    stats = apply_rules(graph, RESHAPE_RULES)
    from kir.passes.cleanup import IDENTITY_RULES

    stats.update(apply_rules(graph, [r for r in IDENTITY_RULES if r.ops[0] in ("Permute", "Reshape", "Flatten")]))
    return stats
