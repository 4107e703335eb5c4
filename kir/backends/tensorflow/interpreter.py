"""The TensorFlow forward pass: the graph walked with tf tensors as values, traced into TF ops."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import tensorflow as tf

import kir.backends.tensorflow.lowerings  # noqa: F401  (registers every lowering)
from kir.backends.context import LoweringInterpreter
from kir.backends.tensorflow.context import TensorFlowContext
from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.graph import Graph, Vertex
from kir.ir.spec import TensorSpec

#: ops that compute in float32 under a mixed policy, as Keras' layers do (inputs upcast, output cast
#: back to the compute dtype); BatchNormalization also assigns its moving statistics.
FLOAT32_OPS = frozenset({"BatchNormalization", "LayerNormalization", "SkipLayerNormalization", "Normalization"})


class TensorFlowInterpreter(LoweringInterpreter[tf.Tensor]):
    """Values are tf tensors; parameters are the program's variables (store key -> tf.Variable)."""

    table = LOWERINGS
    ctx: TensorFlowContext

    def __init__(self, ctx: TensorFlowContext, variables: Mapping[str, tf.Variable],
                 frozen_layers: Collection[str] = ()) -> None:
        super().__init__(ctx)
        self.variables = variables
        self.frozen_layers = frozen_layers

    def params(self, graph: Graph, vertex: Vertex) -> dict[str, tf.Variable | tf.Tensor]:
        """The vertex's variables; under a mixed precision policy float32 ones are read cast to the
        compute dtype (Keras' autocast), except for the ops Keras runs in float32 (FLOAT32_OPS)."""
        found = {role: self.variables[key] for role, key in vertex.params.items()}
        dtype = self.ctx.compute_dtype
        if dtype == "float32" or vertex.op in FLOAT32_OPS:
            return found
        return {role: tf.cast(v, dtype) if v.dtype == tf.float32 else v for role, v in found.items()}

    def run_op(self, graph: Graph, vid: int | None, vertex: Vertex, args: list[tf.Tensor]) -> list[tf.Tensor]:
        self.ctx.layer_trainable = vertex.layer not in self.frozen_layers
        return super().run_op(graph, vid, vertex, args)

    def fold_time(self, vertex: Vertex, x: tf.Tensor) -> tf.Tensor:
        return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))

    def unfold_time(self, vertex: Vertex, x: tf.Tensor, out: tf.Tensor, spec: TensorSpec | None) -> tf.Tensor:
        out = tf.reshape(out, tf.concat([tf.shape(x)[:2], tf.shape(out)[1:]], 0))
        return out if spec is None else tf.ensure_shape(out, spec.shape)
