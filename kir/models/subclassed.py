"""Keras' model subclassing: a `Model` subclass that defines `call()` is built, on its first call,
fit, evaluate, predict or `build(input_shape)`, by running `call()` once on symbolic `Input`s
(batch None, the other sizes from the data). Its layer calls, tensor operators and kir.backend ops
record nodes exactly as functional code does, so the result is an ordinary functional graph:
every backend, export, `.kir` saving (loading needs no user code) and summary work on it.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from kir.errors import ConfigError, GraphError, KirError
from kir.ir.spec import TensorSpec
from kir.layers.base import BUILDING_SUBCLASSED, Layer
from kir.layers.input_layer import Input, InputLayer
from kir.layers.symbolic import TraceError
from kir.layers.tensor import KTensor
from kir.layers.trace import attribute_layers

if TYPE_CHECKING:
    from kir.models.functional import Model

CUSTOM_STEPS = ("train_step", "test_step", "predict_step", "compute_loss")
"""Keras' Trainer hooks a subclass may override; kir's training engine does not run user steps."""


def is_subclassed(model: Any) -> bool:
    """Whether `model` (or a class) defines Keras' `call()` (so it is built by tracing it)."""
    cls = model if isinstance(model, type) else type(model)
    return cls.call is not Layer.call


def refuse_custom_steps(model: Model) -> None:
    """A subclass overriding train_step/test_step/... would silently train with kir's own step:
    refuse it, naming the model and the method."""
    from kir.models.functional import Model as Base

    for cls in type(model).__mro__:
        if cls is Base:
            break
        found = [name for name in CUSTOM_STEPS if name in vars(cls)]
        if found:
            raise ConfigError(f"model '{model.name}' ({type(model).__name__}) overrides {found[0]}(); kir does not "
                              f"support custom training steps yet: kir's compile/fit run the standard step (loss "
                              f"+ add_loss + regularizers). Remove {found[0]}() or train the model in Keras")


# ------------------------------------------------------------------------------ input specs
def _dtype(dtype: Any) -> str:
    name = np.dtype(dtype).name
    return {"float64": "float32", "int64": "int32"}.get(name, name)


def _spec_of(array: Any, model: Model) -> TensorSpec:
    shape = getattr(array, "shape", None)
    if shape is None:
        array = np.asarray(array)
        shape = array.shape
    if len(shape) == 0:
        raise GraphError(f"model '{model.name}': cannot build from a scalar input; pass an array with a batch "
                         f"dimension")
    dtype = getattr(array, "dtype", "float32")
    return TensorSpec((None,) + tuple(int(d) for d in shape[1:]), _dtype(getattr(dtype, "name", dtype)))


def specs_from_data(x: Any, model: Model) -> Any:
    """The input structure (spec, list of specs or dict of specs) of the first data."""
    if isinstance(x, dict):
        return {str(k): _spec_of(v, model) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_spec_of(v, model) for v in x]
    return _spec_of(x, model)


def specs_from_tensors(inputs: Any) -> Any:
    """The input structure of symbolic tensors the model is first called on."""
    if isinstance(inputs, dict):
        return {str(k): TensorSpec((None,) + tuple(t.shape[1:]), t.dtype) for k, t in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [TensorSpec((None,) + tuple(t.shape[1:]), t.dtype) for t in inputs]
    return TensorSpec((None,) + tuple(inputs.shape[1:]), inputs.dtype)


def specs_from_shapes(input_shape: Any, model: Model) -> Any:
    """Keras' `build(input_shape)` argument (a shape, a list of shapes, a dict of shapes) as specs."""
    def one(shape: Any) -> TensorSpec:
        if not isinstance(shape, (list, tuple)) or not all(d is None or isinstance(d, (int, np.integer))
                                                           for d in shape):
            raise ConfigError(f"model '{model.name}': build() takes a shape such as (None, 784) or a list/dict of "
                              f"them, got {shape!r:.60}")
        return TensorSpec(tuple(None if d is None else int(d) for d in shape), "float32")

    if isinstance(input_shape, dict):
        return {str(k): one(v) for k, v in input_shape.items()}
    if isinstance(input_shape, (list, tuple)) and input_shape and all(isinstance(s, (list, tuple))
                                                                      for s in input_shape):
        return [one(s) for s in input_shape]
    return one(input_shape)


# ------------------------------------------------------------------------------ building
def _attribute_layers(model: Model) -> list[Layer]:
    """The layers the subclass holds in its attributes, in Keras' tracking (hence weights) order."""
    return list(attribute_layers(model, model.__dict__.get("_model_keys", frozenset())).values())


def build(model: Model, specs: Any) -> None:
    """Trace the subclass's `call()` on Inputs of `specs` into the model's functional graph."""
    from kir.layers.trace import call_user

    refuse_custom_steps(model)
    if isinstance(specs, dict):
        tensors = [Input(batch_shape=s.shape, dtype=s.dtype, name=k) for k, s in specs.items()]
        arg: Any = dict(zip(specs, tensors))
    elif isinstance(specs, list):
        tensors = [Input(batch_shape=s.shape, dtype=s.dtype) for s in specs]
        arg = list(tensors)
    else:
        tensors = [Input(batch_shape=specs.shape, dtype=specs.dtype)]
        arg = tensors[0]
    tracked = _attribute_layers(model)
    before = {id(lay): len(lay._inbound_nodes) for lay in tracked}
    model._pending_losses = []
    BUILDING_SUBCLASSED[0] += 1
    try:
        out = call_user(model, arg, {})
        outputs = _outputs(model, out)
        if "training" in inspect.signature(model.call).parameters:
            outputs = _by_mode(model, arg, tracked, outputs)
        model._single_input = not isinstance(specs, (list, dict))
        model._single_output = not isinstance(out, (list, tuple, dict))
        model._init_graph(tensors, outputs)
    except Exception as exc:
        for lay in tracked:  # a failed build leaves the sub-layers as they were
            del lay._inbound_nodes[before[id(lay)]:]
        where = f"model '{model.name}' ({type(model).__name__}), building from its call()"
        if isinstance(exc, KirError):
            raise _renamed(exc, f"{where}: {exc}") from None
        raise TraceError(f"{where}: {type(exc).__name__}: {exc}. A subclassed model's call() is traced on "
                         f"symbolic tensors: use kir layers, tensor operators and kir.backend (K) ops "
                         f"(docs/tracing.md)") from exc
    finally:
        BUILDING_SUBCLASSED[0] -= 1
        pending, model._pending_losses = model._pending_losses, None
    first = [lay for lay in model._layers if isinstance(lay, InputLayer)]
    graph = {id(lay) for lay in model._layers}
    rest = [lay for lay in model._layers if id(lay) not in {id(t) for t in first + tracked}]
    model._layers = first + [lay for lay in tracked if id(lay) in graph] + rest
    if pending:
        model.add_loss(pending)


def _by_mode(model: Model, arg: Any, tracked: list[Layer], outputs: list[KTensor]) -> list[KTensor]:
    """call() (run above at its default `training`) runs again with training=True: the same graph
    is dropped again, a different one is kept and joined to the first per output (ModeJoin)."""
    from kir.layers.lambda_layer import ModeJoin
    from kir.layers.trace import call_user, same_graphs

    marks = {id(lay): len(lay._inbound_nodes) for lay in tracked}
    n_losses = len(model._pending_losses)
    second = _outputs(model, call_user(model, arg, {"training": True}))
    if same_graphs(outputs, second, set(marks)):
        for lay in tracked:
            for node in lay._inbound_nodes[marks[id(lay)]:]:
                lay._traces.pop(id(node), None)
            del lay._inbound_nodes[marks[id(lay)]:]
        del model._pending_losses[n_losses:]
        return outputs
    if len(second) != len(outputs):
        raise TraceError(f"call() returns {len(outputs)} value(s) with training=False but {len(second)} with "
                         f"training=True; return the same structure in both modes")
    if len(model._pending_losses) > n_losses:
        raise TraceError("call() branches on `training` and calls self.add_loss(); kir cannot join a subclassed "
                         "model's losses by mode yet: add the loss in a sub-layer's call() instead")
    return [a if a is b else ModeJoin()([a, b]) for a, b in zip(outputs, second)]


def _renamed(exc: KirError, message: str) -> KirError:
    """`exc` with `message`, same class (a plain KirError if that class takes other arguments)."""
    try:
        return type(exc)(message)
    except TypeError:
        return KirError(message)


def _outputs(model: Model, out: Any) -> list[KTensor]:
    items = list(out.values()) if isinstance(out, dict) else list(out) if isinstance(out, (list, tuple)) else [out]
    for t in items:
        if not isinstance(t, KTensor):
            raise TraceError(f"call() returned {type(t).__name__}; return the output tensor(s) computed from the "
                             f"inputs with kir layers, tensor operators and kir.backend (K) ops")
    return items
