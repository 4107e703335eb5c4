"""Shape rules for the core ops: Input, Dense, Activation, Dropout, Identity, ByMode, Flatten,
Reshape, Permute, Transpose, RepeatVector, Embedding."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import (
    FLOAT_DTYPES,
    INT_DTYPES,
    differ,
    expect_inputs,
    expect_min_rank,
    expect_rank,
    fmt,
    known_product,
)
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


@shape_rule("Input")
def input_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """An Input's spec is its declared shape (batch included) and dtype."""
    expect_inputs("Input", inputs, 0)
    return [TensorSpec(tuple(attrs["shape"]), attrs.get("dtype") or "float32")]


@shape_rule("Dense")
def dense_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """(..., in) -> (..., units); `in` must match the kernel's first dim once weights exist."""
    expect_inputs("Dense", inputs, 1)
    (x,) = inputs
    expect_min_rank("Dense", x, 2, "(batch, ..., features)")
    kernel = params.get("kernel")
    if kernel is not None and differ(x.shape[-1], kernel[0]):
        raise ShapeError(
            f"Dense expects inputs with last dimension {kernel[0]} (its kernel has shape {fmt(kernel)}), "
            f"got input shape {fmt(x)}; a built layer keeps its input width, so call it on tensors "
            f"of width {kernel[0]} or use a new Dense layer"
        )
    return [TensorSpec(x.shape[:-1] + (int(attrs["units"]),), "float32")]


@shape_rule("Activation", "ELU")
def activation_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Elementwise: same shape, float32."""
    expect_inputs("ELU" if "alpha" in attrs else "Activation", inputs, 1)
    return [TensorSpec(inputs[0].shape, "float32")]


@shape_rule("Dropout", "Identity")
def passthrough_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Identity at inference: same shape and dtype."""
    expect_inputs("Dropout/Identity", inputs, 1)
    return [inputs[0]]


@shape_rule("ByMode")
def by_mode_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """(inference value, training value) -> the one the mode picks: both must match in shape and dtype."""
    expect_inputs("ByMode", inputs, 2)
    infer, train = inputs
    if infer.dtype != train.dtype or infer.rank != train.rank or any(
            differ(a, b) for a, b in zip(infer.shape, train.shape)):
        raise ShapeError(
            f"ByMode joins a call()'s inference value {fmt(infer)} {infer.dtype} with its training value "
            f"{fmt(train)} {train.dtype}; an `if training:` branch must return the same shape and dtype in "
            f"both modes"
        )
    return [infer]


@shape_rule("Flatten")
def flatten_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """(batch, ...) -> (batch, prod(rest)); prod is None when a dim is unknown."""
    expect_inputs("Flatten", inputs, 1)
    (x,) = inputs
    expect_min_rank("Flatten", x, 1, "(batch, ...)")
    return [TensorSpec((x.shape[0], known_product(x.shape[1:])), x.dtype)]


@shape_rule("Reshape")
def reshape_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """(batch, ...) -> (batch, *target_shape) with at most one -1 resolved from the element count."""
    expect_inputs("Reshape", inputs, 1)
    (x,) = inputs
    target = [int(d) for d in attrs["target_shape"]]
    unknown = [i for i, d in enumerate(target) if d == -1]
    if len(unknown) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError(
            f"Reshape target_shape {fmt(target)} is invalid; use positive sizes and at most one -1"
        )
    have = known_product(x.shape[1:])
    fixed = math.prod(d for d in target if d != -1)
    if unknown:
        if have is not None and (fixed == 0 or have % fixed):
            raise ShapeError(
                f"Reshape cannot fit input shape {fmt(x)} ({have} elements per sample) into "
                f"target_shape {fmt(target)}: {have} is not divisible by {fixed}; pick a target whose "
                f"known sizes divide {have}"
            )
        resolved: list[int | None] = list(target)
        resolved[unknown[0]] = None if have is None else have // fixed
        return [TensorSpec((x.shape[0], *resolved), x.dtype)]
    if have is not None and have != fixed:
        raise ShapeError(
            f"Reshape cannot turn input shape {fmt(x)} ({have} elements per sample) into "
            f"target_shape {fmt(target)} ({fixed} elements); the element counts must match "
            f"(use -1 for one dimension to infer it)"
        )
    return [TensorSpec((x.shape[0], *target), x.dtype)]


@shape_rule("Permute")
def permute_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Reorder the non-batch dims by `dims` (1-based, like Keras)."""
    expect_inputs("Permute", inputs, 1)
    (x,) = inputs
    dims = [int(d) for d in attrs["dims"]]
    if sorted(dims) != list(range(1, x.rank)):
        raise ShapeError(
            f"Permute dims {list(dims)} do not permute the non-batch axes of input shape {fmt(x)}; "
            f"give each of 1..{x.rank - 1} exactly once"
        )
    return [TensorSpec((x.shape[0], *(x.shape[d] for d in dims)), x.dtype)]


@shape_rule("Transpose")
def transpose_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Reorder all dims (batch included) by `perm`."""
    expect_inputs("Transpose", inputs, 1)
    (x,) = inputs
    perm = [int(p) for p in attrs["perm"]]
    if sorted(perm) != list(range(x.rank)):
        raise ShapeError(
            f"Transpose perm {perm} is not a permutation of the axes of input shape {fmt(x)}; "
            f"give each of 0..{x.rank - 1} exactly once"
        )
    return [TensorSpec(tuple(x.shape[p] for p in perm), x.dtype)]


@shape_rule("RepeatVector")
def repeat_vector_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """(b, f) -> (b, n, f)."""
    expect_inputs("RepeatVector", inputs, 1)
    (x,) = inputs
    expect_rank("RepeatVector", x, 2, "(batch, features)")
    return [TensorSpec((x.shape[0], int(attrs["n"]), x.shape[1]), "float32")]


@shape_rule("Embedding")
def embedding_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Integer ids (b, ...) -> float32 vectors (b, ..., output_dim); float ids are cast like Keras."""
    expect_inputs("Embedding", inputs, 1)
    (x,) = inputs
    expect_min_rank("Embedding", x, 1, "(batch, ...) of integer ids")
    if x.dtype not in INT_DTYPES + FLOAT_DTYPES:
        raise ShapeError(
            f"Embedding expects integer token ids, got dtype {x.dtype} with shape {fmt(x)}; "
            f"cast the ids to int32"
        )
    table = params.get("embeddings")
    out_dim = int(attrs["output_dim"])
    if table is not None and differ(table[1], out_dim):
        raise ShapeError(
            f"Embedding output_dim {out_dim} does not match its embeddings of shape {fmt(table)}; "
            f"set weights of shape ({attrs['input_dim']}, {out_dim})"
        )
    return [TensorSpec(x.shape + (out_dim,), "float32")]
