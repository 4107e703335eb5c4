"""Shape rules for the merge ops: Concatenate, elementwise Add/Subtract/Multiply/Average/
Maximum/Minimum (Keras broadcasting of size-1 dims, equal ranks) and Dot (Keras batch_dot)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import differ, expect_inputs, expect_min_rank, fmt
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec

ELEMENTWISE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


def _shapes(inputs: Sequence[TensorSpec]) -> str:
    return " and ".join(fmt(s) for s in inputs)


def _merge_batch(op: str, inputs: Sequence[TensorSpec]) -> int | None:
    known = {s.shape[0] for s in inputs} - {None}
    if len(known) > 1:
        raise ShapeError(
            f"{op} cannot merge tensors with different batch sizes, got {_shapes(inputs)}; "
            f"feed inputs with the same batch size"
        )
    return known.pop() if known else None


def _elementwise_rule(op: str):
    def rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
        if op == "Subtract":
            expect_inputs(op, inputs, 2)
        elif not inputs:
            raise ShapeError(f"{op} needs at least one input tensor, got none; call it on a list of tensors")
        if len({s.rank for s in inputs}) > 1:
            raise ShapeError(
                f"{op} needs inputs of the same rank, got {_shapes(inputs)}; "
                f"reshape the inputs to matching shapes"
            )
        batch = _merge_batch(op, inputs)
        out: list[int | None] = [batch]
        for axis in range(1, inputs[0].rank):
            dims = [s.shape[axis] for s in inputs]
            if None in dims:
                out.append(None)
                continue
            big = {d for d in dims if d != 1}
            if len(big) > 1:
                raise ShapeError(
                    f"{op} needs inputs with matching shapes, got {_shapes(inputs)} (axis {axis} "
                    f"differs); make the shapes equal, e.g. with a Dense or Reshape layer"
                )
            out.append(big.pop() if big else 1)
        return [TensorSpec(tuple(out), "float32")]

    return rule


for _op in ELEMENTWISE:
    shape_rule(_op)(_elementwise_rule(_op))


@shape_rule("Concatenate")
def concatenate_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Join along `axis` (positive); every other dim must agree."""
    if not inputs:
        raise ShapeError(
            "Concatenate needs at least one input tensor, got none; call it on a list of tensors"
        )
    axis = int(attrs.get("axis", inputs[0].rank - 1))
    rank = inputs[0].rank
    mismatch = ShapeError(
        f"Concatenate needs inputs with matching shapes except on axis {axis}, got "
        f"{_shapes(inputs)}; make the other dimensions equal or concatenate on another axis"
    )
    if any(s.rank != rank for s in inputs):
        raise mismatch
    if not 1 <= axis < rank:
        raise ShapeError(
            f"Concatenate axis {axis} is out of range for inputs {_shapes(inputs)}; "
            f"use an axis between 1 and {rank - 1} (axis 0 is the batch)"
        )
    _merge_batch("Concatenate", inputs)
    out = list(inputs[0].shape)
    for other in inputs[1:]:
        for i in range(rank):
            if i == axis:
                continue
            if differ(out[i], other.shape[i]):
                raise mismatch
            if out[i] is None:
                out[i] = other.shape[i]
    sizes = [s.shape[axis] for s in inputs]
    out[axis] = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
    dtype = inputs[0].dtype if len({s.dtype for s in inputs}) == 1 else "float32"
    return [TensorSpec(tuple(out), dtype)]


@shape_rule("Dot")
def dot_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Keras batch_dot: x without axes[0], then y without batch and axes[1]; rank-1 -> (b, 1)."""
    expect_inputs("Dot", inputs, 2)
    x, y = inputs
    expect_min_rank("Dot", x, 2, "(batch, ...)")
    expect_min_rank("Dot", y, 2, "(batch, ...)")
    a1, a2 = (int(a) for a in attrs["axes"])
    if not (1 <= a1 < x.rank and 1 <= a2 < y.rank):
        raise ShapeError(
            f"Dot axes [{a1}, {a2}] are out of range for inputs {_shapes(inputs)}; "
            f"use non-batch axes (1..rank-1) of each input"
        )
    batch = _merge_batch("Dot", inputs)
    if differ(x.shape[a1], y.shape[a2]):
        raise ShapeError(
            f"Dot needs x.shape[{a1}] == y.shape[{a2}], got {_shapes(inputs)} ({x.shape[a1]} != "
            f"{y.shape[a2]}); pick axes of equal size"
        )
    out = [batch, *(d for i, d in enumerate(x.shape) if i not in (0, a1))]
    out += [d for i, d in enumerate(y.shape) if i not in (0, a2)]
    if len(out) == 1:
        out.append(1)
    return [TensorSpec(tuple(out), "float32")]
