"""The TensorFlow backend: lowering of every kir op into a tf.function, predict, and the
training engine used by `Model.compile/fit/evaluate` (see kir.training).

TensorFlow is imported when this package is imported, never by `import kir`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kir.backends.base import Backend

try:
    import tensorflow  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    from kir.errors import MissingDependencyError

    raise MissingDependencyError(
        "the TensorFlow backend needs TensorFlow; install the extra: pip install 'kir[tf]'"
    ) from exc

from kir.backends.tensorflow.program import Program, program_for  # noqa: E402
from kir.backends.tensorflow.table import LOWERINGS  # noqa: E402

if TYPE_CHECKING:
    from kir.models.functional import Model


class TensorFlowBackend(Backend):
    """Runs models with TensorFlow (inference here; training through kir.training)."""

    name = "tensorflow"
    pipeline = "training"

    def predict(self, model: Model, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        from kir.training.engine import predict_arrays

        return predict_arrays(model, inputs, batch_size=batch_size or 32)


__all__ = ["LOWERINGS", "Program", "TensorFlowBackend", "program_for"]
