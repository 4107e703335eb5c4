"""Shape rule for ReshapeFull: a reshape whose target includes the batch dimension.

Passes need it to fold (batch, time, ...) into (batch*time, ...) when they lower TimeDistributed;
the Keras-style `Reshape` cannot touch the batch axis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import expect_inputs, fmt
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


@shape_rule("ReshapeFull")
def reshape_full_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """x -> `shape` (batch included): 0 copies the input dim at the same index, one -1 is inferred."""
    expect_inputs("ReshapeFull", inputs, 1)
    (x,) = inputs
    target = [int(d) for d in attrs["shape"]]
    if sum(d == -1 for d in target) > 1 or any(d < -1 for d in target):
        raise ShapeError(f"ReshapeFull shape {target} is invalid; use sizes >= 0 and at most one -1")
    resolved: list[int | None] = []
    for i, d in enumerate(target):
        if d == 0:
            if i >= x.rank:
                raise ShapeError(f"ReshapeFull shape {target} copies axis {i} (0) but input shape {fmt(x)} "
                                 f"has rank {x.rank}")
            resolved.append(x.shape[i])
        else:
            resolved.append(d)
    if -1 in resolved:
        k = resolved.index(-1)
        rest = [d for i, d in enumerate(resolved) if i != k]
        if None in x.shape or None in rest:
            resolved[k] = None
        else:
            have, fixed = math.prod(x.shape), math.prod(rest)  # type: ignore[arg-type]
            if fixed == 0 or have % fixed:
                raise ShapeError(f"ReshapeFull cannot fit input shape {fmt(x)} into shape {target}: "
                                 f"{have} elements are not divisible by {fixed}")
            resolved[k] = have // fixed
    elif None not in x.shape and None not in resolved:
        if math.prod(x.shape) != math.prod(resolved):  # type: ignore[arg-type]
            raise ShapeError(f"ReshapeFull cannot turn input shape {fmt(x)} into shape {target}: "
                             f"the element counts differ")
    return [TensorSpec(tuple(resolved), x.dtype)]
