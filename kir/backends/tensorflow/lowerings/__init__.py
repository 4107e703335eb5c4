"""TensorFlow lowerings, one module per op family; importing this package registers them all."""

from kir.backends.tensorflow.lowerings import (  # noqa: F401
    activations,
    conv,
    core,
    merge,
    normalization,
    pooling,
    recurrent,
)
