"""kir: a graph IR for Keras-style models, with numpy (reference), ONNX and TensorFlow backends.

`import kir` stays light: TensorFlow and onnxruntime are imported only when a backend needs them.
"""

from kir import activations, errors, initializers, layers, models, utils
from kir.errors import KirError
from kir.layers import Input
from kir.models import Model, Sequential, load_model
from kir.version import __version__  # noqa: E402


def __getattr__(name: str):
    """Lazy submodules that may pull in heavier code (training, backends)."""
    import importlib

    if name in {"backend", "backends", "losses", "optimizers", "metrics", "callbacks", "passes", "ir",
                "regularizers", "constraints", "mixed_precision"}:
        return importlib.import_module(f"kir.{name}")
    raise AttributeError(f"module 'kir' has no attribute '{name}'")


__all__ = ["Input", "KirError", "Model", "Sequential", "activations", "errors", "initializers", "layers",
           "load_model", "models", "utils", "__version__"]
