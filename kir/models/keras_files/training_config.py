"""A compiled kir model's `training_config`, as Keras 3 writes it into a legacy `.h5` file.

Keras' loader (`compile_args_from_training_config`) compiles the loaded model from it: `loss`,
`loss_weights`, `metrics`, `weighted_metrics`, `run_eagerly`, `steps_per_execution`, `jit_compile`
and `optimizer_config` (`{"class_name": "Adam", "config": optimizer.get_config()}`; kir's optimizer
configs use Keras' argument names). A built-in loss is written by its canonical function name
(`mean_squared_error`, not the alias `mse`: Keras 3.15 cannot load its own file with `"mse"`), a
loss object as `{"class_name", "config"}`. What Keras cannot rebuild (a Python loss or metric
function, a learning-rate schedule, a loss-scaling wrapper) is reported by `Unwritable`, and the file
is then written without a training config (Keras loads it uncompiled). Optimizer state is never
written: Keras starts from a fresh optimizer.
"""

from __future__ import annotations

from typing import Any

from kir import losses as losses_module
from kir import optimizers as optimizers_module

_OPTIMIZERS = ("SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam")


class Unwritable(Exception):
    """Something in the compile configuration that Keras cannot rebuild (the message says what)."""


def _loss(loss: Any) -> Any:
    if loss is None:
        return None
    if type(loss) is losses_module.LossFunctionWrapper and not loss.fn_kwargs:
        names = [name for name, fn in losses_module.FUNCTIONS.items() if fn is loss.fn]
        if names:
            return names[0]  # the canonical name: the first one FUNCTIONS lists for the function
    cls = type(loss).__name__
    if losses_module.CLASSES.get(cls) is type(loss):
        return {"class_name": cls, "config": loss.get_config()}
    raise Unwritable(f"loss {getattr(loss, 'name', cls)!r} is a Python function or custom class")


def _metrics(groups: list[list[Any]], single: bool) -> Any:
    for group in groups:
        for metric in group:
            if not isinstance(metric, str):
                raise Unwritable(f"metric {getattr(metric, 'name', None) or metric!r} is not a metric name")
    if not any(groups):
        return None
    return list(groups[0]) if single else [list(group) for group in groups]


def _optimizer(optimizer: Any) -> dict[str, Any]:
    cls = type(optimizer).__name__
    if cls not in _OPTIMIZERS or getattr(optimizers_module, cls, None) is not type(optimizer):
        raise Unwritable(f"optimizer {cls} has no Keras counterpart kir can write")
    config = optimizer.get_config()
    if isinstance(config.get("learning_rate"), dict):
        raise Unwritable("the optimizer's learning rate is a schedule")
    return {"class_name": cls, "config": config}


def training_config(model: Any) -> dict[str, Any] | None:
    """The training config of `model` (None when it is not compiled); raises `Unwritable`."""
    compiled = getattr(model, "compiled", None)
    if compiled is None:
        return None
    single = len(compiled.losses) == 1
    losses = [_loss(loss) for loss in compiled.losses]
    weights = None if all(w == 1.0 for w in compiled.loss_weights) else list(compiled.loss_weights)
    return {
        "loss": losses[0] if single else losses,
        "loss_weights": weights[0] if single and weights else weights,
        "metrics": _metrics(compiled.metrics, single),
        "weighted_metrics": _metrics(compiled.weighted_metrics, single),
        "run_eagerly": False,
        "steps_per_execution": compiled.steps_per_execution or 1,
        "jit_compile": bool(compiled.jit_compile),
        "optimizer_config": _optimizer(compiled.optimizer),
    }
