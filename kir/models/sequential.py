"""Sequential: a linear stack of layers, built on the functional Model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kir.errors import ConfigError, GraphError
from kir.layers.base import Layer, unique_layer_name
from kir.layers.input_layer import Input, InputLayer
from kir.layers.node import Node
from kir.layers.tensor import KTensor
from kir.models.functional import Model, as_list


class Sequential(Model):
    """`Sequential([Dense(32, input_shape=(784,)), Activation('relu'), ...])` or built with `.add`."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self._stack: list[Layer] = []
        self._input_tensor: KTensor | None = None
        self._own_nodes: list[Node] = []
        self._extend(list(layers or []))

    @classmethod
    def _default_name(cls) -> str:
        return unique_layer_name("sequential")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable}

    @property
    def layers(self) -> list[Layer]:
        """The stacked layers (Keras 3 leaves the InputLayer out)."""
        return list(self._stack)

    def sublayers(self) -> list[Layer]:
        return list(self._stack)

    def add(self, layer: Layer | KTensor) -> None:
        """Append a layer (or start from an Input tensor / InputLayer)."""
        self._extend([layer])

    def _admit(self, layer: Layer | KTensor, names: set[str], ids: set[int]) -> Layer | None:
        """The layer to stack after checking it (None for an Input, which becomes the input)."""
        if isinstance(layer, KTensor):
            if not isinstance(layer.node.layer, InputLayer):
                raise ConfigError(f"Sequential '{self.name}'.add got a tensor that is not a kir.Input")
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise ConfigError(f"Sequential '{self.name}'.add expects a kir layer, got {type(layer).__name__} "
                              f"({layer!r})")
        if isinstance(layer, InputLayer):
            if self._stack or self._input_tensor is not None:
                raise ConfigError(f"Sequential '{self.name}': an Input can only be the first thing added")
            self._input_tensor = layer.output
            return None
        if id(layer) in ids:
            raise GraphError(f"Sequential '{self.name}' already contains layer '{layer.name}'")
        if layer.name in names:
            raise GraphError(f"Sequential '{self.name}': a layer named '{layer.name}' is already in the model; "
                             f"layer names must be unique")
        return layer

    def _extend(self, items: Sequence[Layer | KTensor]) -> None:
        """Add `items` in order, finishing the graph once (linear in the stack's length); if one
        fails, the stack is left as it was before."""
        before = (list(self._stack), list(self._own_nodes), list(self.inputs), list(self.outputs), self._input_tensor)
        try:
            names, ids = {lay.name for lay in self._stack}, {id(lay) for lay in self._stack}
            called = False
            for item in items:
                layer = self._admit(item, names, ids)
                if layer is None:
                    continue
                if not self._stack and self._input_tensor is None and layer._batch_input_shape is not None:
                    self._input_tensor = Input(batch_shape=layer._batch_input_shape, dtype=self._first_dtype(layer))
                self._stack.append(layer)
                names.add(layer.name)
                ids.add(id(layer))
                if self._input_tensor is not None:
                    if self.outputs:
                        self._call_layer(layer, self.outputs[0])
                    else:
                        self._run_stack()
                    called = True
            if called:
                self._finish()
        except BaseException:
            self._undo_add(before)
            raise

    def _undo_add(self, before: tuple) -> None:
        """Put the stack back as it was before an `add` that raised: a failed layer is not kept
        (else `save` would write a model that `load_model` refuses)."""
        stack, own_nodes, inputs, outputs, input_tensor = before
        kept = {id(node) for node in own_nodes}
        for node in self._own_nodes:
            if id(node) not in kept and node in node.layer._inbound_nodes:
                node.layer._inbound_nodes.remove(node)
        self._stack, self._own_nodes, self._input_tensor = stack, own_nodes, input_tensor
        self.outputs = outputs
        if outputs:
            self._finish()
        else:
            self.inputs = inputs

    @staticmethod
    def _first_dtype(layer: Layer) -> str:
        return "int32" if type(layer).__name__ == "Embedding" else layer.dtype

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise GraphError(f"Sequential '{self.name}' has no layers to pop")
        layer = self._stack.pop()
        self._rebuild()
        return layer

    def _call_layer(self, layer: Layer, x: KTensor) -> KTensor:
        out = layer(x)
        if not isinstance(out, KTensor):
            raise GraphError(f"Sequential '{self.name}': layer '{layer.name}' returns {len(out)} tensors; "
                             f"Sequential models need single-output layers (use the functional API)")
        self._own_nodes.append(out.node)
        self.outputs = [out]
        return out

    def _rebuild(self) -> None:
        """Re-run the stack on the input (after pop, or once the input shape is known)."""
        for node in self._own_nodes:
            if node in node.layer._inbound_nodes:
                node.layer._inbound_nodes.remove(node)
        self._own_nodes = []
        self.outputs = []
        if self._input_tensor is None:
            return
        self._run_stack()
        self._finish()

    def _run_stack(self) -> None:
        x = self._input_tensor
        for layer in self._stack:
            x = self._call_layer(layer, x)

    def _finish(self) -> None:
        if not self._stack:
            self.inputs, self.outputs = [], []
            return
        self._init_graph([self._input_tensor], list(self.outputs))

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:  # type: ignore[override]
        """Keras' `model.build((None, 784))`: fix the input shape of a stack declared without one."""
        if input_shape is None:
            return
        if self._input_tensor is None:
            self._input_tensor = Input(batch_shape=tuple(input_shape),
                                       dtype=self._first_dtype(self._stack[0]) if self._stack else None)
            self._rebuild()

    def _ensure_built_for(self, x: Any) -> None:
        """Keras 3's deferred build: a stack declared without an input shape takes it from the first
        data it is fitted, evaluated or predicted on (batch dimension left free)."""
        if self._input_tensor is None and self._stack and x is not None:
            items = as_list(x)
            if len(items) != 1:
                raise GraphError(f"Sequential '{self.name}' takes one input, got {len(items)} arrays")
            arr = items[0] if hasattr(items[0], "shape") else np.asarray(items[0])
            if len(arr.shape) == 0:
                raise GraphError(f"Sequential '{self.name}': cannot build from a scalar input; pass an array "
                                 f"with a batch dimension")
            self.build((None,) + tuple(arr.shape[1:]))

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Calling a stack declared without an input shape on a tensor builds it for that tensor (Keras 3)."""
        if self._input_tensor is None and self._stack and isinstance(inputs, KTensor):
            self._input_tensor = Input(batch_shape=(None,) + tuple(inputs.shape[1:]),
                                       dtype=self._first_dtype(self._stack[0]))
            self._rebuild()
        return super().__call__(inputs, **kwargs)

    @property
    def output_names(self) -> list[str]:
        """Before the deferred build, the name the output will have: the last layer's (for compile)."""
        if not self.outputs and self._stack:
            return [self._stack[-1].name]
        return super().output_names

    def _require_built(self) -> None:
        if not self._stack:
            raise GraphError(f"Sequential '{self.name}' has no layers; add some with .add(layer)")
        super()._require_built()

    def _require_compilable(self) -> None:
        """compile() before the deferred build is fine (Keras 3): fit/evaluate build from the data."""
        if not self._stack:
            raise GraphError(f"Sequential '{self.name}' has no layers; add some with .add(layer)")
