"""Keras 3 optimizers for kir's TensorFlow training backend: by name, class or object.

``kir.optimizers.get('adam')`` and ``compile(optimizer='rmsprop')`` give the Keras 3 default
configuration; unknown names raise a ConfigError suggesting the closest known one.
"""

from __future__ import annotations

from typing import Any

from kir.errors import ConfigError, unknown_name
from kir.optimizers import schedules
from kir.optimizers.base import Optimizer
from kir.optimizers.loss_scale import LossScaleOptimizer
from kir.optimizers.rules import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop

CLASSES: dict[str, type[Optimizer]] = {
    "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta, "adam": Adam,
    "adamw": AdamW, "adamax": Adamax, "nadam": Nadam,
}


def get(identifier: Any) -> Optimizer:
    """An optimizer for a name ('adam', 'SGD', ...), an Optimizer (returned as is) or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = CLASSES.get(identifier.lower())
        if cls is None:
            raise unknown_name("optimizer", identifier, CLASSES)
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = CLASSES.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise unknown_name("optimizer", identifier["class_name"], CLASSES)
        return cls(**identifier.get("config", {}))
    raise ConfigError(
        f"optimizer {identifier!r} is neither an optimizer name (e.g. 'rmsprop') nor a "
        "kir.optimizers.Optimizer instance"
    )


__all__ = ["Optimizer", "LossScaleOptimizer",
           "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam",
           "get", "schedules", "CLASSES"]
