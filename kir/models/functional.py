"""Model: a graph of layer calls from `inputs` to `outputs`, itself callable like a layer."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from kir import backends
from kir.backends.feeds import check_feeds
from kir.errors import ConfigError, FeedError, GraphError, check_positive_int, did_you_mean
from kir.ir.interpret import recursion_room
from kir.ir.params import WEIGHTS_LOCK
from kir.ir.spec import TensorSpec
from kir.layers.base import Layer, bump_weights_epoch, unique_layer_name, weights_epoch
from kir.layers.emitter import build_graph
from kir.layers.input_layer import InputLayer
from kir.layers.node import Node
from kir.layers.tensor import KTensor
from kir.models.ordering import keras_layer_order, post_order

if TYPE_CHECKING:
    from kir.ir.graph import Graph, Ref
    from kir.layers.emitter import Emitter
    from kir.training.protocol import ExtraLosses


def nesting_depth(root: Layer) -> int:
    """Levels of models/wrappers nested inside `root` (0: none; the nesting depth of its graph);
    iterative, so any depth is measured."""
    depth: dict[int, int] = {}
    stack: list[tuple[Layer, bool]] = [(root, False)]
    while stack:
        layer, expanded = stack.pop()
        if id(layer) in depth:
            continue
        subs = layer.sublayers()
        if expanded:
            depth[id(layer)] = 1 + max(depth.get(id(s), 0) for s in subs) if subs else 0
        else:
            stack.append((layer, True))
            stack.extend((s, False) for s in subs if id(s) not in depth)
    return max(depth[id(root)] - 1, 0)


def _deep(method: Any) -> Any:
    """Run `method` with room on Python's stack for the model's nesting depth (issue 11: the graph
    builder, interpreters and (de)serializers recurse once per nested model)."""
    @functools.wraps(method)
    def wrapper(self: Model, *args: Any, **kwargs: Any) -> Any:
        epoch = weights_epoch()  # bumped by every change of a model's structure too
        cached = self._nesting_cache
        if cached is None or cached[0] != epoch:
            cached = self._nesting_cache = (epoch, nesting_depth(self))
        with recursion_room(cached[1], f"model '{self.name}'"):
            return method(self, *args, **kwargs)

    return wrapper


def as_list(x: Any) -> list:
    """A tensor/array argument as a list: a list or tuple as is, a dict's values, anything else alone."""
    if isinstance(x, dict):
        return list(x.values())
    return list(x) if isinstance(x, (list, tuple)) else [x]


class Model(Layer):
    """A functional model, e.g. `Model(inputs=[a, b], outputs=out)`."""

    op_type = "Call"
    call_takes_mask = True
    """Keras' `Functional.call(inputs, mask=...)`: an explicit mask of the (first) input runs the inner layers on it."""

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name or self._default_name(), trainable=trainable, **kwargs)
        self._graph_cache: tuple[tuple, Graph] | None = None
        self._version_cache: tuple[int, tuple] | None = None
        self._feed_specs: tuple[list, list[str], list[TensorSpec]] | None = None
        """(inputs, their names, their specs) for the predict hot path."""
        self._added_losses: list[KTensor] = []
        self._node_penalties: dict[int, tuple] = {}
        """id(node) -> (node, key, loss tensors, activity pairs) of this model's calls (`_call_penalties`)."""
        self._penalty_cache: tuple | None = None
        """(weights epoch, add_loss tensors, activity pairs): `_penalties`, recursive over nested models."""
        self._training_models: dict[tuple, Model] = {}
        """Models over the same inputs with add_loss / activity outputs appended (`_with_outputs`)."""
        self._nodes: list[Node] = []
        self._layers: list[Layer] = []
        self.inputs: list[KTensor] = []
        self.outputs: list[KTensor] = []
        self._single_input = self._single_output = True
        self.compiled = None
        self.training_state = None
        """Set by fit (kir.training.state.TrainingState): trained values not yet in the layers sync on demand."""
        self._pending_losses: list | None = None
        """While a subclassed model's call() is traced: the tensors its add_loss() got (kir.models.subclassed)."""
        self._compile_args: tuple | None = None
        """compile()'s arguments given before a subclassed model was built (compiled again once it is)."""
        self._nesting_cache: tuple[int, int] | None = None
        """(weights epoch, nesting depth) for `_deep`'s recursion room."""
        self._model_keys = frozenset(vars(self)) | {"_model_keys"}
        """Attributes of Model itself: the others are a subclass's (Keras' tracked sub-layers)."""
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ConfigError(f"Model '{self.name}' needs both inputs= and outputs=")
            self._single_input = not isinstance(inputs, (list, tuple, dict))
            self._single_output = not isinstance(outputs, (list, tuple, dict))
            self._init_graph(as_list(inputs), as_list(outputs))

    @classmethod
    def _default_name(cls) -> str:
        from kir.layers.base import _snake
        from kir.models.subclassed import is_subclassed

        return unique_layer_name(_snake(cls.__name__) if is_subclassed(cls) else "functional")

    def _is_traced(self) -> bool:
        """A model is never traced as a layer: a subclass's call() is traced once, at build, into its graph."""
        return False

    def _subclass_unbuilt(self) -> bool:
        from kir.models.subclassed import is_subclassed

        return not self.inputs and is_subclassed(self)

    def build(self, input_shape: Any = None) -> None:  # type: ignore[override]
        """Keras' `model.build((None, 784))` for a subclassed model: trace its call() on Inputs of
        that shape (a list or dict of shapes for several inputs); a built model ignores it."""
        if input_shape is not None and self._subclass_unbuilt():
            from kir.models import subclassed

            self._build_subclassed(subclassed.specs_from_shapes(input_shape, self))

    def _build_subclassed(self, specs: Any) -> None:
        from kir.models import subclassed

        subclassed.build(self, specs)
        if self._compile_args is not None:
            args, kwargs = self._compile_args
            self._compile_args = None
            self.compile(*args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable}

    # ---------------------------------------------------------------- structure
    def _init_graph(self, inputs: list[KTensor], outputs: list[KTensor]) -> None:
        for t in inputs + outputs:
            if not isinstance(t, KTensor):
                raise GraphError(f"Model '{self.name}': inputs and outputs must be kir tensors, "
                                 f"got {type(t).__name__}")
        for t in inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise GraphError(f"Model '{self.name}': input {t.name} is not an Input tensor; "
                                 f"models start from kir.Input(...)")
        names = [t.node.layer.name for t in inputs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise GraphError(f"Model '{self.name}': duplicate input name(s) {sorted(dup)}; give each Input a "
                             f"unique name=")
        self.inputs, self.outputs = list(inputs), list(outputs)
        self._nodes = self._topological_nodes()
        layers = keras_layer_order(self.inputs, self.outputs)
        by_name: dict[str, Layer] = {}
        for layer in layers:
            if layer.name in by_name and by_name[layer.name] is not layer:
                raise GraphError(f"Model '{self.name}': two different layers are named '{layer.name}'; "
                                 f"layer names must be unique within a model")
            by_name[layer.name] = layer
        self._layers = layers
        self.built = True
        self._graph_cache = None
        bump_weights_epoch()
        node = Node(self, self.inputs, 0)
        node.outputs = list(self.outputs)
        if self._inbound_nodes:
            self._inbound_nodes[0] = node
        else:
            self._inbound_nodes.append(node)

    def _topological_nodes(self) -> list[Node]:
        """Layer calls between inputs and outputs, producers first; refuses an Input not in `inputs`."""
        input_ids = {id(t) for t in self.inputs}

        def connected(tensor: KTensor) -> None:
            if isinstance(tensor.node.layer, InputLayer):
                raise GraphError(
                    f"Model '{self.name}' is disconnected: its outputs depend on Input '{tensor.node.layer.name}' "
                    f"{tensor.shape}, which is not in inputs=[{', '.join(t.node.layer.name for t in self.inputs)}]"
                    f"; add it to Model(inputs=...)"
                )

        return post_order(self.outputs, stop=lambda t: id(t) in input_ids, enter=connected)

    def internal_nodes(self) -> list[Node]:
        return list(self._nodes)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def sublayers(self) -> list[Layer]:
        return [lay for lay in self._layers if not isinstance(lay, InputLayer)]

    def _trainable_children(self) -> list[Layer]:
        return list(self._layers)  # input layers too, as Keras' setter reaches them

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise GraphError(f"Model '{self.name}' has {len(self._layers)} layers; index {index} is out of range")
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        from kir.errors import did_you_mean

        raise GraphError(f"Model '{self.name}' has no layer named '{name}'."
                         f"{did_you_mean(str(name), [lay.name for lay in self._layers])}")

    @property
    def input_names(self) -> list[str]:
        return [t.node.layer.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """Keras names outputs after the layers producing them (`main_output`, `aux_output`)."""
        if not self.outputs and self._compile_args is not None:  # a subclassed model compiled before its build
            args, kwargs = self._compile_args
            loss = kwargs.get("loss", args[1] if len(args) > 1 else None)
            if isinstance(loss, dict):
                return [str(k) for k in loss]
            return [f"output_{i}" for i in range(len(loss) if isinstance(loss, (list, tuple)) else 1)]
        names: list[str] = []
        for t in self.outputs:
            base = t.node.layer.name
            names.append(base if base not in names else f"{base}_{t.node.index}_{t.index}")
        return names

    @property
    def input(self) -> KTensor | list[KTensor]:
        return self.inputs[0] if self._single_input and len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self) -> KTensor | list[KTensor]:
        return self.outputs[0] if self._single_output and len(self.outputs) == 1 else list(self.outputs)

    @property
    def input_shape(self) -> Any:
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    # ---------------------------------------------------------------- IR
    def weights_version(self) -> tuple:
        """Changes whenever a weight of any layer in the model changes (cached per global epoch)."""
        epoch = weights_epoch()
        cached = self._version_cache
        if cached is None or cached[0] != epoch:
            cached = self._version_cache = (epoch, tuple(lay.weights_version() for lay in self.sublayers()))
        return cached[1]

    @_deep
    def to_graph(self) -> Graph:
        """The model's IR (cached until a weight changes). Callers must not mutate it: copy first."""
        self._require_built()
        self.sync_weights()
        with WEIGHTS_LOCK:  # the graph's store holds one consistent set of weights
            version = self.weights_version()
            cached = self._graph_cache
            if cached is None or cached[0] != version:
                cached = self._graph_cache = (version, build_graph(self))
        return cached[1]

    def sync_weights(self) -> None:
        """Copy values trained since the last copy from the training program into the layers (fit
        copies lazily, so reading weights mid-epoch shows the current values at no cost per step)."""
        state = self.training_state
        if state is not None:
            state.flush()

    def get_weights(self) -> list[np.ndarray]:
        self.sync_weights()
        return super().get_weights()

    def _require_built(self) -> None:
        if self._subclass_unbuilt():
            raise GraphError(f"model '{self.name}' ({type(self).__name__}) is not built yet; call "
                             f"model.build((None, ...)) or fit/predict/call it on data first (kir then traces call())")
        if not self.inputs:
            raise GraphError(f"model '{self.name}' has no inputs yet; give its first layer input_shape=... "
                             f"or call it on data first")

    def _require_compilable(self) -> None:
        """compile() needs the outputs known (a Sequential without an input shape builds later, as
        does a subclassed model)."""
        if not self._subclass_unbuilt():
            self._require_built()

    # ---------------------------------------------------------------- add_loss and regularization
    def add_loss(self, losses: Any) -> None:
        """Keras' `model.add_loss`: symbolic tensors of this model's graph (a list, or a function
        returning them, called now) whose sums are added to the training loss each step and
        reported in `loss`. Then `compile()` needs no loss and `fit(x)` no targets."""
        if callable(losses) and not isinstance(losses, KTensor):
            losses = losses()
        items = list(losses) if isinstance(losses, (list, tuple)) else [losses]
        if self._pending_losses is not None:  # inside a subclass's call(): added once the graph is built
            self._pending_losses.extend(items)
            return
        for t in items:
            if not isinstance(t, KTensor):
                raise ConfigError(f"Model '{self.name}'.add_loss takes symbolic tensors computed from the model's "
                                  f"inputs (layer outputs, or kir.backend ops on them), got {type(t).__name__}")
        self._require_built()
        added = self._added_losses + items
        try:
            self._with_outputs(added)  # checks the tensors are computed from the model's inputs
        except GraphError as exc:
            raise GraphError(f"Model '{self.name}'.add_loss: {exc}") from None
        self._added_losses = added
        bump_weights_epoch()  # a model calling this one collects its losses again (`_penalties`)

    @property
    def losses(self) -> list[KTensor]:
        """The tensors given to `add_loss`: the model's, then those its layers' call()s added, per
        call, nested models' included (one set per call of the nested model, as Keras collects
        `losses` over all sublayers); regularizer penalties are added by training itself."""
        return list(self._penalties_deep()[0])

    @_deep
    def _penalties_deep(self) -> tuple[list[KTensor], list[tuple[KTensor, Any]]]:
        """`_penalties` with room on the stack for the nesting depth (it recurses per level)."""
        return self._penalties()

    def _penalties(self) -> tuple[list[KTensor], list[tuple[KTensor, Any]]]:
        """(add_loss tensors, (layer output, activity regularizer) pairs) of this model's graph: its
        own and its layers' calls', then, per call of a nested model, that model's; cached until
        the weights epoch moves (add_loss and structure changes bump it), so a nesting of depth N
        is collected in O(N)."""
        epoch = weights_epoch()
        cached = self._penalty_cache
        if cached is None or cached[0] != epoch:
            losses = list(self._added_losses)
            activity = [(t, node.layer.activity_regularizer) for node in self._nodes
                        if getattr(node.layer, "activity_regularizer", None) is not None for t in node.outputs]
            for node in self._nodes:
                layer = node.layer
                if isinstance(layer, Model):
                    nested_losses, nested_activity = layer._call_penalties(node)
                    losses += nested_losses
                    activity += nested_activity
                else:
                    losses += layer.loss_tensors(node)
            cached = self._penalty_cache = (epoch, losses, activity)
        return cached[1], cached[2]

    def _call_penalties(self, node: Node | None) -> tuple[list[KTensor], list[tuple[KTensor, Any]]]:
        """For one call of this model as a layer of another: its add_loss values and its activity-
        regularized outputs, as tensors of that call (emitted after the call's outputs, in this
        order), so the calling model trains on them once per call."""
        if node is None or node.layer is not self or not self.inputs:
            return [], []
        losses, activity = self._penalties()
        if not losses and not activity:
            return [], []
        key = tuple(map(id, losses + [t for t, _ in activity]))
        cached = self._node_penalties.get(id(node))
        if cached is None or cached[0] is not node or cached[1] != key:
            n, k = len(node.outputs), len(losses)
            made = [KTensor(t.spec, node, n + j, f"{self.name}/{node.index}:loss{j}") for j, t in enumerate(losses)]
            acts = [(KTensor(t.spec, node, n + k + j, f"{self.name}/{node.index}:activity{j}"), reg)
                    for j, (t, reg) in enumerate(activity)]
            cached = self._node_penalties[id(node)] = (node, key, made, acts)
        return list(cached[2]), list(cached[3])

    def loss_tensors(self, node: Node) -> list[KTensor]:
        """What a call of this nested model emits after its outputs: its add_loss values, then its
        activity-regularized outputs (`_call_penalties`); `losses` lists the first only."""
        losses, activity = self._call_penalties(node)
        return losses + [t for t, _ in activity]

    def _penalty_model(self) -> Model:
        """This model with its add_loss values and activity-regularized outputs appended to its
        outputs, in `_call_penalties`' order: the graph a call of it as a nested model runs."""
        losses, activity = self._penalties()
        return self._with_outputs(losses + [t for t, _ in activity])

    def training_graph(self) -> tuple[Graph, ExtraLosses]:
        """The graph fit/evaluate run and the penalties they add to the loss: weight regularizers
        of trainable weights, activity regularizers of the model's layer calls, add_loss tensors.
        Without activity regularizers and add_loss it is the model's own graph."""
        from kir.layers._args import weight_constraints, weight_regularizers
        from kir.training.protocol import ExtraLosses

        self._require_built()
        added = self.losses
        base = self._with_outputs(added)
        activity = base._penalties_deep()[1]
        covered = base._graph_layers()
        inner = [lay for lay, _ in base._weight_slots() if id(lay) not in covered
                 and getattr(lay, "activity_regularizer", None) is not None]
        if inner:
            raise ConfigError(f"layer '{inner[0].name}' has an activity_regularizer but is inside a wrapper or a "
                              f"traced layer's call() in model '{self.name}'; kir applies activity regularizers to "
                              f"layers called in the model's graph or in a nested model's")
        from kir.layers._masks import output_masks

        masks = output_masks(self.outputs)  # Keras 3 weights the loss by the outputs' masks
        model = self._with_outputs([t for t, _ in activity] + added + [m for m in masks if m is not None])
        graph = model.to_graph()
        weights, projections = [], []
        for layer, name in model._weight_slots():
            reg = weight_regularizers(layer).get(name)
            if reg is not None:
                key = graph.store.register((id(layer), name), f"{layer.name}/{name}", layer.get_weight(name))
                if graph.store.is_trainable(key):
                    weights.append((key, reg))
            constraint = weight_constraints(layer).get(name)
            if constraint is not None:
                key = graph.store.register((id(layer), name), f"{layer.name}/{name}", layer.get_weight(name))
                if graph.store.is_trainable(key):
                    projections.append((key, constraint))
        n, k = len(self.outputs), len(activity)
        mask_index, at = [], n + k + len(added)
        for m in masks:
            mask_index.append(None if m is None else at)
            at += m is not None
        return graph, ExtraLosses(n, tuple(weights), tuple((n + i, reg) for i, (_, reg) in enumerate(activity)),
                                  tuple(range(n + k, n + k + len(added))), tuple(mask_index), tuple(projections))

    def _graph_layers(self) -> set[int]:
        """ids of the layers called in this model's graph or (recursively) in a nested model's."""
        found: set[int] = set()
        stack: list[Model] = [self]
        while stack:
            model = stack.pop()
            for node in model._nodes:
                if id(node.layer) not in found:
                    found.add(id(node.layer))
                    if isinstance(node.layer, Model):
                        stack.append(node.layer)
        return found

    def _with_outputs(self, extra: list[KTensor]) -> Model:
        """This model, or (cached) one over the same inputs whose outputs continue with `extra`."""
        if not extra:
            return self
        key = (tuple(map(id, self.inputs + self.outputs + extra)), self.trainable)
        cache = self._training_models
        if key not in cache:
            if len(cache) > 4:
                cache.clear()
            cache[key] = Model(self.inputs, self.outputs + extra, name=self.name, trainable=self.trainable)
        return cache[key]

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        from kir.ir.shapes import call_specs

        if list(input_specs) == [t.spec for t in self.inputs]:  # the specs its own layers inferred: no graph
            return [t.spec for t in self.outputs]               # to build (a depth-N nesting built in O(N))
        with recursion_room(nesting_depth(self), f"model '{self.name}'"):
            return call_specs(self.to_graph(), input_specs, self._where())

    def _accepts_several(self) -> bool:
        return len(self.inputs) > 1

    @contextmanager
    def _masks_through(self, shapes: tuple) -> Iterator[None]:
        """While inside: this model's tensors carry the masks a call whose inputs carry masks of
        `shapes` (None: no mask) gives them, as Keras' functional call with `mask=` (each inner
        layer's compute_mask on the caller's masks); the tensors' own masks come back after."""
        saved = [(t, t.mask) for t in self.inputs] + [(t, t.mask) for n in self._nodes for t in n.outputs]
        try:
            for t, shape in zip(self.inputs, shapes):
                t.mask = None if shape is None else KTensor(TensorSpec(shape, "bool"), t.node, -1, f"{t.name}:mask")
            if any(shape is not None for shape in shapes):
                for node in self._nodes:
                    for out, mask in zip(node.outputs, node.layer.compute_mask(node, node.input_masks())):
                        out.mask = mask
            yield
        finally:
            for t, mask in saved:
                t.mask = mask

    def _mask_shapes(self, masks: list[Any]) -> tuple:
        """Per model input: the shape of the mask its tensor carries, or None (a graph cache key)."""
        return tuple(None if m is None else tuple(m.shape) for m in masks[:len(self.inputs)])

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        """Keras' Functional.compute_mask: the output masks of the inner graph run on the call's masks."""
        with self._masks_through(self._mask_shapes(masks)):
            inner = [t.mask for t in self.outputs]
        return [None if m is None else self.new_mask(node, m.shape) for m in inner]

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        """One Call vertex running this model's graph; a call that has penalties (`_call_penalties`)
        runs the graph with them as extra outputs, after the regular ones, so the caller trains on them."""
        name = self._vertex_name(node)
        penalties = len(self.loss_tensors(node)) if node is not None else 0
        inner = self._penalty_model() if penalties else self
        if node is None or all(m is None for m in node.input_masks() + [t.mask for t in node.outputs]):
            return emitter.op("Call", inputs, {}, self, {}, name, emitter.model_graph(inner))
        in_masks = [emitter.input_mask(node, i) for i in range(len(self.inputs))]
        shapes = self._mask_shapes(node.input_masks())  # an explicit `mask=` of this call overrides
        with self._masks_through(shapes):  # the inner graph with mask inputs / outputs (docs/ops.md, "Masks")
            sub = emitter.model_graph(inner, shapes)
            carried = [t.mask is not None for t in inner.outputs]
        refs = emitter.op("Call", [*inputs, *(m for m in in_masks if m is not None)], {}, self, {}, name, sub)
        n = len(self.outputs) + penalties
        extra = iter(refs[n:])
        for i, has_mask in enumerate(carried):
            ref = next(extra) if has_mask else None
            if ref is not None and i < len(node.outputs) and node.outputs[i].mask is not None:
                emitter.bind_mask(node.outputs[i].mask, ref)
        return refs[:n]

    def build_once(self, input_specs: list[TensorSpec]) -> None:
        """A model is built by its own graph, never from a caller's inputs."""

    def step_graph(self, emitter: Emitter, step_inputs: Any) -> Graph:
        return emitter.model_graph(self)

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        from kir.models import subclassed

        if subclassed.is_subclassed(self):
            if not all(isinstance(t, KTensor) for t in as_list(inputs)):
                return self.predict(inputs, verbose=0)  # Keras' eager `model(x)` on data (builds it first)
            if not self.inputs:
                self._build_subclassed(subclassed.specs_from_tensors(inputs))
        self._require_built()
        tensors = as_list(inputs)
        if len(tensors) != len(self.inputs):
            raise GraphError(f"model '{self.name}' takes {len(self.inputs)} input(s) "
                             f"({', '.join(self.input_names)}), got {len(tensors)}")
        if isinstance(inputs, dict):
            tensors = [inputs[n] for n in self.input_names]
        out = super().__call__(tensors if len(tensors) > 1 else tensors[0], **kwargs)
        return out

    # ---------------------------------------------------------------- running
    @_deep
    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: Any = None,
                callbacks: Any = None, backend: str = "numpy") -> np.ndarray | list[np.ndarray]:
        """Outputs for `x` (array, list, or dict keyed by input name; or a generator, PyDataset or
        tf.data.Dataset of batches, `steps` of them if given) on the chosen backend."""
        from kir.training.streaming import input_batches, is_stream

        if is_stream(x):
            from contextlib import closing

            with closing(input_batches(x, steps)) as batches:  # a PyDataset's workers end on any exit
                parts = [self.predict(xb, batch_size=batch_size, verbose=verbose, backend=backend)
                         for xb in batches]
            if not parts:
                raise FeedError(f"model '{self.name}': predict() got a {type(x).__name__} that yielded no batch")
            if not isinstance(parts[0], list):
                return np.concatenate(parts)
            return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
        self._ensure_built_for(x)
        self._require_built()
        if batch_size is not None:
            check_positive_int(batch_size, f"model '{self.name}': batch_size", FeedError, allow_none=True)
        feeds = self.check_inputs(x)
        outputs = backends.get(backend).predict(self.to_graph(), feeds, batch_size=batch_size)
        return outputs[0] if len(outputs) == 1 and self._single_output else list(outputs)

    def check_inputs(self, x: Any) -> list[np.ndarray]:
        """Input arrays in model input order, checked against the Input shapes and cast to their dtypes."""
        if self._feed_specs is None or self._feed_specs[0] is not self.inputs:
            self._feed_specs = (self.inputs, self.input_names, [t.spec for t in self.inputs])
        return check_feeds(self._feed_specs[1], self._feed_specs[2], x, self.name)

    def _ensure_built_for(self, x: Any) -> None:
        """Sequential models without an input shape, and subclassed models, build here from the data."""
        if x is not None and self._subclass_unbuilt():
            from kir.models import subclassed

            self._build_subclassed(subclassed.specs_from_data(x, self))

    @_deep
    def summary(self, line_length: int | None = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False) -> None:
        from kir.models.summary import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn, expand_nested=expand_nested,
                      show_trainable=show_trainable)

    @_deep
    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Write `m.keras` as a Keras 3 archive and `m.h5` / `m.hdf5` in Keras' legacy HDF5 format (with
        Keras' warning that it is legacy): `keras.models.load_model` opens both. Any other name gets
        the native `.kir` format (JSON graph + numpy weights, no pickle)."""
        import os

        self.sync_weights()
        path = os.fspath(filepath)
        if path.endswith(".weights.h5"):
            raise ConfigError(f"'{path}' names a weights file; use model.save_weights('{path}'), or save the "
                              f"whole model as '.keras' or '.kir'")
        if path.lower().endswith((".h5", ".hdf5")):
            from kir.models.keras_files.legacy_writer import save_h5

            save_h5(self, path, overwrite=overwrite, stacklevel=3)  # 3: past this method and @_deep
            return
        if path.endswith(".keras"):
            from kir.models.keras_files import save_keras

            save_keras(self, filepath, overwrite=overwrite)
            return
        from kir.models.saving import save_model

        save_model(self, filepath, overwrite=overwrite)

    @_deep
    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Write the weights in Keras 3's `.weights.h5` layout (Keras' `load_weights` reads it)."""
        from kir.models.keras_files import save_weights

        self.sync_weights()
        save_weights(self, filepath, overwrite=overwrite)

    @_deep
    def load_weights(self, filepath: str, skip_mismatch: bool = False) -> None:
        """Read weights saved by `save_weights` here or in Keras (`.weights.h5`, legacy `.h5`, `.keras`)."""
        from kir.errors import ConfigError
        from kir.models.keras_files import load_weights

        if skip_mismatch:
            raise ConfigError(f"model '{self.name}': load_weights(skip_mismatch=True) is not supported; kir loads "
                              f"every weight or none")
        load_weights(self, filepath)

    @_deep
    def export(self, filepath: str, format: str = "onnx", **kwargs: Any) -> Any:
        """Write an ONNX model (see kir.backends.onnx.export for the options)."""
        if format != "onnx":
            raise ConfigError(f"export format '{format}' is not supported; kir exports format='onnx'")
        import inspect

        from kir.backends.onnx import export

        known = list(inspect.signature(export).parameters)[2:]
        unknown = [k for k in kwargs if k not in known]
        if unknown:
            raise ConfigError(f"export() got an unexpected argument '{unknown[0]}'.{did_you_mean(unknown[0], known)} "
                              f"Its options are: {', '.join(known)}")
        return export(self.to_graph(), filepath, **kwargs)

    # ---------------------------------------------------------------- training (TensorFlow backend)
    saved_dtype_policy: str | None = None
    """The mixed precision policy a loaded model was saved under: its compile trains under it, not the
    global policy (as Keras' layers keep the policy they were built under); None for models built here."""

    def compile(self, *args: Any, **kwargs: Any) -> None:
        from kir.mixed_precision import policy_scope
        from kir.models.subclassed import is_subclassed, refuse_custom_steps
        from kir.training import compile_model

        if is_subclassed(self):
            refuse_custom_steps(self)
            if not self.inputs:  # compiled again with the real outputs once built
                self._compile_args = (args, kwargs)
        with policy_scope(self.saved_dtype_policy):
            compile_model(self, *args, **kwargs)

    @_deep
    def fit(self, *args: Any, **kwargs: Any) -> Any:
        from kir.training import fit

        return fit(self, *args, **kwargs)

    @_deep
    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        from kir.training import evaluate

        return evaluate(self, *args, **kwargs)

    @_deep
    def train_on_batch(self, *args: Any, **kwargs: Any) -> Any:
        from kir.training import train_on_batch

        return train_on_batch(self, *args, **kwargs)

    @_deep
    def test_on_batch(self, *args: Any, **kwargs: Any) -> Any:
        from kir.training import test_on_batch

        return test_on_batch(self, *args, **kwargs)

    def predict_on_batch(self, x: Any, backend: str = "numpy") -> Any:
        return self.predict(x, batch_size=None, backend=backend)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name} inputs={self.input_names} outputs={self.output_names}>"


Functional = Model
