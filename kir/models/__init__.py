"""Models: functional `Model`, `Sequential`, and the native save format."""

from kir.models.functional import Functional, Model
from kir.models.sequential import Sequential


def load_model(filepath: str, compile: bool = True) -> Model:  # noqa: A002 - Keras' argument name
    """Load a model saved with `model.save('m.kir')` (never executes code from the file)."""
    from kir.models.saving import load_model as _load

    return _load(filepath)


def clone_model(model: Model) -> Model:
    """A new model with the same architecture and fresh copies of the weights."""
    from kir.models.saving import clone_model as _clone

    return _clone(model)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]
