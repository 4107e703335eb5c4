"""`from_keras(keras_model)`: a live Keras model converted as if it had been saved and loaded.

The model's `get_config()` goes through the same mapping as a file's config.json, and its weights
through the same reader, written by Keras itself (`save_weights`) to a temporary file.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from kir.errors import LoadError
from kir.models.functional import Model
from kir.models.keras_files import layout, values
from kir.models.keras_files.model_config import ConfigReader, UnsupportedLayersError
from kir.models.keras_files.reader import guarded, open_hdf5


def _flavour(keras_model: Any) -> str:
    module = type(keras_model).__module__
    return values.KERAS2 if module.startswith("tf_keras") or ".engine." in module else values.KERAS3


def from_keras(keras_model: Any) -> Model:
    """A kir model with the architecture, names and weights of a Keras Functional or Sequential model."""
    cls = type(keras_model).__name__
    name = getattr(keras_model, "name", "?")
    if cls not in ("Functional", "Sequential", "Model") or not callable(getattr(keras_model, "get_config", None)):
        raise LoadError(f"cannot convert {cls} '{name}': only Keras Functional and Sequential models have a config "
                        f"kir can read (a subclassed model's call() is Python code)")
    try:
        config = json.loads(json.dumps(keras_model.get_config(), default=lambda obj: {"class_name": repr(obj)[:60]}))
    except (TypeError, ValueError) as exc:
        raise LoadError(f"cannot convert {cls} '{name}': its config is not serializable ({exc})") from None
    reader = ConfigReader(_flavour(keras_model))
    where = f"Keras model '{name}'"
    try:
        model = reader.read({"class_name": "Functional" if cls == "Model" else cls, "config": config})
    except UnsupportedLayersError as exc:
        raise UnsupportedLayersError(f"cannot convert {where}: {exc}", exc.layers) from None
    except LoadError as exc:
        raise LoadError(f"cannot convert {where}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="kir-from-keras-") as folder:
        path = os.path.join(folder, "model.weights.h5")
        try:
            keras_model.save_weights(path)
        except Exception as exc:  # Keras' own failure (e.g. an unbuilt model), reported in one line
            raise LoadError(f"cannot convert {where}: Keras could not write its weights ({type(exc).__name__}: "
                            f"{exc})") from None

        def action() -> None:
            with open_hdf5(path) as h5:
                layout.assign(layout.read_layout(h5, layout.tree(model, reader.orders), "the weights"))

        guarded(path, action)
    return model
