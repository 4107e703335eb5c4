"""Loading Keras files: `.keras` archives, legacy full-model `.h5` files, and weights files.

Only `json`, `zipfile` and `h5py` touch the file (never TensorFlow or Keras); every problem becomes
one `LoadError` that names the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from kir.errors import KirError, LoadError
from kir.layers.base import Layer
from kir.layers.budget import weight_budget
from kir.models.functional import Model
from kir.models.keras_files import extras, layout, safety, values
from kir.models.keras_files.model_config import ConfigReader, UnsupportedLayersError

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
METADATA = "metadata.json"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
WEIGHT_MARGIN_BYTES = 1 << 20
"""Bytes of weights building a model may create beyond what the file's datasets declare."""


def sniff(path: str) -> str:
    """'zip', 'hdf5' or 'unknown' from the first bytes (HDF5 may sit after a 512*2^k user block)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if head.startswith(b"PK"):
            return "zip"
        offset = 512
        while head != HDF5_SIGNATURE and offset <= 1 << 20:
            f.seek(offset)
            head, offset = f.read(8), offset * 2
    return "hdf5" if head == HDF5_SIGNATURE else "unknown"


_FAILURES = (KirError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, MemoryError, OSError, ValueError,
             TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError, RuntimeError,
             zlib.error, NotImplementedError)


def _reason(exc: BaseException) -> str:
    """What a failure while reading says about the file."""
    if isinstance(exc, KirError):
        return str(exc)
    if isinstance(exc, (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error)):
        return f"not a valid zip archive; it may be truncated or corrupt ({exc})"
    if isinstance(exc, MemoryError):
        return "the model it describes does not fit in memory"
    if isinstance(exc, RecursionError):
        return "the model nests too deeply to rebuild"
    if isinstance(exc, NotImplementedError):
        return f"it uses a zip or HDF5 feature kir does not read ({exc})"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}; the file may be truncated or not HDF5"
    return f"the file is invalid ({type(exc).__name__}: {exc})"


def guarded(path: str, action: Callable[[], Any]) -> Any:
    """Run `action`, turning every failure on a bad file into one LoadError naming `path`."""
    try:
        return action()
    except _FAILURES as exc:
        message = f"cannot load '{path}': {_reason(exc)}"
        if isinstance(exc, UnsupportedLayersError):
            raise UnsupportedLayersError(message, exc.layers) from None
        raise LoadError(message) from None


# --------------------------------------------------------------------------- archives and HDF5 files
@contextlib.contextmanager
def _archive_weights(zf: zipfile.ZipFile) -> Iterator[Any]:
    """The archive's `model.weights.h5`, copied to an anonymous temp file and opened with h5py."""
    h5py = safety.h5py_module()
    with tempfile.TemporaryFile() as tmp:
        safety.copy_member(zf, WEIGHTS, safety.MAX_WEIGHTS_BYTES, tmp)
        with h5py.File(tmp, "r") as h5:
            yield h5


@contextlib.contextmanager
def open_archive(path: str) -> Iterator[tuple[Any, str, Callable[[], Any], dict[str, list]]]:
    """(parsed config.json, flavour, opener of the weights file, kir's input dim names from
    metadata.json) of a `.keras` archive."""
    with zipfile.ZipFile(path) as zf:
        names = {info.filename for info in safety.check_member_names(zf)}
        if CONFIG not in names:
            raise LoadError(f"the archive has no '{CONFIG}'; it is not a Keras model file")
        if WEIGHTS not in names:
            other = sorted(n for n in names if n.startswith("model.weights"))
            raise LoadError(f"the archive has no '{WEIGHTS}'" + (f" (it has {', '.join(other)}: sharded or npz "
                                                                 f"weights are not supported)" if other else ""))
        config = safety.parse_json(safety.read_member(zf, CONFIG, safety.json_bytes_limit()), CONFIG)
        metadata = {}
        if METADATA in names:
            metadata = safety.parse_json(safety.read_member(zf, METADATA, safety.MAX_METADATA_BYTES), METADATA)
        version = str(metadata.get("keras_version", "3")) if isinstance(metadata, dict) else "3"
        flavour = values.KERAS2 if version.startswith(("1.", "2.")) else values.KERAS3
        kir_extras = metadata.get(extras.METADATA_KEY) if isinstance(metadata, dict) else None
        yield config, flavour, lambda: _archive_weights(zf), extras.dim_names(kir_extras, METADATA)


@contextlib.contextmanager
def open_hdf5(path: str) -> Iterator[Any]:
    h5py = safety.h5py_module()
    with h5py.File(path, "r") as h5:
        yield h5


def _h5_flavour(h5: Any) -> str:
    version = safety.optional_text_attr(h5, "keras_version") or "2"
    return values.KERAS3 if version.startswith("3") else values.KERAS2


# --------------------------------------------------------------------------- models
def _build(config: Any, flavour: str, dim_names: dict[str, list] | None = None) -> tuple[Model, ConfigReader]:
    reader = ConfigReader(flavour, dim_names)
    return reader.read(config), reader


def _top_level_pairs(model: Model, reader: ConfigReader) -> list[tuple[str, layout.Node]]:
    members = reader.orders.get(id(model), model.layers)
    return [(layer.name, layout.tree(layer, reader.orders)) for layer in members if layer.get_weights()]


def _budget(group: Any) -> Any:
    """Building the model may allocate no more weights than the file's datasets declare (plus a margin)."""
    return weight_budget(safety.declared_weight_bytes(group) + WEIGHT_MARGIN_BYTES, "the file")


def load_archive(path: str) -> Model:
    def action() -> Model:
        with open_archive(path) as (config, flavour, weights, dim_names), weights() as h5:
            with _budget(h5):
                model, reader = _build(config, flavour, dim_names)
            layout.assign(layout.read_layout(h5, layout.tree(model, reader.orders), WEIGHTS))
        return model

    return guarded(path, action)


def load_hdf5(path: str) -> Model:
    def action() -> Model:
        with open_hdf5(path) as h5:
            if "model_config" not in h5.attrs:
                hint = " (it holds only weights: build the model, then call model.load_weights)" \
                    if "layer_names" in h5.attrs or safety.has_child(h5, "layers") else ""
                raise LoadError(f"the HDF5 file has no model_config{hint}")
            config = safety.parse_json(safety.text_attr(h5, "model_config", "the file"), "model_config")
            weights = safety.child(h5, "model_weights", "group", "the file")
            dim_names = {}
            if extras.H5_ATTR in h5.attrs:
                raw = safety.text_attr(h5, extras.H5_ATTR, "the file")
                dim_names = extras.dim_names(safety.parse_json(raw, extras.H5_ATTR), extras.H5_ATTR)
            with _budget(weights):
                model, reader = _build(config, _h5_flavour(h5), dim_names)
            layout.assign(layout.read_legacy(weights, _top_level_pairs(model, reader), "model_weights"))
        return model

    return guarded(path, action)


def load(path: str) -> Model:
    """A kir model from a `.keras` archive or a legacy `.h5` file."""
    safety.check_regular_file(path)
    kind = sniff(path)
    if kind == "zip":
        return load_archive(path)
    if kind == "hdf5":
        return load_hdf5(path)
    raise LoadError(f"cannot load '{path}': it is neither a zip archive (.kir, .keras) nor an HDF5 file (.h5)")


def read_model_config(path: str) -> Any:
    """The parsed model config of a `.keras` archive or legacy `.h5` file (nothing is built)."""
    def action() -> Any:
        if sniff(path) == "zip":
            with open_archive(path) as (config, _, _, _):
                return config
        with open_hdf5(path) as h5:
            return safety.parse_json(safety.text_attr(h5, "model_config", "the file"), "model_config")

    return guarded(path, action)


# --------------------------------------------------------------------------- weights into a model
def _legacy_into(model: Model, h5: Any, source: str) -> list:
    """Keras' legacy rule: layers with weights, in order, against the file's layers with weights."""
    group = safety.child(h5, "model_weights", "group", source) if safety.has_child(h5, "model_weights") else h5
    stored = [name for name in layout.legacy_layer_names(group, source)
              if safety.text_list_attr(safety.child(group, name, "group", source), "weight_names", source)]
    mine = [layer for layer in model.layers if layer.get_weights()]
    if len(stored) != len(mine):
        raise LoadError(f"the file has weights for {len(stored)} layer(s) ({', '.join(stored[:8])}) but model "
                        f"'{model.name}' has {len(mine)} layer(s) with weights ({', '.join(m.name for m in mine[:8])})")
    return layout.read_legacy(group, [(name, layout.tree(layer)) for name, layer in zip(stored, mine)], source)


def load_weights(model: Model, filepath: str | os.PathLike) -> None:
    """Keras' `load_weights`: a `.weights.h5` file (Keras 3 layout, or legacy by layer order), or the
    weights of a `.keras` archive. Nothing is assigned unless every weight was read."""
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise LoadError(f"cannot load weights from '{path}': no such file")
    safety.check_regular_file(path)
    _require_built(model)

    def action() -> None:
        kind = sniff(path)
        if kind == "zip":
            with open_archive(path) as (_, _, weights, _), weights() as h5:
                found = layout.read_layout(h5, layout.tree(model), WEIGHTS)
        elif kind == "hdf5":
            with open_hdf5(path) as h5:
                legacy = "layer_names" in h5.attrs or safety.has_child(h5, "model_weights")
                found = _legacy_into(model, h5, "the file") if legacy else \
                    layout.read_layout(h5, layout.tree(model), "the file")
        else:
            raise LoadError("it is neither a Keras weights file (.weights.h5) nor a .keras archive")
        layout.assign(found)

    guarded(path, action)


def _require_built(model: Layer) -> None:
    if isinstance(model, Model) and not model.inputs:
        raise LoadError(f"model '{model.name}' is not built yet; call it on data (or give it an input shape) "
                        f"before loading weights")
