"""The TensorFlow backend: lowering of every kir op into a tf.function, predict, and the
training engine used by `Model.compile/fit/evaluate` (see kir.training).

TensorFlow is imported when this package is imported, never by `import kir`.
"""

from __future__ import annotations

import numpy as np

from kir.backends.base import Backend
from kir.backends.cache import ArtifactCache
from kir.backends.feeds import run_in_batches
from kir.ir.graph import Graph

try:
    import tensorflow as tf
except ImportError as exc:  # pragma: no cover - depends on the environment
    from kir.errors import MissingDependencyError

    raise MissingDependencyError(
        "the TensorFlow backend needs TensorFlow; install the extra: pip install 'kir[tf]'"
    ) from exc

from kir.backends.tensorflow.program import Program  # noqa: E402
from kir.backends.tensorflow.table import LOWERINGS  # noqa: E402


class TensorFlowBackend(Backend):
    """Runs graphs with TensorFlow: predict here, training programs for kir.training. One
    Program per graph structure and trainable set, synced with the graph's weights on each use."""

    name = "tensorflow"

    def __init__(self) -> None:
        self.programs: ArtifactCache[Program] = ArtifactCache(maxsize=32)

    def program(self, graph: Graph) -> Program:
        """The cached program of `graph` (made on first use), holding the graph's current weights."""
        key = (graph.structure_key(), graph.store.trainable_keys(), frozenset(graph.attrs.get("frozen_layers", ())))
        prog = self.programs.get(key, lambda: Program(graph))
        prog.sync(graph.store)
        return prog

    def predict(self, graph: Graph, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        """Graph outputs computed by the TensorFlow program (inference mode), batch by batch."""
        prog = self.program(graph)
        fn = prog.cache.get("predict")
        if fn is None:
            fn = tf.function(lambda xs: prog.forward(xs, training=False), reduce_retracing=True, autograph=False)
            prog.cache["predict"] = fn
        if inputs and inputs[0].shape[0] == 0:
            return [np.zeros((0, *s.shape[1:]), s.dtype) for s in (graph.spec(r) for r in graph.outputs)]
        return run_in_batches(lambda xs: [o.numpy() for o in fn([tf.convert_to_tensor(x) for x in xs])],
                              inputs, batch_size or 32)


__all__ = ["LOWERINGS", "Program", "TensorFlowBackend"]
