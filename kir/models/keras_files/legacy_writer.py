"""Writing Keras' legacy HDF5 format: `model.save("m.h5")` / `model.save("m.hdf5")`.

The file is what Keras 3's `legacy_h5_format.save_model_to_hdf5` writes, so `keras.saving.load_model`
opens it: root attributes `keras_version`, `backend` and `model_config` (the model's config in
Keras' legacy serialization: layer entries without `module`/`registered_name`), and a group
`model_weights` (attributes `layer_names`, `backend`, `keras_version`) with one group per layer
(in name order) whose `weight_names` lists each weight's Keras path (`dense/kernel`,
`lstm/lstm_cell/kernel`) in `trainable + non_trainable` order, each weight a dataset at that path;
then an empty `top_level_model_weights`. A compiled model also gets `training_config`
(training_config.py), so Keras loads it compiled; optimizer state is not written. kir's input dim
names go in the root attribute `kir_extras` (extras.py), which Keras does not read.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from kir.errors import ConfigError
from kir.models.functional import Model
from kir.models.keras_files import extras, layout, safety
from kir.models.keras_files.config_writer import ConfigWriter
from kir.models.keras_files.training_config import Unwritable, training_config
from kir.models.keras_files.writer import KERAS_VERSION, atomic_file, check_model
from kir.models.subclassed import is_subclassed

BACKEND = "tensorflow"
"""The backend named in the file: kir's weights are in TensorFlow's layout (what Keras' TF backend writes)."""
HDF5_OBJECT_HEADER_LIMIT = 64512
"""Bytes an HDF5 attribute may hold; longer name lists are split as Keras splits them (`layer_names0`, ...)."""
LEGACY_WARNING = ("You are saving your model as an HDF5 file via `model.save()` or `keras.saving.save_model(model)`. "
                  "This file format is considered legacy. We recommend using instead the native Keras format, "
                  "e.g. `model.save('my_model.keras')` or `keras.saving.save_model(model, 'my_model.keras')`. ")
"""Keras 3's own warning for `model.save("m.h5")`, word for word."""


def legacy_config(entry: dict[str, Any], listed: bool = True) -> dict[str, Any]:
    """A Keras 3 model entry in Keras' legacy serialization: the model and the layers a model lists
    carry only `class_name` and `config` (plus `name`/`inbound_nodes` inside a Functional); a layer
    a wrapper holds keeps its `module` (Keras serializes it the new way) but a model there lists its
    layers the legacy way."""
    out = {k: v for k, v in entry.items() if not (listed and k in ("module", "registered_name"))}
    config = entry.get("config")
    if not isinstance(config, dict):
        return out
    if entry.get("class_name") in ("Functional", "Sequential"):
        out["config"] = {**config, "layers": [legacy_config(sub) for sub in config.get("layers", [])]}
    elif entry.get("class_name") in ("TimeDistributed", "Bidirectional"):
        out["config"] = {**config, **{key: legacy_config(config[key], listed=False)
                                      for key in ("layer", "backward_layer") if isinstance(config.get(key), dict)}}
    return out


def _refuse_inexpressible(model: Model, path: str) -> None:
    if is_subclassed(model):
        stem = os.path.splitext(os.path.basename(path))[0] or model.name
        raise ConfigError(f"model '{model.name}' is a subclassed model ({type(model).__name__} defines call()); "
                          f"Keras' HDF5 format can only describe Functional and Sequential models. Save it in kir's "
                          f"native format instead: model.save('{stem}.kir')")


def _text_list(group: Any, name: str, items: list[str]) -> None:
    """A list-of-names attribute, split into `<name>0`, `<name>1`, ... when over the header limit, as Keras does."""
    data = [item.encode("utf8") for item in items]
    too_long = [item for item in items if len(item.encode("utf8")) > HDF5_OBJECT_HEADER_LIMIT]
    if too_long:
        raise ConfigError(f"name '{too_long[0][:60]}...' is longer than the {HDF5_OBJECT_HEADER_LIMIT} bytes an HDF5 "
                          f"attribute holds; shorten it or save as '.keras'")
    array = np.asarray(data)
    chunks = 1
    while any(part.nbytes > HDF5_OBJECT_HEADER_LIMIT for part in np.array_split(array, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data
    else:
        for k, part in enumerate(np.array_split(array, chunks)):
            group.attrs[f"{name}{k}"] = part


def _layer_weights(group: Any, layer: Any, paths: dict[tuple[int, str], str]) -> None:
    slots = layout.legacy_order(layout.tree(layer))
    names = [paths[(id(owner), name)] for owner, name in slots]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"layer '{layer.name}' holds two weights at the path {twice[0]}; rename one of its "
                          f"sub-layers, or save as '.keras'")
    _text_list(group, "weight_names", names)
    for (owner, name), path in zip(slots, names):
        group.create_dataset(path, data=np.array(owner.get_weight(name), order="C"))  # 0-d stays 0-d


def _json(value: Any) -> bytes:
    def plain(item: Any) -> Any:
        if isinstance(item, np.generic):
            return item.item()
        raise ConfigError(f"cannot write {item!r:.60} into the HDF5 file's JSON; pass plain values (numbers, "
                          f"strings, lists) to the layer or compile()")

    return json.dumps(value, default=plain).encode("utf8")


def _training_config(model: Model, stacklevel: int) -> bytes | None:
    """The compiled model's training config, or None (with a warning when compiled with what Keras
    cannot rebuild: the file is still written, and Keras loads it uncompiled)."""
    try:
        config = training_config(model)
    except Unwritable as exc:
        warnings.warn(f"model '{model.name}': no training_config written ({exc}); Keras will load the model "
                      f"uncompiled, so compile it again there", UserWarning, stacklevel=stacklevel + 2)
        return None
    return None if config is None else _json(config)


def write_h5(model: Model, handle: Any, training: bytes | None = None) -> None:
    """The legacy HDF5 file of `model`, written into the open binary `handle` (`training`: its
    encoded training config, if any)."""
    h5py = safety.h5py_module()
    config = _json(legacy_config(ConfigWriter().entry(model)))
    with h5py.File(handle, "w") as h5:
        h5.attrs["keras_version"] = KERAS_VERSION
        h5.attrs["backend"] = BACKEND
        h5.attrs["model_config"] = config
        if training is not None:
            h5.attrs["training_config"] = training
        kir_extras = extras.collect(model)
        if kir_extras:
            h5.attrs[extras.H5_ATTR] = extras.to_json(kir_extras).encode("utf8")
        weights = h5.create_group("model_weights")
        _text_list(weights, "layer_names", [layer.name for layer in model.layers])
        weights.attrs["backend"] = BACKEND.encode("utf8")
        weights.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
        paths = layout.legacy_paths(layout.tree(model))
        for layer in sorted(model.layers, key=lambda lay: lay.name):
            _layer_weights(weights.create_group(layer.name), layer, paths)
        _text_list(weights.create_group("top_level_model_weights"), "weight_names", [])


def save_h5(model: Model, filepath: str | os.PathLike, overwrite: bool = True, stacklevel: int = 1) -> None:
    """Write `model` as Keras' legacy `.h5` (atomically: the old file stays until the new one is
    complete), warning as Keras does that the format is legacy (`stacklevel`: as warnings.warn's, counted
    from this function's caller: 1 points the warnings at the caller's line)."""
    path = os.fspath(filepath)
    check_model(model)
    _refuse_inexpressible(model, path)
    warnings.warn(LEGACY_WARNING, UserWarning, stacklevel=stacklevel + 1)
    training = _training_config(model, stacklevel)
    with atomic_file(path, f"model '{model.name}'", overwrite) as handle:
        write_h5(model, handle, training)
