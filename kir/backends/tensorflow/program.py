"""A model lowered to TensorFlow: one tf.Variable per parameter key and a forward function.

The program is built once per model structure and cached on the model, so repeated fit /
predict calls reuse the variables and the traced functions. Values flow both ways: layer
weights changed by the user (`set_weights`) are pushed into the variables before each use,
and trained values are written back into the layers after training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

import kir.backends.tensorflow.lowerings  # noqa: F401  (registers every lowering)
from kir.backends.tensorflow.context import LoweringContext
from kir.backends.tensorflow.table import LOWERINGS
from kir.ir.graph import Graph

if TYPE_CHECKING:
    from kir.layers.base import Layer
    from kir.models.functional import Model

_ATTR = "_kir_tf_program"


def effective_trainable(model: Model) -> dict[int, bool]:
    """id(layer) -> trainable, where a non-trainable model freezes everything inside it."""
    out: dict[int, bool] = {}

    def walk(layer: Layer, parent: bool) -> None:
        eff = parent and bool(layer.trainable)
        out[id(layer)] = out.get(id(layer), False) or eff
        for sub in layer.sublayers():
            walk(sub, eff)

    walk(model, True)
    return out


class Program:
    """TensorFlow variables and forward pass for one model graph."""

    def __init__(self, model: Model) -> None:
        graph = model.to_graph()
        self.graph: Graph = graph
        self.signature = graph.dump()
        self.input_specs = [graph.vertex(v).outputs[0] for v in graph.inputs]
        layer_trainable = effective_trainable(model)
        self.keys: list[str] = graph.param_keys()
        self.owners: dict[str, tuple[Layer, str]] = {}
        self.variables: dict[str, tf.Variable] = {}
        self.trainable_keys: list[str] = []
        self._synced: dict[str, Any] = {}
        self._layer_trainable: dict[str, bool] = {}
        for key in self.keys:
            owner = graph.store.owner(key)
            value = graph.store[key]
            trainable = True
            if owner is not None:
                layer, weight = owner
                self.owners[key] = owner
                self._layer_trainable[layer.name] = layer_trainable.get(id(layer), True)
                trainable = layer_trainable.get(id(layer), True) and layer._trainable_weight.get(weight, True)
                self._synced[key] = layer.get_weight(weight)
            var = tf.Variable(np.asarray(value), name=key.replace("/", "_").replace(":", "_"),
                              trainable=trainable)
            self.variables[key] = var
            if trainable:
                self.trainable_keys.append(key)
        self.trainable_variables = [self.variables[k] for k in self.trainable_keys]
        self.non_trainable_variables = [v for k, v in self.variables.items() if k not in self.trainable_keys]
        self.step_seed = tf.Variable(0, dtype="int64", trainable=False, name="dropout_step")
        self.cache: dict[str, Any] = {}  # traced functions keyed by purpose

    # ------------------------------------------------------------------ weights
    def sync_from_layers(self) -> None:
        """Push layer weights the user changed since the last sync into the variables."""
        for key, (layer, weight) in self.owners.items():
            current = layer.get_weight(weight)
            if current is not self._synced.get(key):
                self.variables[key].assign(np.asarray(current, dtype=self.variables[key].dtype.as_numpy_dtype))
                self._synced[key] = current

    def write_back(self) -> None:
        """Copy the variables' values into the owning layers' numpy weights."""
        for key, (layer, weight) in self.owners.items():
            value = self.variables[key].numpy()
            if self._synced.get(key) is not None and np.array_equal(value, self._synced[key]):
                continue
            layer.assign_weight(weight, value)
            self._synced[key] = layer.get_weight(weight)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: list, training: bool) -> list:
        """Graph outputs for input tensors (in graph input order), traced into TF ops."""
        ctx = LoweringContext(training=training, step_seed=self.step_seed if training else None)
        feeds = [tf.cast(x, spec.dtype) if x.dtype != spec.dtype else x
                 for x, spec in zip(inputs, self.input_specs)]
        return self._run(self.graph, feeds, ctx, "")

    def _run(self, graph: Graph, inputs: list, ctx: LoweringContext, prefix: str) -> list:
        values: dict[int, list] = {vid: [x] for vid, x in zip(graph.inputs, inputs)}
        for vid in graph.topological_order():
            if vid in values:
                continue
            v = graph.vertex(vid)
            args = [values[src][i] for src, i in graph.input_refs(vid)]
            if v.op == "Call":
                out = self._run(v.subgraph, args, ctx, f"{prefix}{v.name}/")
            elif v.op == "TimeDistributed":
                x = args[0]
                dyn = tf.shape(x)
                flat = tf.reshape(x, tf.concat([[-1], dyn[2:]], 0))
                outs = self._run(v.subgraph, [flat], ctx, f"{prefix}{v.name}/")
                out = [tf.reshape(o, tf.concat([dyn[:2], tf.shape(o)[1:]], 0)) for o in outs]
                out = [tf.ensure_shape(o, spec.shape) for o, spec in zip(out, v.outputs)]
            else:
                fn = LOWERINGS.lookup(v.op, v.layer)
                params = {role: self.variables[key] for role, key in v.params.items()}
                ctx.vertex, ctx.path = v, f"{prefix}{v.name}"
                ctx.layer_trainable = self._layer_trainable.get(v.layer, True)
                out = fn(ctx, v.attrs, args, params)
            values[vid] = list(out)
        return [values[vid][i] for vid, i in graph.outputs]


def program_for(model: Model) -> Program:
    """The model's cached program, rebuilt only if the graph structure changed; synced weights."""
    prog: Program | None = model.__dict__.get(_ATTR)
    if prog is None or prog.signature != model.to_graph().dump():
        prog = Program(model)
        model.__dict__[_ATTR] = prog
    else:
        prog.sync_from_layers()
    return prog
