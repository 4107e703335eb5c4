"""Layers whose computation is traced user code: `Lambda(fn)`, `TensorOp` (what `x + y`,
`K.square(t)` or `t[:, 0]` on layer outputs become in a functional model) and `TracedLayer`
(any of these, or a subclassed layer, loaded from a `.kir` file: the stored trace, no code).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kir.errors import ConfigError, LoadError
from kir.ir.spec import normalize_dtype
from kir.layers.base import Layer, unique_layer_name
from kir.layers.symbolic import SymbolicDim
from kir.layers.tensor import KTensor
from kir.layers.trace import TraceTensor, active, check_json, replay_json


class Lambda(Layer):
    """`Lambda(fn)`: `fn(inputs, **arguments)` traced into graph ops when the layer is called
    (`output_shape` and `mask` are accepted for Keras compatibility; tracing gives the shape)."""

    def __init__(self, function: Callable[..., Any], output_shape: Any = None, mask: Any = None,
                 arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not callable(function):
            raise ConfigError(f"Lambda needs a function, got {type(function).__name__}")
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)


class ModeJoin(Layer):
    """Joins the inference and the training output of a subclassed model's call() (traced once per
    mode because its `if training:` differs): one ByMode op, the backends pick by mode."""

    def call(self, inputs: Any) -> Any:
        infer, train = inputs
        return infer.tracer.add("ByMode", {}, [infer, train], "by_mode")[0]


class TensorOp(Layer):
    """One kir.backend op (or tensor operator) applied to layer outputs in a functional model;
    `inputs` are the KTensors among its arguments, in order."""

    def __init__(self, op: str, args: tuple, kwargs: dict, env: dict | None, inputs: Sequence[KTensor],
                 **layer_kwargs: Any) -> None:
        super().__init__(name=layer_kwargs.pop("name", None) or unique_layer_name(op), **layer_kwargs)
        self.op, self._template, self._env = op, (args, kwargs), env
        self._slots = {id(t): i for i, t in enumerate(inputs)}

    def call(self, inputs: Any) -> Any:
        from kir.layers import kops

        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]

        def fill(x: Any) -> Any:
            if isinstance(x, KTensor):
                return values[self._slots[id(x)]]
            if isinstance(x, SymbolicDim) and isinstance(x.tensor, KTensor):
                return SymbolicDim(values[self._slots[id(x.tensor)]], x.axis)
            if isinstance(x, (list, tuple)):
                return type(x)(fill(v) for v in x)
            if isinstance(x, dict):
                return {k: fill(v) for k, v in x.items()}
            return x

        args, kwargs = self._template
        return kops.apply(active(), self.op, fill(args), fill(kwargs), self._env)


def _ktensors(x: Any, found: dict[int, KTensor]) -> bool:
    """Collect the KTensors in an argument structure; True if a TraceTensor is in it too."""
    if isinstance(x, KTensor):
        found.setdefault(id(x), x)
    elif isinstance(x, SymbolicDim):
        return _ktensors(x.tensor, found)
    elif isinstance(x, TraceTensor):
        return True
    elif isinstance(x, (list, tuple)):
        return any([_ktensors(v, found) for v in x])
    elif isinstance(x, dict):
        return any([_ktensors(v, found) for v in x.values()])
    return False


def lift(op: str, args: tuple, kwargs: dict, env: dict | None) -> Any:
    """A K op on layer outputs: a TensorOp layer called on them (one node of the model)."""
    found: dict[int, KTensor] = {}
    mixed = _ktensors(args, found) | _ktensors(kwargs, found)
    tracer = active()
    if mixed and tracer is not None:
        from kir.layers import kops

        return kops.apply(tracer, op, args, kwargs, env)  # refuses the outer tensor, naming it
    inputs = list(found.values())
    layer = TensorOp(op, args, kwargs, env, inputs)
    return layer(inputs if len(inputs) > 1 else inputs[0])


class TracedLayer(Layer):
    """A traced layer as a `.kir` file stores it: weights, sub-layers and the trace of each call.

    Calling it replays the stored trace whose input specs match (the first one otherwise), so a
    loaded model runs, trains and exports without the code that was traced."""

    def __init__(self, calls: list[dict[str, Any]], weights: list[dict[str, Any]] | None = None,
                 layers: Sequence[Layer] | None = None, traced_class: str | None = None,
                 supports_masking: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.traced_class = traced_class
        self.supports_masking = bool(supports_masking)  # the traced layer's own: its input's mask passes on
        self._layers = list(layers or [])
        if not isinstance(calls, list) or not all(isinstance(layer, Layer) for layer in self._layers):
            raise LoadError(f"traced layer '{self.name}': 'calls' must be a list and 'layers' kir layers")
        for w in weights or []:
            if not isinstance(w, dict) or not isinstance(w.get("name"), str):
                raise LoadError(f"traced layer '{self.name}': bad weight entry {w!r:.80}")
            shape = tuple(int(d) for d in w.get("shape", ()))
            self._weights[w["name"]] = np.zeros(shape, dtype=normalize_dtype(w.get("dtype")))
            self._trainable_weight[w["name"]] = bool(w.get("trainable", True))
        for data in calls:
            check_json(data, len(self._layers), set(self._weights))
        self.calls = calls
        self.built = True

    def sublayers(self) -> list[Layer]:
        return list(self._layers)

    def call(self, inputs: Any) -> Any:
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        specs = [[list(v.shape), v.dtype] for v in values]
        stored = next((c for c in self.calls if [[s.get("shape"), s.get("dtype")] for s in c["inputs"]] == specs),
                      self.calls[0] if self.calls else None)
        if stored is None:
            raise ConfigError(f"traced layer '{self.name}' was saved without any call; it cannot be called")
        return replay_json(stored, active(), values, self, self._layers)
