"""The TensorFlow backend: lowering of every kir op into a tf.function, predict, and the
training engine used by `Model.compile/fit/evaluate` (see kir.training).

TensorFlow is imported when this package is imported, never by `import kir`.
"""

from __future__ import annotations

import numpy as np

from kir import mixed_precision
from kir.backends.base import Backend
from kir.backends.cache import ArtifactCache
from kir.backends.feeds import check_ids, run_in_batches
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
        prog = self._program(graph)
        if not prog.in_sync(graph.store):
            with prog.guard.write():
                prog.sync(graph.store)
        return prog

    def _program(self, graph: Graph) -> Program:
        key = (graph.structure_key(), graph.store.trainable_keys(), frozenset(graph.attrs.get("frozen_layers", ())))
        return self.programs.get(key, lambda: Program(graph))

    def predict(self, graph: Graph, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        """Graph outputs computed by the TensorFlow program (inference mode), batch by batch."""
        prog = self._program(graph)
        # under a mixed precision policy the layers compute in its compute dtype (as Keras' predict);
        # the outputs come back as the graph's output dtypes (float32)
        compute = mixed_precision.global_policy().compute_dtype
        fn = prog.cache.get(("predict", compute))
        if fn is None:
            out_dtypes = [graph.spec(r).dtype for r in graph.outputs]

            def forward(xs, _compute=compute):
                outs = prog.forward(xs, training=False, compute_dtype=_compute)
                return [tf.cast(o, d) if o.dtype != d and o.dtype.is_floating else o
                        for o, d in zip(outs, out_dtypes)]

            fn = tf.function(forward, reduce_retracing=True, autograph=False)
            prog.cache[("predict", compute)] = fn
        check_ids(id_bounds(prog), inputs, graph.name)
        if inputs and inputs[0].shape[0] == 0:
            return [np.zeros((0, *s.shape[1:]), s.dtype) for s in (graph.spec(r) for r in graph.outputs)]

        def run() -> list[np.ndarray]:
            return run_in_batches(lambda xs: [o.numpy() for o in fn([tf.convert_to_tensor(x) for x in xs])],
                                  inputs, batch_size or 32)

        # graphs of one structure share the program's variables: run on this graph's weights only
        with prog.guard.read():
            if prog.in_sync(graph.store):
                return run()
        with prog.guard.write():
            prog.sync(graph.store)
            return run()


def id_bounds(prog: Program) -> list[tuple[int, str, int]]:
    """(input index, input name, Embedding input_dim) for inputs holding token ids, cached per
    program: tf.gather would raise a raw InvalidArgumentError on an id out of range."""
    bounds = prog.cache.get("id_bounds")
    if bounds is None:
        from kir.backends.onnx.export import embedding_id_bounds

        graph = prog.graph
        bounds = prog.cache["id_bounds"] = [(i, graph.vertex(graph.inputs[i]).name, n)
                                            for i, n in embedding_id_bounds(graph).items()]
    return bounds


__all__ = ["LOWERINGS", "Program", "TensorFlowBackend", "id_bounds"]
