"""Keras' mixed precision API: `kir.mixed_precision.set_global_policy("mixed_float16")`.

A policy names a compute dtype and a variable dtype; `compile` records the policy in force and,
under "mixed_float16", wraps the optimizer in a LossScaleOptimizer (Keras' auto_scale_loss). On the
TensorFlow backend layers then compute in the compute dtype (float16/bfloat16): float inputs are cast
at the model input and float32 variables when read; BatchNormalization/LayerNormalization compute in
float32 inside, and losses and metrics in float32, as in Keras. `predict(backend='tensorflow')`
follows the global policy. Variables are float32 under every policy, so `save` and ONNX export stay
float32 (export float16 with `kir-export --fp16`); the numpy and ONNX backends compute in float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kir.errors import ConfigError

_POLICIES = {
    "float32": ("float32", "float32"),
    "mixed_float16": ("float16", "float32"),
    "mixed_bfloat16": ("bfloat16", "float32"),
}


class Policy:
    """A dtype policy: `name`, `compute_dtype`, `variable_dtype` (Keras' DTypePolicy)."""

    def __init__(self, name: str) -> None:
        if name not in _POLICIES:
            raise ConfigError(f"unknown dtype policy {name!r}; kir supports {', '.join(_POLICIES)}")
        self.name = name
        self.compute_dtype, self.variable_dtype = _POLICIES[name]

    @property
    def mixed(self) -> bool:
        return self.compute_dtype != self.variable_dtype

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<Policy "{self.name}">'


_GLOBAL = Policy("float32")


def set_global_policy(policy: str | Policy | None) -> None:
    """Set the policy compile uses from now on (None resets to float32)."""
    global _GLOBAL
    if policy is None:
        policy = "float32"
    if isinstance(policy, Policy):
        _GLOBAL = policy
    elif isinstance(policy, str):
        _GLOBAL = Policy(policy)
    else:
        raise ConfigError(f"set_global_policy takes a policy name or a Policy, got {type(policy).__name__}")


def global_policy() -> Policy:
    return _GLOBAL


@contextmanager
def policy_scope(policy: str | Policy | None) -> Iterator[None]:
    """The global policy set to `policy` inside the block (None: unchanged), restored after it: how
    compile of a loaded model uses the policy it was saved under (Keras keeps a layer's policy)."""
    global _GLOBAL
    if policy is None:
        yield
        return
    saved = _GLOBAL
    set_global_policy(policy)
    try:
        yield
    finally:
        _GLOBAL = saved


def is_policy_name(name: object) -> bool:
    """Whether `name` names a policy kir supports (for reading it back from a file)."""
    return isinstance(name, str) and name in _POLICIES


set_dtype_policy = set_global_policy
dtype_policy = global_policy
DTypePolicy = Policy

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy", "set_global_policy"]
