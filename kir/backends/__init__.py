"""Execution backends, resolved by name: built-ins plus the `kir.backends` entry-point group.

A third party adds a backend by declaring, in its own package metadata,
`[project.entry-points."kir.backends"] mybackend = "mypkg.module:MyBackend"`, where the object is
a `kir.backends.base.Backend` subclass or instance. `kir.backends.get('mybackend')` then finds it
and `model.predict(x, backend='mybackend')` uses it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from kir.backends.base import Backend
from kir.errors import ConfigError, did_you_mean

BUILTIN = {
    "numpy": "kir.backends.numpy:NumpyBackend",
    "onnx": "kir.backends.onnx:OnnxBackend",
    "tensorflow": "kir.backends.tensorflow:TensorFlowBackend",
}
ALIASES = {"np": "numpy", "tf": "tensorflow", "onnxruntime": "onnx", "ort": "onnx"}
GROUP = "kir.backends"

_instances: dict[str, Backend] = {}


def available() -> list[str]:
    """Names of the built-in backends and those registered as entry points."""
    return sorted(set(BUILTIN) | {ep.name for ep in entry_points(group=GROUP)})


def _load(target: str) -> object:
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def get(name: str | Backend) -> Backend:
    """The backend called `name` (one instance per name)."""
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"backend must be a name like 'numpy', 'onnx' or 'tensorflow', got {name!r}")
    key = ALIASES.get(name, name)
    if key in _instances:
        return _instances[key]
    if key in BUILTIN:
        obj = _load(BUILTIN[key])
    else:
        found = [ep for ep in entry_points(group=GROUP) if ep.name == key]
        if not found:
            raise ConfigError(f"unknown backend '{name}'.{did_you_mean(name, available())} "
                              f"Available: {', '.join(available())}")
        obj = found[0].load()
    backend = obj() if isinstance(obj, type) else obj
    if not isinstance(backend, Backend):
        raise ConfigError(f"backend '{name}' resolved to {backend!r}, which is not a kir.backends.base.Backend")
    _instances[key] = backend
    return backend


__all__ = ["Backend", "available", "get", "GROUP"]
