"""Utilities users reach as `kir.utils.*` (Keras names)."""

from __future__ import annotations

from typing import Any


def set_random_seed(seed: int) -> None:
    """Seed kir's initializers (and numpy/TensorFlow global generators, like Keras)."""
    import random
    import sys

    import numpy as np

    from kir import initializers

    initializers.set_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf.random.set_seed(seed)


def to_categorical(y: Any, num_classes: int | None = None) -> Any:
    """One-hot encode integer labels (Keras semantics)."""
    from kir.utils.categorical import to_categorical as _impl

    return _impl(y, num_classes)


def plot_model(model: Any, to_file: str = "model.png", **kwargs: Any) -> Any:
    """Draw the model graph with Graphviz (see kir.utils.plotting)."""
    from kir.utils.plotting import plot_model as _impl

    return _impl(model, to_file, **kwargs)


def model_to_dot(model: Any, **kwargs: Any) -> str:
    """The model graph as DOT text (needs no Graphviz)."""
    from kir.utils.plotting import model_to_dot as _impl

    return _impl(model, **kwargs)


__all__ = ["model_to_dot", "plot_model", "set_random_seed", "to_categorical"]
