"""kir-only facts a Keras file carries where Keras ignores them: the names of dynamic input dims.

Keras 3's `InputLayer` takes no `dim_names` (an unknown config key makes `keras.saving.load_model`
fail), so `Input(..., dim_names=("seq", None))` is kept outside the model config: under the key
`"kir"` of a `.keras` archive's `metadata.json` (Keras writes that file but never reads it back) and
in the root attribute `kir_extras` of a legacy `.h5` file (Keras reads only the attributes it
knows). Both hold the same JSON object, `{"dim_names": {"<input layer name>": ["seq", null], ...}}`,
for the saved model's own inputs.
"""

from __future__ import annotations

import json
from typing import Any

from kir.errors import LoadError
from kir.layers.input_layer import InputLayer
from kir.models.functional import Model

METADATA_KEY = "kir"
"""The key of kir's extras in a `.keras` archive's metadata.json."""
H5_ATTR = "kir_extras"
"""The root attribute of kir's extras in a legacy `.h5` file."""


def collect(model: Model) -> dict[str, Any]:
    """The extras of `model` ({} when it has none, so plain models write exactly what Keras writes)."""
    names = {}
    for tensor in model.inputs:
        layer = tensor.node.layer
        if isinstance(layer, InputLayer) and layer.dim_names is not None:
            names[layer.name] = list(layer.dim_names)
    return {"dim_names": names} if names else {}


def to_json(extras: dict[str, Any]) -> str:
    return json.dumps(extras)


def dim_names(extras: Any, where: str) -> dict[str, list[str | None]]:
    """The input dim names recorded in `extras` (parsed JSON), checked for shape; their values are
    checked by `InputLayer` when the model is rebuilt."""
    if extras is None:
        return {}
    if not isinstance(extras, dict):
        raise LoadError(f"{where}: kir's extras must be a JSON object, got {str(extras)[:60]!r}")
    found = extras.get("dim_names", {})
    if not isinstance(found, dict) or not all(isinstance(v, list) for v in found.values()):
        raise LoadError(f"{where}: 'dim_names' must map input names to lists of names, got {str(found)[:80]!r}")
    return found
