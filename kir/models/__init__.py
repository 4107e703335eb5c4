"""Models: functional `Model`, `Sequential`, the native save format and Keras files."""

from __future__ import annotations

import os
from typing import Any

from kir.models.functional import Functional, Model
from kir.models.sequential import Sequential


def load_model(filepath: str | os.PathLike, compile: bool = True, **kwargs: Any) -> Model:  # noqa: A002
    """Load a model file: kir's `.kir`, Keras 3's `.keras` or a legacy Keras `.h5` (tf.keras 2 or Keras 3).

    The format is read from the file's contents (a zip holding `model.json` is kir's, one holding
    `config.json` is Keras'; HDF5 is legacy Keras). Never executes code from the file; every problem
    is a `LoadError`. `compile` and Keras' other keywords are accepted and ignored: kir restores the
    architecture and weights, not the training configuration.
    """
    from kir.errors import LoadError

    path = os.fspath(filepath)
    if path.endswith(".kir") or not os.path.isfile(path):
        from kir.models.saving import load_model as load_kir

        return load_kir(path)
    from kir.models import keras_files

    kind = keras_files.sniff(path)
    if kind == "zip":
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                native = "model.json" in zf.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise LoadError(f"cannot load '{path}': not a valid zip archive; it may be truncated or corrupt ({exc})") \
                from None
        if native:
            from kir.models.saving import load_model as load_kir

            return load_kir(path)
    return keras_files.load(path)


def from_keras(keras_model: Any) -> Model:
    """A kir model with the architecture, layer names and weights of a Keras Functional or Sequential model."""
    from kir.models.keras_files import from_keras as convert

    return convert(keras_model)


def clone_model(model: Model) -> Model:
    """A new model with the same architecture and fresh copies of the weights."""
    from kir.models.saving import clone_model as _clone

    return _clone(model)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "from_keras", "load_model"]
