"""ONNX lowerings, one module per op family; importing this package registers them all."""

from kir.backends.onnx.lowerings import (  # noqa: F401
    activations,
    conv,
    core,
    merge,
    nested,
    normalization,
    pooling,
    recurrent,
)
