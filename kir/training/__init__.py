"""Training on the TensorFlow backend: what `Model.compile/fit/evaluate/...` delegate to.

Entry points (each takes the model first): `compile_model`, `fit`, `evaluate`,
`train_on_batch`, `test_on_batch`. The loops (`kir.training.loop`) import TensorFlow, so
`fit`/`evaluate`/`train_on_batch`/`test_on_batch` are resolved from there on first use (PEP 562):
`import kir.training` stays free of TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kir.training.compile import CompileConfig, compile_model

if TYPE_CHECKING:
    from kir.training.loop import evaluate, fit, test_on_batch, train_on_batch

_LOOP = ("evaluate", "fit", "test_on_batch", "train_on_batch")


def __getattr__(name: str) -> Any:
    if name in _LOOP:
        from kir.training import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LOOP))


__all__ = ["CompileConfig", "compile_model", "evaluate", "fit", "test_on_batch", "train_on_batch"]
