"""Keras activation names kir understands. Each backend implements every name in NAMES."""

from __future__ import annotations

from kir.errors import ConfigError, unknown_name

NAMES = (
    "linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "log_softmax", "tanh",
    "elu", "selu", "softplus", "softsign", "exponential", "swish", "silu", "gelu",
    "leaky_relu", "mish", "hard_silu", "hard_swish", "log_sigmoid", "hard_tanh", "celu", "tanh_shrink",
    "squareplus", "sparse_plus", "soft_shrink", "hard_shrink",
)

ALIASES = {None: "linear", "": "linear", "silu": "swish", "hard_swish": "hard_silu"}


def get(activation: object, layer: str | None = None) -> str:
    """The canonical activation name for a Keras-style `activation=` argument."""
    if activation is None:
        return "linear"
    if callable(activation):
        name = getattr(activation, "__name__", None)
        if name in NAMES:
            return ALIASES.get(name, name)
        where = f" for layer '{layer}'" if layer else ""
        raise ConfigError(
            f"activation {activation!r}{where} is a Python function; kir lowers activations to "
            f"ONNX and TensorFlow by name, so pass one of: {', '.join(NAMES)}"
        )
    if not isinstance(activation, str) or activation not in NAMES + ("",):
        raise unknown_name("activation", activation, NAMES)
    return ALIASES.get(activation, activation)
