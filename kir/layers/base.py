"""The Layer base class: config, weights in Keras' layout, and the call that records a Node."""

from __future__ import annotations

import functools
import inspect
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kir import constraints, initializers, regularizers
from kir.errors import ConfigError, GraphError, ShapeError, did_you_mean
from kir.ir import live, ops
from kir.ir.params import WEIGHTS_LOCK
from kir.ir.spec import Shape, TensorSpec, format_shape, normalize_dtype
from kir.layers.budget import charge
from kir.layers.node import Node
from kir.layers.tensor import KTensor
from kir.layers.variable import Variable

if TYPE_CHECKING:
    from kir.ir.graph import Graph, Ref
    from kir.layers.emitter import Emitter

_name_counts: Counter = Counter()


@functools.cache
def _init_signature(cls: type) -> inspect.Signature:
    return inspect.signature(cls.__init__)

_weights_epoch = [0]


def weights_epoch() -> int:
    """A counter bumped whenever any layer's weights (or a model's structure) change anywhere.

    Models compare it before recomputing their (recursive) weights version, so a cached
    program is validated in O(1) on the hot predict path.
    """
    return _weights_epoch[0]


def bump_weights_epoch() -> None:
    _weights_epoch[0] += 1

BUILDING_SUBCLASSED = [0]
"""Nonzero while a subclassed model's call() is traced (kir.models.subclassed): sub-layer calls then
ignore `training=`, as one graph serves fit (training) and predict (inference)."""

_IGNORED_WEIGHT_ARGS = {"autocast", "aggregation", "synchronization", "overwrite_with_gradient", "use_resource",
                        "experimental_autocast", "partitioner", "caching_device", "getter"}
_BASE_ARGS = ("name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_size",
              "input_dim", "input_length", "weights")


def weight_array(value: object, what: str) -> np.ndarray:
    """`value` as a real numeric array, or a ConfigError naming `what`: ragged lists, strings,
    objects (None would become NaN) and complex numbers (the imaginary part would be dropped)
    are refused rather than converted."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{what}: cannot make an array from {type(value).__name__} (ragged or mixed "
                          f"nesting?): {exc}") from None
    if arr.dtype.kind not in "biuf":
        kind = "complex" if arr.dtype.kind == "c" else "non-numeric"
        raise ConfigError(f"{what}: expected a real numeric array, got {kind} dtype {arr.dtype}; convert it "
                          f"explicitly (e.g. np.asarray(w, dtype='float32'))")
    return arr


def unique_layer_name(base: str) -> str:
    """Keras-style automatic names: dense, dense_1, dense_2, ..."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([123])_d", r"\1d", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower())


class Layer:
    """A Keras-compatible layer. Subclasses set `op_type`, create weights in `build`, and
    describe the op with `ir_attrs`; the op registry's shape rule gives the output shapes."""

    op_type: ClassVar[str] = ""
    takes_list: ClassVar[bool] = False
    """Merges take a list of tensors; everything else one tensor."""
    supports_masking: ClassVar[bool] = False
    """Keras' `supports_masking`: the layer passes its first input's mask on to its outputs (Keras'
    default `compute_mask`); without it a mask stops here, as in Keras (docs/ops.md, "Masks")."""
    call_takes_mask: ClassVar[bool] = False
    """Whether Keras' call() of this layer has a `mask` argument, so `layer(x, mask=m)` gives an
    explicit mask that overrides the one `x` carries (recurrent layers, GlobalAveragePooling1D,
    Bidirectional, TimeDistributed); other layers refuse `mask=`, as Keras' do."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "op_type" not in vars(cls):
            cls.op_type = cls.__name__

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        obj = super().__new__(cls)
        signature = _init_signature(cls)  # cached: loading 4000 layers spent half its time here
        try:
            bound = signature.bind(obj, *args, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"{cls.__name__}: {exc}") from None
        config = {}
        for key, value in list(bound.arguments.items())[1:]:
            if signature.parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
                config.update(value)
            else:
                config[key] = value
        obj._config_args = config
        obj._traces = {}
        obj._spec_traces = {}
        return obj

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = None,
        input_shape: Sequence[int | None] | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        input_dim: int | None = None,
        input_length: int | None = None,
        weights: list[np.ndarray] | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            key = next(iter(kwargs))
            raise ConfigError(
                f"{type(self).__name__}: unknown argument '{key}'.{did_you_mean(key, self._argument_names())}"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name or unique_layer_name(_snake(type(self).__name__))
        self._weights_version = 0
        self._trainable = bool(trainable)  # as Keras' constructor: not passed on to sub-layers
        self.dtype = normalize_dtype(dtype)
        self.built = False
        self._weights: dict[str, np.ndarray] = {}
        self._trainable_weight: dict[str, bool] = {}
        self._weight_regularizers: dict[str, Any] = {}
        """weight name -> regularizer given to `add_weight(regularizer=...)`."""
        self._weight_constraints: dict[str, Any] = {}
        """weight name -> constraint given to `add_weight(constraint=...)`."""
        self._inbound_nodes: list[Node] = []
        self._initial_weights = weights
        self._batch_input_shape = self._declared_input_shape(input_shape, batch_input_shape, batch_size,
                                                             input_dim, input_length)

    # ------------------------------------------------------------------ config
    def _argument_names(self) -> list[str]:
        names = set(_BASE_ARGS)
        for klass in type(self).__mro__:
            if "__init__" in vars(klass):
                names.update(p for p in inspect.signature(klass.__init__).parameters if p != "self")
        return sorted(names - {"kwargs"})

    def _declared_input_shape(self, input_shape, batch_input_shape, batch_size, input_dim,
                              input_length) -> Shape | None:
        """What `input_shape=`, `input_dim=`, `input_length=`, `batch_size=` declare (Sequential's first layer)."""
        if batch_input_shape is not None:
            return tuple(batch_input_shape)
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,) if input_length is None else (input_length, input_dim)
        if input_shape is None:
            return None
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        return (batch_size,) + tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (with the resolved name): `type(layer)(**config)` rebuilds it."""
        config = dict(self._config_args)
        config["name"] = self.name
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def ir_attrs(self) -> dict[str, Any]:
        """The JSON-able attributes of this layer's op (see docs/ops.md)."""
        return {}

    # ------------------------------------------------------------------ weights
    def build(self, input_specs: Any) -> None:
        """Create weights for inputs of these specs (called once, on the first call). A layer
        that defines `call()` gets Keras' argument instead: the input shape (a tuple, or a list of
        tuples when called on a list)."""

    def build_once(self, input_specs: list[TensorSpec], many: bool | None = None) -> None:
        """Build on the first call (and load `weights=` given to the constructor)."""
        if not self.built:
            if self._is_traced():
                shapes = [tuple(s.shape) for s in input_specs]
                self.build(shapes if many or (many is None and len(shapes) > 1) else shapes[0])
            else:
                self.build(input_specs)
            self.built = True
            if self._initial_weights is not None:
                self.set_weights(self._initial_weights)

    def add_weight(self, name: Any = None, shape: Sequence[int] | None = None, initializer: Any = None,
                   trainable: bool = True, dtype: Any = None, regularizer: Any = None, constraint: Any = None,
                   **kwargs: Any) -> Variable:
        """Create weight `name` of `shape` drawn by `initializer` (Keras' default glorot_uniform for
        floats, zeros otherwise) and return its `Variable`. Keras 3's keyword form
        `add_weight(shape=..., initializer=..., trainable=..., name=...)` and its positional shape
        work too."""
        if shape is None and name is not None and not isinstance(name, str):
            name, shape = None, name
        unknown = set(kwargs) - _IGNORED_WEIGHT_ARGS
        if unknown:
            raise ConfigError(f"layer '{self.name}': add_weight argument '{sorted(unknown)[0]}' is not supported "
                              f"by kir")
        try:
            regularizer = regularizers.get(regularizer)
        except ConfigError as exc:
            raise ConfigError(f"layer '{self.name}': add_weight regularizer: {exc}") from None
        try:
            constraint = constraints.get(constraint)
        except ConfigError as exc:
            raise ConfigError(f"layer '{self.name}': add_weight constraint: {exc}") from None
        if shape is None:
            raise ConfigError(f"layer '{self.name}': add_weight needs shape=...")
        dtype = normalize_dtype(dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.startswith("float") else "zeros"
        name = self._free_weight_name(name or "variable")
        charge(self.name, name, shape, dtype)  # bounded before allocating while a file loads (kir.layers.budget)
        value = initializers.initialize(initializer, tuple(int(d) for d in shape))
        self._weights[name] = value if dtype == "float32" else value.astype(dtype)
        self._trainable_weight[name] = bool(trainable)
        if regularizer is not None:  # penalized in training while trainable, as Keras (see _args.weight_regularizers)
            self._weight_regularizers[name] = regularizer
        if constraint is not None:  # projected after each optimizer step (see _args.weight_constraints)
            self._weight_constraints[name] = constraint
        bump_weights_epoch()
        return Variable(self, name)

    def _free_weight_name(self, base: str) -> str:
        name, n = base, 0
        while name in self._weights:
            n += 1
            name = f"{base}_{n}"
        return name

    def weight_names(self) -> list[str]:
        """This layer's own weights in Keras' order (sub-layers' are not included)."""
        return list(self._weights)

    def get_weight(self, name: str) -> np.ndarray:
        """The current value of weight `name` (mid-fit: with the values trained so far, kir.ir.live)."""
        if live.SOURCES:
            live.before_read()
        return self._weights[name]

    def assign_weight(self, name: str, value: np.ndarray) -> None:
        """Replace one weight (shape checked); bumps the version so cached programs refresh, and a
        running fit trains on from it at its next step (kir.ir.live)."""
        if live.SOURCES:
            live.before_read()  # values trained so far first, so a later flush cannot overwrite this one
        old = self._weights[name]
        value = weight_array(value, f"layer '{self.name}': weight '{name}'")
        if value.shape != old.shape:
            raise ConfigError(f"layer '{self.name}': weight '{name}' has shape {format_shape(old.shape)}, "
                              f"got {format_shape(value.shape)}")
        self._weights[name] = value.astype(old.dtype, copy=True)
        self._weights_version += 1
        bump_weights_epoch()
        if live.SOURCES:
            live.after_write()

    @property
    def trainable(self) -> bool:
        """Whether training may change this layer's weights (takes effect at the next compile,
        as in Keras 3: the graph records it, so cached programs see the change)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """As Keras 3's setter: the value reaches every sub-layer too (a nested model's layers, a
        wrapper's layer), so `base.trainable = False` freezes and `= True` unfreezes all of them."""
        self.set_trainable(value, recursive=True)

    def set_trainable(self, value: bool, recursive: bool = False) -> None:
        """Set this layer's flag (and, `recursive`, its sub-layers'); loaders restore each layer's own
        flag without passing it on, so a file's partly frozen nested model stays as saved."""
        self._trainable = bool(value)
        self._weights_version += 1
        bump_weights_epoch()
        if recursive:
            for layer in self._trainable_children():
                layer.set_trainable(value, recursive=True)

    def _trainable_children(self) -> list[Layer]:
        """The layers `trainable = v` passes on to (Keras' `self._layers`)."""
        return self.sublayers()

    def weight_trainable(self, name: str) -> bool:
        """Whether weight `name` is trainable on its own (BatchNorm's moving statistics are not)."""
        return self._trainable_weight.get(name, True)

    def sublayers(self) -> list[Layer]:
        """Layers whose weights this layer owns too (wrappers, nested models; for a layer that
        defines `call()`, the layers held in its attributes or used by its traced calls)."""
        if self._is_traced():
            from kir.layers.trace import tracked_layers

            return tracked_layers(self)
        return []

    def _weight_slots(self) -> list[tuple[Layer, str]]:
        """(owner, weight name) for every weight, each once even when a layer is reachable twice."""
        slots: dict[tuple[int, str], tuple[Layer, str]] = {(id(self), n): (self, n) for n in self.weight_names()}
        for sub in self.sublayers():
            for layer, name in sub._weight_slots():
                slots.setdefault((id(layer), name), (layer, name))
        return list(slots.values())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in Keras' order (own first, then sub-layers')."""
        return [layer.get_weight(n).copy() for layer, n in self._weight_slots()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load weights in `get_weights` order; count and shapes must match exactly."""
        slots = self._weight_slots()
        if isinstance(weights, (str, bytes, dict)) or not isinstance(weights, Iterable):
            raise ConfigError(f"layer '{self.name}': set_weights expects a list of {len(slots)} arrays "
                              f"(as get_weights returns), got {type(weights).__name__}")
        weights = list(weights)
        if len(weights) != len(slots):
            raise ConfigError(
                f"layer '{self.name}' expects {len(slots)} weight arrays "
                f"({', '.join(f'{lay.name}/{n}' for lay, n in slots) or 'none'}), got {len(weights)}"
                + ("" if self.built else "; call the layer on an input first so its weights exist")
            )
        arrays = []
        for (layer, name), value in zip(slots, weights):
            value = weight_array(value, f"layer '{layer.name}': weight '{name}'")
            expected = layer.get_weight(name).shape
            if value.shape != expected:
                raise ConfigError(f"layer '{layer.name}': weight '{name}' must have shape "
                                  f"{format_shape(expected)}, got {format_shape(value.shape)}")
            arrays.append(value)
        with WEIGHTS_LOCK:  # a predict building its graph now sees all old or all new weights
            for (layer, name), value in zip(slots, arrays):
                layer.assign_weight(name, value)

    @property
    def weights(self) -> list[np.ndarray]:
        return self.get_weights()

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return [lay.get_weight(n) for lay, n in self._weight_slots() if lay.trainable and lay._trainable_weight[n]]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return [lay.get_weight(n) for lay, n in self._weight_slots()
                if not (lay.trainable and lay._trainable_weight[n])]

    def count_params(self) -> int:
        return int(sum(lay.get_weight(n).size for lay, n in self._weight_slots()))

    def weights_version(self) -> tuple:
        """Changes whenever any weight of this layer (or its sub-layers) is replaced."""
        return (id(self), self._weights_version, tuple(s.weights_version() for s in self.sublayers()))

    # ------------------------------------------------------------------ calling
    def call(self, inputs: Any, **kwargs: Any) -> Any:
        """Keras' forward pass. A subclass that defines it is traced: calling the layer runs it on
        symbolic tensors and records the kir.backend ops and tensor operators it applies as IR
        primitives (docs/tracing.md); kir's own layers describe their op instead (`op_type`)."""
        raise NotImplementedError(f"layer '{self.name}' ({type(self).__name__}) has no call()")

    def add_loss(self, losses: Any) -> None:
        """Keras' `self.add_loss(value)` inside a subclassed layer's `call()`: the traced value (or
        each of a list) is summed into the training loss of a model calling the layer."""
        from kir.layers.trace import active

        tracer = active()
        if tracer is None:
            raise ConfigError(f"layer '{self.name}': add_loss() works inside the layer's call() (kir traces it "
                              f"there); outside it, add losses to the model: model.add_loss(tensor)")
        for value in list(losses) if isinstance(losses, (list, tuple)) else [losses]:
            tracer.add_loss(value)

    def loss_tensors(self, node: Node) -> list[KTensor]:
        """The add_loss values of call `node` (traced layers; emitted after the node's outputs)."""
        entry = self._traces.get(id(node))
        return list(entry[1].loss_tensors) if entry is not None and entry[0] is node else []

    def _is_traced(self) -> bool:
        """Whether this layer's class defines `call()` (so its calls are traced)."""
        return type(self).call is not Layer.call

    def __call__(self, inputs: KTensor | Sequence[KTensor], **kwargs: Any) -> KTensor | list[KTensor]:
        from kir.layers import trace

        if kwargs and BUILDING_SUBCLASSED[0]:  # `self.dropout(x, training=training)` in a subclassed model's
            kwargs.pop("training", None)       # call(): the graph's Dropout acts by run mode (fit / predict)
        if self._is_traced() or trace.involved(inputs):
            return trace.call_layer(self, inputs, kwargs)
        mask = kwargs.pop("mask", None)
        if mask is not None and not self.call_takes_mask:
            raise ConfigError(f"{self._where()} takes no 'mask' argument (Keras' {type(self).__name__}.call() has "
                              f"none); call it without mask=, or mask a layer that takes one (LSTM, GRU, ...)")
        extra = self._call_kwarg_inputs(kwargs) if kwargs else []
        tensors = self._check_call_inputs(inputs) + extra
        explicit = {} if mask is None else {0: self.explicit_mask(mask, tensors[0], "mask")}
        specs = [t.spec for t in tensors]
        self.build_once(specs)
        out_specs = self.compute_output_specs(specs)
        node = Node(self, tensors, len(self._inbound_nodes))
        node.masks = explicit
        node.outputs = [KTensor(s, node, i, f"{self.name}/{node.index}:{i}") for i, s in enumerate(out_specs)]
        for tensor, out_mask in zip(node.outputs, self.compute_mask(node, node.input_masks())):
            tensor.mask = out_mask
        self._inbound_nodes.append(node)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        """Keras' `compute_mask` for call `node`: the mask of each output, given the masks of the
        call's input tensors. By default the first input's mask passes on when the layer
        `supports_masking`; a layer that makes a new mask returns `self.new_mask(node, shape)` and
        binds it while emitting (`Emitter.bind_mask`)."""
        return [masks[0] if self.supports_masking and masks else None for _ in node.outputs]

    def explicit_mask(self, mask: Any, x: KTensor, what: str) -> KTensor:
        """Check an explicit mask given for input `x` (Keras' `mask=`, `value_mask=`, ...): a
        symbolic (batch, steps) tensor of `x`'s first two dimensions, bool or numeric (nonzero:
        a real step; the graph casts it to bool)."""
        if isinstance(mask, (list, tuple)) and len(mask) == 1:
            mask = mask[0]
        if not isinstance(mask, KTensor):
            raise ConfigError(f"{self._where()}: {what} must be a symbolic tensor (a kir.Input(..., dtype='bool') "
                              f"or a layer's output) in a functional model, got {type(mask).__name__}; feed "
                              f"the mask values as a model input")
        want = tuple(x.shape[:2])
        if mask.spec.rank != 2 or any(a is not None and b is not None and a != b for a, b in zip(mask.shape, want)):
            raise ShapeError(f"{self._where()}: {what} must have shape {format_shape(want)} (batch, steps) of the "
                             f"input it masks {format_shape(x.shape)}, got {format_shape(mask.shape)}")
        return mask

    def mask_call_kwargs(self, masks: dict[int, Any]) -> dict[str, Any]:
        """The call keyword arguments that give the explicit masks `masks` (input index -> mask, as
        `Node.masks`) again: what saved files record and replay."""
        return {"mask": masks[0]} if 0 in masks else {}

    def new_mask(self, node: Node, shape: Shape) -> KTensor:
        """A new bool mask tensor (batch, timesteps) that this call computes (not one of its outputs)."""
        return KTensor(TensorSpec(tuple(shape), "bool"), node, -1, f"{self.name}/{node.index}:mask")

    def _call_kwarg_inputs(self, kwargs: dict[str, Any]) -> list[KTensor]:
        """The tensors that call keyword arguments add after the inputs (recurrent layers'
        `initial_state`); a layer takes none unless it overrides this."""
        key = next(iter(kwargs))
        raise ConfigError(f"layer '{self.name}': call argument '{key}' is not supported by kir")

    def _check_call_inputs(self, inputs: Any) -> list[KTensor]:
        many = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if many else [inputs]
        for t in tensors:
            if not isinstance(t, KTensor):
                raise ConfigError(
                    f"layer '{self.name}' was called on {type(t).__name__}; call layers on symbolic tensors "
                    f"from kir.Input(...) (or other layers' outputs), and use model.predict for numbers"
                )
        if self.takes_list and not many:
            raise ConfigError(f"layer '{self.name}' ({type(self).__name__}) must be called on a list of tensors")
        if not self.takes_list and many and len(tensors) != 1 and not self._accepts_several():
            raise ConfigError(f"layer '{self.name}' ({type(self).__name__}) takes one tensor, got {len(tensors)}")
        return tensors

    def _accepts_several(self) -> bool:
        return self._is_traced()

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        """Output specs by the op registry's rule, checked against this layer's weights (a traced
        layer's: those of its trace on inputs of these specs)."""
        if self._is_traced():
            from kir.layers.trace import trace_of

            return trace_of(self, None, input_specs).output_specs
        param_shapes = {n: tuple(self.get_weight(n).shape) for n in self.weight_names()}
        return ops.infer(self.op_type, self.ir_attrs(), input_specs, param_shapes, where=self._where())

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Keras' name for the shape rule, on plain shape tuples."""
        many = bool(input_shape) and isinstance(input_shape[0], (list, tuple))
        specs = [TensorSpec(tuple(s)) for s in (input_shape if many else [input_shape])]
        out = [s.shape for s in self.compute_output_specs(specs)]
        return out[0] if len(out) == 1 else out

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        """Lower one call into IR vertices; most layers are exactly one op, a traced layer is the
        primitives its trace recorded."""
        if self._is_traced():
            from kir.layers.trace import trace_of

            trace = trace_of(self, node, [emitter.graph.spec(r) for r in inputs])
            return trace.emit(self, emitter, inputs, self._vertex_name(node), losses=node is not None)
        return emitter.layer_op(self, inputs, name=self._vertex_name(node))

    def step_graph(self, emitter: Emitter, step_inputs: Sequence[TensorSpec]) -> Graph:
        """The graph applying this layer once to inputs of `step_inputs` (TimeDistributed's step);
        a model answers with its own graph."""
        return emitter.layer_step_graph(self, step_inputs)

    def _vertex_name(self, node: Node | None) -> str:
        return self.name if node is None or node.index == 0 else f"{self.name}_call{node.index}"

    def _where(self) -> str:
        return f"layer '{self.name}' ({type(self).__name__})"

    # ------------------------------------------------------------------ nodes
    def _node(self, index: int, what: str) -> Node:
        if not self._inbound_nodes:
            raise GraphError(f"layer '{self.name}' has never been called, so it has no {what}; "
                             f"call it on a tensor first")
        if not isinstance(index, int) or not 0 <= index < len(self._inbound_nodes):
            raise GraphError(f"layer '{self.name}' has {len(self._inbound_nodes)} node(s) "
                             f"(indices 0..{len(self._inbound_nodes) - 1}); node index {index} is out of range")
        return self._inbound_nodes[index]

    @staticmethod
    def _one_or_list(items: list) -> Any:
        return items[0] if len(items) == 1 else list(items)

    def get_input_at(self, node_index: int) -> KTensor | list[KTensor]:
        return self._one_or_list(self._node(node_index, "input").inputs)

    def get_output_at(self, node_index: int) -> KTensor | list[KTensor]:
        return self._one_or_list(self._node(node_index, "output").outputs)

    def get_input_shape_at(self, node_index: int) -> Shape | list[Shape]:
        return self._one_or_list([t.shape for t in self._node(node_index, "input shape").inputs])

    def get_output_shape_at(self, node_index: int) -> Shape | list[Shape]:
        return self._one_or_list([t.shape for t in self._node(node_index, "output shape").outputs])

    def _single_node(self, what: str, accessor: str) -> Node:
        node = self._node(0, what)
        if len(self._inbound_nodes) > 1:
            raise GraphError(
                f"layer '{self.name}' has {len(self._inbound_nodes)} inbound nodes, so its {what} is "
                f"ill-defined; use layer.{accessor}(node_index) instead"
            )
        return node

    @property
    def input(self) -> KTensor | list[KTensor]:
        return self._one_or_list(self._single_node("input", "get_input_at").inputs)

    @property
    def output(self) -> KTensor | list[KTensor]:
        return self._one_or_list(self._single_node("output", "get_output_at").outputs)

    def _agreed_shape(self, what: str, accessor: str, tensors_of) -> Shape | list[Shape]:
        self._node(0, what)
        shapes = {tuple(t.shape for t in tensors_of(n)) for n in self._inbound_nodes}
        if len(shapes) > 1:
            raise GraphError(
                f"layer '{self.name}' has {len(self._inbound_nodes)} inbound nodes with different {what}s "
                f"({', '.join(sorted(' '.join(format_shape(s) for s in group) for group in shapes))}); "
                f"use layer.{accessor}(node_index) instead"
            )
        return self._one_or_list(list(shapes.pop()))

    @property
    def input_shape(self) -> Shape | list[Shape]:
        if not self._inbound_nodes and self._batch_input_shape is not None:
            return self._batch_input_shape
        return self._agreed_shape("input shape", "get_input_shape_at", lambda n: n.inputs)

    @property
    def output_shape(self) -> Shape | list[Shape]:
        return self._agreed_shape("output shape", "get_output_shape_at", lambda n: n.outputs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"
