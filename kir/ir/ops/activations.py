"""Shape rules for the activation layers' ops: ReLU (ReLU and LeakyReLU layers), PReLU, Softmax.
(`Activation` and `ELU` share the elementwise rule in core.py.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kir.errors import ShapeError
from kir.ir.ops._checks import differ, expect_inputs, fmt
from kir.ir.ops.registry import shape_rule
from kir.ir.spec import TensorSpec


@shape_rule("ReLU")
def relu_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Elementwise: same shape, float32."""
    expect_inputs("ReLU", inputs, 1)
    return [TensorSpec(inputs[0].shape, "float32")]


@shape_rule("PReLU")
def prelu_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Elementwise with a learned slope `alpha` of shape input.shape[1:] (1 on the shared axes)."""
    expect_inputs("PReLU", inputs, 1)
    (x,) = inputs
    alpha = params.get("alpha")
    if alpha is not None:
        dims = x.shape[1:]
        if len(alpha) != len(dims) or any(a != 1 and differ(d, a) for d, a in zip(dims, alpha)):
            raise ShapeError(f"PReLU expects inputs whose non-batch shape broadcasts with its alpha {fmt(alpha)}, "
                             f"got input shape {fmt(x)}; call it on tensors like the ones it was built on")
    return [TensorSpec(x.shape, "float32")]


def softmax_axes(attrs: Mapping[str, Any], rank: int) -> list[int]:
    """The Softmax op's `axis` attr (int or list, negative from the end) as sorted positive axes."""
    value = attrs.get("axis", -1)
    axes = [value] if isinstance(value, int) else list(value)
    return sorted({a % rank for a in axes})


@shape_rule("Softmax")
def softmax_rule(attrs: Mapping[str, Any], inputs: Sequence[TensorSpec], params: Mapping[str, tuple]):
    """Same shape; every axis in `axis` must exist and not be the batch axis."""
    expect_inputs("Softmax", inputs, 1)
    (x,) = inputs
    value = attrs.get("axis", -1)
    axes = [value] if isinstance(value, int) else list(value)
    if not axes or any(not -x.rank <= a < x.rank or a % x.rank == 0 for a in axes):
        raise ShapeError(f"Softmax axis {value!r} is out of range (or the batch axis) for input shape {fmt(x)}; "
                         f"use axes 1..{x.rank - 1} or negative ones")
    return [TensorSpec(x.shape, "float32")]
