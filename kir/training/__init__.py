"""Training on the TensorFlow backend: what `Model.compile/fit/evaluate/...` delegate to.

Entry points (each takes the model first): `compile_model`, `fit`, `evaluate`,
`train_on_batch`, `test_on_batch`. All of them import TensorFlow lazily.
"""

from __future__ import annotations

from typing import Any

from kir.training.compile import CompileConfig, compile_model


def fit(model: Any, *args: Any, **kwargs: Any) -> Any:
    from kir.training.loop import fit as _fit

    return _fit(model, *args, **kwargs)


def evaluate(model: Any, *args: Any, **kwargs: Any) -> Any:
    from kir.training.loop import evaluate as _evaluate

    return _evaluate(model, *args, **kwargs)


def train_on_batch(model: Any, *args: Any, **kwargs: Any) -> Any:
    from kir.training.loop import train_on_batch as _train_on_batch

    return _train_on_batch(model, *args, **kwargs)


def test_on_batch(model: Any, *args: Any, **kwargs: Any) -> Any:
    from kir.training.loop import test_on_batch as _test_on_batch

    return _test_on_batch(model, *args, **kwargs)


__all__ = ["CompileConfig", "compile_model", "evaluate", "fit", "test_on_batch", "train_on_batch"]
