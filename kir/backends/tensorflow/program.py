"""A graph lowered to TensorFlow: one tf.Variable per parameter key and a forward function.

A program is made per graph structure and trainable set (kir.backends.tensorflow keeps them in
its ArtifactCache), so repeated fit / predict calls reuse the variables and the traced
functions. Values flow both ways through the graph's ParamStore: arrays that changed since the
last use (`set_weights` rebuilt the graph) are pushed into the variables by `sync`, and
`write_back` hands trained values to the store, whose owners (the layers) keep them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from kir.backends.tensorflow.context import TensorFlowContext
from kir.backends.tensorflow.interpreter import TensorFlowInterpreter
from kir.ir.graph import Graph
from kir.ir.params import WEIGHTS_LOCK, ParamStore, ReadWriteLock


class Program:
    """TensorFlow variables and forward pass for one graph; what trains is what the graph's
    store says was trainable when the graph was built."""

    def __init__(self, graph: Graph) -> None:
        store = graph.store
        self.graph = graph
        self.input_specs = [graph.vertex(v).outputs[0] for v in graph.inputs]
        self.frozen_layers = frozenset(graph.attrs.get("frozen_layers", ()))
        self.keys: list[str] = graph.param_keys()
        self.variables: dict[str, tf.Variable] = {}
        self._synced: dict[str, np.ndarray] = {}
        for key in self.keys:
            value = store[key]
            self.variables[key] = tf.Variable(np.asarray(value), name=key.replace("/", "_").replace(":", "_"),
                                              trainable=store.is_trainable(key))
            self._synced[key] = value
        self.trainable_keys = [k for k in self.keys if store.is_trainable(k)]
        self.trainable_variables = [self.variables[k] for k in self.trainable_keys]
        self.step_seed = tf.Variable(0, dtype="int64", trainable=False, name="dropout_step")
        self.cache: dict[Any, Any] = {}  # traced functions and engines, keyed by purpose
        self.guard = ReadWriteLock()
        """Predict runs under `guard.read()`, `sync` under `guard.write()`: graphs of one structure
        share these variables, so a run never sees another graph's weights half pushed in."""

    # ------------------------------------------------------------------ weights
    def in_sync(self, store: ParamStore) -> bool:
        """Whether the variables hold exactly `store`'s arrays."""
        return all(store[key] is self._synced[key] for key in self.keys)

    def sync(self, store: ParamStore) -> None:
        """Push the store's arrays that changed since the last sync into the variables."""
        for key in self.keys:
            current = store[key]
            if current is not self._synced[key]:
                var = self.variables[key]
                var.assign(np.asarray(current, dtype=var.dtype.as_numpy_dtype))
                self._synced[key] = current

    def write_back(self, store: ParamStore) -> None:
        """Hand the variables' trained values to the store (and so to their owners), all at once
        for a concurrent predict (under the weights lock)."""
        with WEIGHTS_LOCK:
            for key in self.keys:
                if not store.writes_back(key):
                    continue
                value = self.variables[key].numpy()
                if np.array_equal(value, self._synced[key]):
                    continue
                store.write_back(key, value)
                self._synced[key] = store[key]

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: list, training: bool, compute_dtype: str = "float32") -> list:
        """Graph outputs for input tensors (in graph input order), traced into TF ops. Under a mixed
        precision policy (`compute_dtype` float16/bfloat16) float inputs are cast to it at the model
        input, as Keras' layers autocast them, and the outputs come out in it."""
        ctx = TensorFlowContext(training=training, step_seed=self.step_seed if training else None,
                                compute_dtype=compute_dtype)
        feeds = [tf.cast(x, spec.dtype) if x.dtype != spec.dtype else x
                 for x, spec in zip(inputs, self.input_specs)]
        if compute_dtype != "float32":
            feeds = [tf.cast(x, compute_dtype) if x.dtype == tf.float32 else x for x in feeds]
        return TensorFlowInterpreter(ctx, self.variables, self.frozen_layers).run(self.graph, feeds)
