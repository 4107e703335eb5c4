"""One layer's Keras config <-> kir constructor arguments.

A Keras layer maps to the kir class of the same name (kir's layers take Keras' arguments). Keras-only
arguments are sorted three ways: training-only ones (regularizers, constraints, seeds, cuDNN and
replica switches) are dropped, since inference does not see them; ones that change what the layer
computes and kir cannot honour (stateful RNNs, renormalization, quantization, ...) are refused
with the reason; any other unknown argument is dropped when it is off (None/False) and refused when
set. Wrappers (`TimeDistributed`, `Bidirectional`) and models are assembled by `model_config`.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from kir.errors import ConfigError
from kir.layers.base import Layer
from kir.models.keras_files import values

MODEL_CLASSES = ("Functional", "Model", "Sequential")
WRAPPERS = ("TimeDistributed", "Bidirectional")
WRAPPED_KEYS = ("layer", "backward_layer")
NEVER = {
    "Lambda": "it stores Python bytecode, and kir never runs code from a file",
    "TFOpLambda": "it stores a TensorFlow function call, and kir never runs code from a file",
    "SlicingOpLambda": "it stores a TensorFlow function call, and kir never runs code from a file",
}
TRAINING_ONLY = {"seed", "synchronized", "implementation", "renorm_momentum", "renorm_clipping", "fused",
                 "autocast", "lora_alpha"}
REFUSED = {
    "stateful": "kir resets recurrent state at every batch",
    "time_major": "kir's recurrent layers take (batch, time, features)",
    "renorm": "kir's BatchNormalization has no batch renormalization",
    "virtual_batch_size": "kir's BatchNormalization has no ghost batches",
    "adjustment": "kir's BatchNormalization has no adjustment function",
    "rms_scaling": "kir's LayerNormalization has no RMS scaling",
    "quantization_config": "kir does not run quantized layers",
    "lora_rank": "kir does not run LoRA adapters",
    "ragged": "kir has no ragged inputs",
    "sparse": "kir has no sparse inputs",
    "optional": "kir has no optional inputs",
}
_NOT_WRITTEN = {"input_length", "weights", "name", "trainable", "dtype"}
#: Keras layers whose constructor takes only these arguments (no **kwargs, so no `trainable`); their
#: configs are written with these keys only, as Keras writes them.
CLOSED_SIGNATURES = {
    "SpatialDropout1D": frozenset({"rate", "seed", "name", "dtype"}),
    "SpatialDropout2D": frozenset({"rate", "data_format", "seed", "name", "dtype"}),
}


@functools.lru_cache(maxsize=1)
def kir_classes() -> dict[str, type[Layer]]:
    """kir's layer classes by class name (the names Keras configs use)."""
    import kir.layers as layers_module

    return {obj.__name__: obj for obj in vars(layers_module).values()
            if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer
            and obj.__module__.startswith("kir.")}


@functools.cache
def accepted(cls: type[Layer], own: bool = False) -> frozenset[str]:
    """The keyword arguments `cls` takes (its own and its bases'; with `own`, not those only the base
    `Layer` takes, such as `input_shape`)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass is not object and not (own and klass is Layer):
            names.update(p.name for p in inspect.signature(klass.__init__).parameters.values()
                         if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
    return frozenset(names - {"self"})


def unsupported_reason(class_name: str, module: Any, registered_name: Any) -> str | None:
    """Why a Keras class has no kir equivalent, or None if it has one."""
    if class_name in NEVER:
        return NEVER[class_name]
    custom = (isinstance(module, str) and module and not module.startswith("keras")) or \
        registered_name not in (None, class_name) or ">" in class_name
    if custom:
        return f"it is a custom class ({registered_name or module or class_name}) whose code kir does not run"
    if class_name in MODEL_CLASSES or class_name == "InputLayer" or class_name in kir_classes():
        return None
    return "kir has no such layer"


def _is_off(value: Any) -> bool:
    return value is None or value is False or value == 0 or value == {}


def translate(class_name: str, name: str, config: dict[str, Any], flavour: str) -> tuple[dict[str, Any], list[str]]:
    """kir keyword arguments for a Keras layer config, and what kir cannot honour (one line each)."""
    cls = kir_classes()[class_name]
    takes = accepted(cls)
    kwargs: dict[str, Any] = {"name": name}
    problems: list[str] = []
    where = f"layer '{name}' ({class_name})"
    for key, value in config.items():
        if key in ("name", "trainable") or key in WRAPPED_KEYS:
            continue
        if key == "dtype":
            try:
                dtype = values.layer_dtype(value)
            except ConfigError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if dtype not in (None, "float32"):
                problems.append(f"{where}: dtype policy '{dtype}'; kir computes in float32")
        elif key in ("batch_input_shape", "batch_shape"):
            if value is not None:
                kwargs["batch_input_shape"] = value
        elif key in REFUSED:
            if not _is_off(value):
                problems.append(f"{where}: {key}={value!r:.60} is not supported ({REFUSED[key]})")
        elif key.endswith("_regularizer"):
            decoded = values.decode_regularizer(value)
            if decoded is not None and key in takes:
                kwargs[key] = decoded
        elif key.endswith("_constraint"):
            decoded = values.decode_constraint(value)
            if decoded is not None and key in takes:
                kwargs[key] = decoded
        elif key in TRAINING_ONLY or (key == "use_cudnn" and key not in takes):
            continue  # LSTM/GRU take use_cudnn (their TensorFlow kernel choice); other layers ignore it
        elif key.endswith("_initializer"):
            decoded = values.decode_initializer(value)
            if decoded is not None and key in takes:
                kwargs[key] = decoded
        elif key in ("activation", "recurrent_activation") and key in takes:
            try:
                kwargs[key] = values.decode_activation(value, flavour)
            except ConfigError as exc:
                problems.append(f"{where}: {exc}")
        elif key in takes:
            if _too_large(value):
                problems.append(f"{where}: {key}={value!r:.60} is implausibly large; refusing the file")
            kwargs[key] = value
        elif not _is_off(value):
            problems.append(f"{where}: argument {key}={value!r:.60} has no kir equivalent")
    _adjust(class_name, kwargs, problems, where)
    return kwargs, problems


def _too_large(value: Any) -> bool:
    """An integer argument over 2**31 (a size no real layer has) anywhere in `value`."""
    if isinstance(value, list):
        return any(_too_large(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2 ** 31


def _adjust(class_name: str, kwargs: dict[str, Any], problems: list[str], where: str) -> None:
    """Where a Keras version writes an argument in a form kir's constructor does not take."""
    axis = kwargs.get("axis")
    if class_name == "BatchNormalization" and isinstance(axis, list):
        if len(axis) == 1:
            kwargs["axis"] = axis[0]
        else:
            problems.append(f"{where}: normalizing over several axes {axis} is not supported")
    groups = kwargs.get("groups", 1)
    if groups != 1:
        problems.append(f"{where}: groups={groups!r:.20} is not supported (kir convolves with groups=1)")


# --------------------------------------------------------------------------- kir -> Keras
def keras_config(layer: Layer) -> dict[str, Any]:
    """Keras 3's config for a plain kir layer (wrappers add their `layer` entries themselves): each
    argument as the layer resolved it, else as given, else left to Keras' default. Initializers,
    regularizers and constraints are written as given (their defaults are Keras')."""
    explicit = layer.get_config()
    config: dict[str, Any] = {"name": layer.name, "trainable": bool(layer.trainable),
                              "dtype": values.encode_policy(layer.dtype or "float32")}
    for key in sorted(accepted(type(layer), own=True) - _NOT_WRITTEN - set(WRAPPED_KEYS)):
        # a Layer property of the same name (MultiHeadAttention's `output_shape` argument) is not the argument
        attribute = None if isinstance(getattr(type(layer), key, None), property) else getattr(layer, key, None)
        is_object = key.endswith(("_initializer", "_regularizer", "_constraint"))
        if not is_object and isinstance(attribute, (str, int, float, list, tuple)):
            value = attribute
        elif key in explicit:
            value = values.encode_object(key, explicit[key]) if is_object else explicit[key]
        else:
            continue
        value = values.plain(value)
        if not _jsonable(value):
            raise ConfigError(f"layer '{layer.name}': argument {key}={value!r:.60} cannot be written to a Keras file")
        config[key] = value
    closed = CLOSED_SIGNATURES.get(type(layer).__name__)
    return config if closed is None else {k: v for k, v in config.items() if k in closed}


def _jsonable(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False
