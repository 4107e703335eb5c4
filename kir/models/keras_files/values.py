"""Keras' serialized values (dtype policies, initializers, activations, names) to kir's and back.

Keras 3 writes objects as `{"module", "class_name", "config", "registered_name"}`; tf.keras 2 as
`{"class_name", "config"}` or a plain name. kir keeps names only: an initializer's parameters do not
survive a load (the weights are loaded, so inference does not depend on them).
"""

from __future__ import annotations

import re
from typing import Any

from kir import activations, initializers
from kir.errors import ConfigError

KERAS2 = "keras2"
KERAS3 = "keras3"

_INITIALIZER_CLASSES = {
    "zeros": "Zeros", "ones": "Ones", "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform", "he_normal": "HeNormal", "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal", "orthogonal": "Orthogonal", "random_normal": "RandomNormal",
    "random_uniform": "RandomUniform", "normal": "RandomNormal", "uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal", "variance_scaling": "VarianceScaling", "constant": "Constant",
    "identity": "Identity",
}
_INITIALIZER_NAMES = {cls: name for name, cls in _INITIALIZER_CLASSES.items() if name not in ("normal", "uniform")}


def to_snake_case(name: str) -> str:
    """Keras' `naming.to_snake_case` (weights-file group names: Conv2D -> conv2d, GRU -> gru)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def is_keras_object(value: Any) -> bool:
    return isinstance(value, dict) and "class_name" in value


def policy_name(value: Any) -> Any:
    """'float32' from a dtype string or a DTypePolicy/Policy object (anything else as given)."""
    if is_keras_object(value) and isinstance(value.get("config"), dict):
        return value["config"].get("name", value)
    return value


def decode_initializer(value: Any) -> Any:
    """What kir's layers take for a Keras initializer: the Keras value itself where
    `kir.initializers.get` reads it, else kir's name for it, else None (the layer's default is used
    then: loaded weights overwrite the initial ones)."""
    if is_keras_object(value):
        value = {k: v for k, v in value.items() if k in ("class_name", "config")}
    try:
        initializers.get(value)
        return value
    except (ConfigError, TypeError, ValueError):
        pass
    name = value
    if is_keras_object(value):
        cls = value.get("class_name")
        name = _INITIALIZER_NAMES.get(cls, to_snake_case(cls) if isinstance(cls, str) else None)
    if not isinstance(name, str):
        return None
    try:
        initializers.get(name)
        return name
    except (ConfigError, TypeError, ValueError):
        return None


def decode_regularizer(value: Any) -> Any:
    """Keras' L1 / L2 / L1L2 as the `{"class_name", "config"}` kir's layers take, else None (dropped:
    regularizers only change training)."""
    if not is_keras_object(value) or value.get("class_name") not in ("L1", "L2", "L1L2"):
        return None
    config = value.get("config") or {}
    if not isinstance(config, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in config.values()):
        return None
    return {"class_name": value["class_name"], "config": dict(config)}


def decode_constraint(value: Any) -> Any:
    """Keras' MaxNorm / NonNeg / UnitNorm / MinMaxNorm as the `{"class_name", "config"}` kir's layers
    take (a name such as 'non_neg' as it is), else None (dropped: constraints only change training)."""
    if value in ("max_norm", "non_neg", "unit_norm", "min_max_norm", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"):
        return value
    if not is_keras_object(value) or value.get("class_name") not in ("MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"):
        return None
    config = value.get("config") or {}

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not isinstance(config, dict) or not all(number(v) or (isinstance(v, list) and all(map(number, v)))
                                               for v in config.values()):
        return None
    return {"class_name": value["class_name"], "config": dict(config)}


def encode_initializer(name: str) -> Any:
    """Keras 3's object form of an initializer name (names Keras has no class for stay names)."""
    cls = _INITIALIZER_CLASSES.get(name)
    if cls is None:
        return name
    return {"module": "keras.initializers", "class_name": cls, "config": {}, "registered_name": None}


_OBJECT_MODULES = {"_initializer": "keras.initializers", "_regularizer": "keras.regularizers",
                   "_constraint": "keras.constraints"}


def encode_object(key: str, value: Any) -> Any:
    """Keras 3's object form of an initializer, regularizer or constraint argument given to kir as a
    name or as `{"class_name", "config"}`."""
    if key.endswith("_initializer") and isinstance(value, str):
        return encode_initializer(value)
    if is_keras_object(value):
        module = next(m for suffix, m in _OBJECT_MODULES.items() if key.endswith(suffix))
        return {"module": module, "class_name": value["class_name"], "config": value.get("config") or {},
                "registered_name": None}
    return value


def decode_activation(value: Any, flavour: str) -> str:
    """kir's activation name for a Keras one; a ConfigError for user functions and for Keras 2's
    `hard_sigmoid` (0.2 x + 0.5 there, relu6(x + 3) / 6 in Keras 3 and kir)."""
    name = value
    if is_keras_object(value):
        module = str(value.get("module") or "")
        if value.get("class_name") == "function" and module.startswith("keras") \
                and isinstance(value.get("config"), str):
            name = value["config"]
        else:
            raise ConfigError(f"activation {value.get('class_name')!r} from module {module!r} is user code; kir "
                              f"reads only Keras' named activations")
    if flavour == KERAS2 and name == "hard_sigmoid":
        raise ConfigError("activation 'hard_sigmoid' is 0.2 x + 0.5 in Keras 2 but relu6(x + 3) / 6 in Keras 3 "
                          "and kir; re-save the model with Keras 3")
    return activations.get(name)


def layer_dtype(value: Any) -> str | None:
    """The compute dtype a layer's `dtype` names, or None when the file names none."""
    name = policy_name(value)
    if name is None:
        return None
    if not isinstance(name, str):
        raise ConfigError(f"dtype {value!r:.80} is not a dtype or policy name")
    return name


def encode_policy(dtype: str) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype}, "registered_name": None}


def plain(value: Any) -> Any:
    """A JSON value for a kir constructor argument (tuples as lists, numpy scalars as numbers)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)) and getattr(value, "shape", None) == ():
        return item()
    return value
