"""Writing Keras 3 files: `model.save("m.keras")` and `model.save_weights("m.weights.h5")`.

Both are atomic: the file is written next to its destination under a temporary name and renamed
over it only once complete, so a failure leaves the old file (or none) and never a partial one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import zipfile
from typing import IO

from kir import fileio
from kir.errors import ConfigError
from kir.models.functional import Model
from kir.models.keras_files import extras, layout, safety
from kir.models.keras_files.config_writer import ConfigWriter
from kir.models.keras_files.reader import CONFIG, METADATA, WEIGHTS
from kir.version import __version__

KERAS_VERSION = "3.15.1"
"""The Keras release whose file layout this writer follows (metadata.json's keras_version)."""


def atomic_file(path: str, what: str, overwrite: bool) -> contextlib.AbstractContextManager[IO[bytes]]:
    """A binary file that replaces `path` only when the block completes (kir.fileio.atomic_write)."""
    return fileio.atomic_write(path, what, overwrite)


def check_model(model: Model) -> None:
    if not isinstance(model, Model):
        raise ConfigError(f"only kir models can be saved, got {type(model).__name__}")
    if not model.inputs:
        raise ConfigError(f"model '{model.name}' is not built yet; call it on data (or give it an input shape) "
                          f"before saving")


def _weights_h5(model: Model, handle: IO[bytes]) -> None:
    h5py = safety.h5py_module()
    with h5py.File(handle, "w") as h5:
        layout.write_layout(h5, layout.tree(model))


def save_keras(model: Model, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write a Keras 3 `.keras` archive (metadata.json, config.json, model.weights.h5, stored)."""
    path = os.fspath(filepath)
    check_model(model)
    config = json.dumps(ConfigWriter().entry(model))
    meta = {"keras_version": KERAS_VERSION, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
            "saved_by": f"kir {__version__}"}
    kir_extras = extras.collect(model)
    if kir_extras:  # Keras never reads metadata.json back: kir's input dim names travel there
        meta[extras.METADATA_KEY] = kir_extras
    metadata = json.dumps(meta)
    with atomic_file(path, f"model '{model.name}'", overwrite) as handle, zipfile.ZipFile(handle, "w") as zf:
        weights = io.BytesIO()
        _weights_h5(model, weights)
        zf.writestr(METADATA, metadata)
        zf.writestr(CONFIG, config)
        zf.writestr(WEIGHTS, weights.getvalue())


def save_weights(model: Model, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write the weights in Keras 3's `.weights.h5` layout (what Keras' `load_weights` reads)."""
    path = os.fspath(filepath)
    if not path.endswith(".weights.h5"):
        raise ConfigError(f"save_weights writes Keras 3's weights format, whose file names end in '.weights.h5'; "
                          f"got '{path}' (use model.save('m.kir') or 'm.keras' for a whole model)")
    check_model(model)
    with atomic_file(path, f"the weights of model '{model.name}'", overwrite) as handle:
        _weights_h5(model, handle)
