"""NHWC -> NCHW layout (NWC, NDHWC alike): conv/pool stacks run channels_first, Transposes only at the edges.

1. Every channels_last Conv/transposed Conv/pool/global-pool is wrapped as T(to NCHW) -> op(channels_first) ->
   T(back to NHWC); Permute becomes Transpose.
2. Transposes sink towards the outputs and cancel (table `SINK_RULES`): T(T(x)) composes,
   elementwise ops, merges (Concatenate axes remapped, e.g. the guide's axis=1 on NHWC), BN (axis
   remapped), activations and ELU run on the un-transposed tensor, UpSampling/ZeroPadding/Cropping
   too with their data_format flipped, and Flatten(T(x)) becomes a channels_first Flatten.
3. A channels_first Flatten that only feeds Dense layers (directly or through last-axis
   Concatenates) becomes a plain reshape, and its permutation moves into those Dense kernels
   (new parameter keys), so no Transpose is left between the conv stack and the classifier.
4. With `nchw_io`, image inputs whose every use is a T(to NCHW) become NCHW inputs and outputs
   produced by T(to NHWC) are returned NCHW; the Input vertices get data_format='channels_first'.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from kir.ir.graph import Graph, Ref
from kir.ir.spec import TensorSpec
from kir.passes.base import graph_pass
from kir.passes.cleanup import cse, dce
from kir.passes.edit import add_op, bypass, drop_if_unused, reinfer, sole_user
from kir.passes.rewrite import Rule, apply_rules

WINDOWED = ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
            "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
            *(f"{kind}Pooling{dims}D" for kind in ("Max", "Average", "GlobalMax", "GlobalAverage")
              for dims in (1, 2, 3)))
SPATIAL_RESHAPING = ("UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D")
ELEMENTWISE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
LAST_AXIS_ACTIVATIONS = ("softmax", "log_softmax")


def to_first(rank: int) -> list[int]:
    """NHWC -> NCHW (any rank >= 3)."""
    return [0, rank - 1, *range(1, rank - 1)]


def to_last(rank: int) -> list[int]:
    """NCHW -> NHWC."""
    return [0, *range(2, rank), 1]


def compose(inner: list[int], outer: list[int]) -> list[int]:
    """transpose(transpose(x, inner), outer) == transpose(x, compose(inner, outer))."""
    return [inner[o] for o in outer]


def inverse(perm: list[int]) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def _perm(graph: Graph, vid: int) -> list[int] | None:
    v = graph.vertex(vid)
    return [int(p) for p in v.attrs["perm"]] if v.op == "Transpose" else None


def transpose(graph: Graph, ref: Ref, perm: list[int], name: str) -> Ref:
    """T(ref) reusing an existing identical Transpose of `ref` (keeps the count down without CSE)."""
    src, index = ref
    for dst, _ in graph.users(src, index):
        if _perm(graph, dst) == perm:
            return (dst, 0)
    return (add_op(graph, "Transpose", [ref], {"perm": perm}, name=name), 0)


# ------------------------------------------------------------------ 1. wrap windowed ops
def _wrap(graph: Graph, vid: int) -> None:
    v = graph.vertex(vid)
    (x,) = graph.input_refs(vid)
    rank = graph.spec(x).rank
    t_in = transpose(graph, x, to_first(rank), f"{v.name}/to_nchw")
    graph.set_input(vid, 0, t_in)
    v.attrs["data_format"] = "channels_first"
    reinfer(graph, vid)
    if v.outputs[0].rank == rank:
        t_out = add_op(graph, "Transpose", [(vid, 0)], {"perm": to_last(rank)}, name=f"{v.name}/to_nhwc")
        graph.replace_uses((vid, 0), (t_out, 0), keep=t_out)


def _permute_to_transpose(graph: Graph, vid: int) -> None:
    v = graph.vertex(vid)
    v.op, v.attrs = "Transpose", {"perm": [0, *(int(d) for d in v.attrs["dims"])]}


# ------------------------------------------------------------------ 2. sinking rules
def _compose_transposes(graph: Graph, vid: int):
    src = graph.input_refs(vid)[0][0]
    inner = _perm(graph, src)
    if inner is None:
        return None
    perm = compose(inner, _perm(graph, vid))
    x = graph.input_refs(src)[0]
    if perm == list(range(len(perm))) and not (graph.is_output(vid) and graph.vertex(x[0]).op == "Input"):
        bypass(graph, vid, x)
        return [x[0], *drop_if_unused(graph, src)]
    graph.vertex(vid).attrs["perm"] = perm
    graph.set_input(vid, 0, x)
    return [vid, *drop_if_unused(graph, src)]


def _sink(remap=None, ok=None):
    """Rewrite op(T_p(a), T_p(b), ...) -> T_p(op(a, b, ...)), fixing attrs with `remap(attrs, p)`.

    Inputs that are not T_p get T_p^-1 (free when one exists or cancels); the rewrite happens only
    when it does not add Transposes: (T_p inputs that die) >= (new T_p^-1) + 1 (the output T_p)."""

    def rewrite(graph: Graph, vid: int):
        refs = graph.input_refs(vid)
        perms = [_perm(graph, s) for s, _ in refs]
        perm = next((p for p in perms if p is not None), None)
        if perm is None or (ok is not None and not ok(graph.vertex(vid), perm)):
            return None
        inv = inverse(perm)
        dying = {s for p, (s, _) in zip(perms, refs) if p == perm and sole_user(graph, s) == vid}
        gain, cost = len(dying), 1
        for p, (s, i) in zip(perms, refs):
            if p == perm:
                continue
            reuses = any(_perm(graph, d) == inv and d not in dying for d, _ in graph.users(s, i))
            merges = p is not None and sole_user(graph, s) == vid  # T_q then T_p^-1 compose into one
            cost += not (reuses or merges)
        if gain < cost:
            return None
        v = graph.vertex(vid)
        for pos, (p, ref) in enumerate(zip(perms, refs)):
            new = graph.input_refs(ref[0])[0] if p == perm else transpose(graph, ref, inv, f"{v.name}/in{pos}")
            graph.set_input(vid, pos, new)
        if remap is not None:
            remap(v.attrs, perm)
        reinfer(graph, vid)
        t_out = add_op(graph, "Transpose", [(vid, 0)], {"perm": perm}, name=f"{v.name}/transpose")
        graph.replace_uses((vid, 0), (t_out, 0), keep=t_out)
        touched = [vid, t_out]
        for s in dict.fromkeys(s for s, _ in refs):
            touched += drop_if_unused(graph, s)
        return touched

    return rewrite


def _remap_axis(attrs: dict, perm: list[int]) -> None:
    attrs["axis"] = perm[int(attrs["axis"]) % len(perm)]


def _activation_ok(v, perm: list[int]) -> bool:
    return v.attrs["activation"] not in LAST_AXIS_ACTIVATIONS or perm[-1] == len(perm) - 1


def _layout_flip_ok(v, perm: list[int]) -> bool:
    """A data_format op under T(to NHWC) of an NCHW tensor (or the reverse) can run on that tensor."""
    first = v.attrs.get("data_format") == "channels_first"
    return perm == (to_first(len(perm)) if first else to_last(len(perm)))


def _flip_data_format(attrs: dict, perm: list[int]) -> None:
    first = attrs.get("data_format") == "channels_first"
    attrs["data_format"] = "channels_last" if first else "channels_first"


def _flatten_of_transpose(graph: Graph, vid: int):
    """Flatten(T_p(x)) -> Flatten(x) (channels_last or channels_first) when the orders agree."""
    src = graph.input_refs(vid)[0][0]
    perm = _perm(graph, src)
    v = graph.vertex(vid)
    if perm is None or len(perm) < 3:
        return None
    first = v.attrs.get("data_format") == "channels_first"
    total = compose(perm, to_last(len(perm))) if first else perm
    if total == list(range(len(perm))):
        v.attrs["data_format"] = "channels_last"
    elif total == to_last(len(perm)):
        v.attrs["data_format"] = "channels_first"
    else:
        return None
    graph.set_input(vid, 0, graph.input_refs(src)[0])
    return [vid, *drop_if_unused(graph, src)]


SINK_RULES = [
    Rule("transpose_of_transpose", ("Transpose",), _compose_transposes),
    Rule("sink_through_elementwise", ELEMENTWISE, _sink()),
    Rule("sink_through_activation", ("Activation",), _sink(ok=_activation_ok)),
    Rule("sink_through_batch_norm", ("BatchNormalization",), _sink(remap=_remap_axis)),
    Rule("sink_through_concatenate", ("Concatenate",), _sink(remap=_remap_axis)),
    Rule("flatten_of_transpose", ("Flatten",), _flatten_of_transpose),
    Rule("sink_through_elu", ("ELU",), _sink()),
    Rule("sink_through_relu", ("ReLU",), _sink()),
    Rule("sink_through_spatial_reshaping", SPATIAL_RESHAPING, _sink(remap=_flip_data_format, ok=_layout_flip_ok)),
]


# ------------------------------------------------------------------ 3. Flatten -> Dense permutation
def _dense_consumers(graph: Graph, vid: int, offset: int) -> list[tuple[int, int]] | None:
    """(Dense vertex, row offset) for every use of the rank-2 `vid`, through last-axis Concatenates;
    None if any use is something else (a graph output, another op)."""
    if graph.is_output(vid):
        return None
    found: list[tuple[int, int]] = []
    for dst, pos in graph.users(vid, 0):
        d = graph.vertex(dst)
        if d.op == "Dense":
            found.append((dst, offset))
        elif d.op == "Concatenate" and int(d.attrs["axis"]) == 1:
            before = sum(graph.spec(r).shape[1] for r in graph.input_refs(dst)[:pos])
            deeper = _dense_consumers(graph, dst, offset + before)
            if deeper is None:
                return None
            found.extend(deeper)
        else:
            return None
    return found


def _fold_flatten_permutation(graph: Graph, vid: int):
    v = graph.vertex(vid)
    x = graph.spec(graph.input_refs(vid)[0])
    if v.attrs.get("data_format") != "channels_first" or x.rank < 3 or None in x.shape[1:]:
        return None
    consumers = _dense_consumers(graph, vid, 0)
    if not consumers:
        return None
    channels_last = (*x.shape[2:], x.shape[1])
    # row r of the channels_first reshape holds NHWC-flatten element order[r]
    order = np.arange(int(np.prod(channels_last))).reshape(channels_last)
    order = np.moveaxis(order, -1, 0).ravel()
    for dense, offset in consumers:
        d = graph.vertex(dense)
        kernel = np.asarray(graph.store[d.params["kernel"]])
        new = kernel.copy()
        new[offset:offset + order.size] = kernel[offset + order]
        d.params["kernel"] = graph.store.add(f"{d.params['kernel']}_nchw", new)
    v.attrs["data_format"] = "channels_last"  # now a plain reshape of the NCHW tensor
    return [vid]


# ------------------------------------------------------------------ 4. NCHW graph inputs/outputs
def _nchw_io(graph: Graph) -> tuple[list[str], list[str]]:
    inputs, outputs = [], []
    for vid in graph.inputs:
        spec = graph.vertex(vid).outputs[0]
        users = graph.users(vid)
        if spec.rank < 3 or not users or any(_perm(graph, d) != to_first(spec.rank) for d, _ in users):
            continue
        v = graph.vertex(vid)
        new = TensorSpec(tuple(spec.shape[p] for p in to_first(spec.rank)), spec.dtype)
        v.outputs, v.attrs["shape"], v.attrs["data_format"] = [new], list(new.shape), "channels_first"
        for d, _ in users:
            bypass(graph, d, (vid, 0))
        inputs.append(v.name)
    for i, (vid, _) in enumerate(graph.outputs):
        perm = _perm(graph, vid)
        if perm is not None and len(perm) >= 3 and perm == to_last(len(perm)):
            src = graph.input_refs(vid)[0]
            if graph.vertex(src[0]).op != "Input":
                graph.outputs[i] = src
                outputs.append(graph.output_names[i])
    return inputs, outputs


@graph_pass("layout")
def layout(graph: Graph, nchw_io: bool = False, **_: object) -> Counter:
    """Run conv/pool stacks channels_first with Transposes only at the graph boundary."""
    stats: Counter = Counter()
    for vid in graph.topological_order():
        v = graph.vertex(vid)
        if (v.op in WINDOWED and v.attrs.get("data_format") != "channels_first"
                and v.attrs.get("activation") not in LAST_AXIS_ACTIVATIONS):  # softmax runs over the last axis
            _wrap(graph, vid)
            stats["to_channels_first"] += 1
        elif v.op == "Permute":
            _permute_to_transpose(graph, vid)
    stats.update(apply_rules(graph, SINK_RULES))
    stats.update(apply_rules(graph, [Rule("flatten_permutation_into_dense", ("Flatten",),
                                          _fold_flatten_permutation)]))
    if nchw_io:
        ins, outs = _nchw_io(graph)
        stats["nchw_inputs"], stats["nchw_outputs"] = len(ins), len(outs)
        graph.attrs = {**graph.attrs, "nchw_inputs": ins, "nchw_outputs": outs}
    stats.update({f"cse_{k}": n for k, n in cse.fn(graph).items()})
    stats.update({f"dce_{k}": n for k, n in dce.fn(graph).items()})
    return stats
