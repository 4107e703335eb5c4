"""Lowering the frontend (layers, nodes, models) into a `Graph`.

Each layer decides how its call becomes vertices through `Layer.emit(emitter, refs, node)`;
most emit one vertex whose op is the layer's op type, a few (Bidirectional) emit several, and
nested models / TimeDistributed emit a vertex that holds a sub-graph. Weights go into the
graph's ParamStore with the trainable flag in force when the graph is built (a frozen model
freezes everything inside it) and the owning layer's setter as write-back callback, so backends
train graphs without knowing about layers; `graph.attrs["frozen_layers"]` names the layers that
run in inference mode while training (a frozen BatchNormalization keeps its statistics).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from kir.errors import GraphError
from kir.ir.graph import Graph, Ref
from kir.ir.params import ParamStore
from kir.ir.shapes import infer_vertex
from kir.ir.spec import TensorSpec

if TYPE_CHECKING:
    from kir.layers.base import Layer
    from kir.layers.node import Node
    from kir.layers.tensor import KTensor


def effective_trainable(root: Layer) -> tuple[dict[int, bool], list[str]]:
    """id(layer) -> trainable, where a non-trainable model or wrapper freezes everything inside
    it (a layer reachable along several paths trains if any of them lets it), and the names of
    the layers that end up frozen."""
    out: dict[int, bool] = {}
    names: dict[int, str] = {}
    stack: list[tuple[Layer, bool]] = [(root, True)]
    while stack:
        layer, parent = stack.pop()
        eff = parent and layer.trainable
        if out.get(id(layer)) is True or (id(layer) in out and not eff):
            continue
        out[id(layer)], names[id(layer)] = eff, layer.name
        stack.extend((sub, eff) for sub in layer.sublayers())
    return out, sorted({names[i] for i, eff in out.items() if not eff})


class Emitter:
    """What a layer sees while lowering one of its calls into `graph`."""

    def __init__(self, graph: Graph, cache: dict[Any, Graph], trainable: dict[int, bool] | None = None) -> None:
        self.graph = graph
        self._cache = cache
        self._trainable = trainable if trainable is not None else {}
        self._masks: dict[int, Ref] = {}
        """id(mask KTensor) -> the ref of the graph tensor computing it (docs/ops.md, "Masks")."""

    def input_mask(self, node: Node | None, index: int = 0) -> Ref | None:
        """The graph tensor of the mask that input `index` of call `node` carries (None: no mask,
        or no node, as in step graphs)."""
        if node is None or index >= len(node.inputs):
            return None
        mask = node.masks.get(index, node.inputs[index].mask)
        return None if mask is None else self._masks[id(mask)]

    def bind_mask(self, mask: KTensor, ref: Ref) -> None:
        """Record that `ref` computes the mask tensor `mask` (made by `Layer.new_mask`)."""
        self._masks[id(mask)] = ref

    def param(self, layer: Layer, weight: str) -> str:
        """The store key of `layer`'s weight (one key per weight however often the layer is called)."""
        trainable = self._trainable.get(id(layer), layer.trainable) and layer.weight_trainable(weight)
        return self.graph.store.register((id(layer), weight), f"{layer.name}/{weight}", layer.get_weight(weight),
                                         trainable=trainable, writer=partial(layer.assign_weight, weight))

    def op(
        self,
        op: str,
        inputs: Sequence[Ref],
        attrs: dict[str, Any] | None = None,
        layer: Layer | None = None,
        params: dict[str, str] | None = None,
        name: str | None = None,
        subgraph: Graph | None = None,
    ) -> list[Ref]:
        """Add one vertex, infer its output specs with the op's rule, return its output refs."""
        g = self.graph
        vid = g.add_vertex(op, inputs, attrs, [], name or (layer.name if layer else None), params,
                           layer.name if layer else None, subgraph)
        v = g.vertex(vid)
        v.outputs = infer_vertex(g, v, [g.spec(r) for r in inputs])
        return [(vid, i) for i in range(len(v.outputs))]

    def layer_op(self, layer: Layer, inputs: Sequence[Ref], attrs: dict[str, Any] | None = None,
                 op: str | None = None, weights: Sequence[str] | None = None, name: str | None = None) -> list[Ref]:
        """The common case: one vertex for `layer`, with all (or the named) weights as params."""
        names = layer.weight_names() if weights is None else weights
        params = {w: self.param(layer, w) for w in names}
        return self.op(op or layer.op_type, inputs, layer.ir_attrs() if attrs is None else attrs,
                       layer, params, name)

    def model_graph(self, model: Any, masks: tuple | None = None) -> Graph:
        """The graph of a nested model, sharing this graph's parameter store; with `masks` (per input:
        its mask's shape, or None) the mask-carrying variant of `build_graph`, built while the model's
        tensors carry the masks of this call (`Model._masks_through`)."""
        key = id(model) if masks is None else (id(model), masks)
        g = self._cache.get(key)
        if g is None:
            g = build_graph(model, self.graph.store, self._cache, self._trainable, masks)
            self._cache[key] = g
        return g

    def step_graph(self, layer: Layer, step_inputs: Sequence[TensorSpec]) -> Graph:
        """A graph applying `layer` (a layer or a model) once to inputs of `step_inputs` specs."""
        return layer.step_graph(self, step_inputs)

    def layer_step_graph(self, layer: Layer, step_inputs: Sequence[TensorSpec]) -> Graph:
        """The step graph of a plain layer: Inputs of `step_inputs`, then the layer's own vertices."""
        g = Graph(f"{layer.name}_step", self.graph.store)
        refs = [(g.add_vertex("Input", (), {"name": f"{layer.name}_step_input_{i}", "shape": list(s.shape),
                                             "dtype": s.dtype}, [s], f"{layer.name}_step_input_{i}"), 0)
                for i, s in enumerate(step_inputs)]
        g.inputs = [r[0] for r in refs]
        g.outputs = layer.emit(Emitter(g, self._cache, self._trainable), refs, None)
        g.output_names = [f"{layer.name}_step_output_{i}" for i in range(len(g.outputs))]
        return g


def build_graph(model: Any, store: ParamStore | None = None, cache: dict[Any, Graph] | None = None,
                trainable: dict[int, bool] | None = None, masks: tuple | None = None) -> Graph:
    """The IR of a functional model: Input vertices, one or more vertices per layer call. With
    `masks` (a nested model's call carrying Keras masks, docs/ops.md "Masks"), each input whose
    entry is not None gets a bool mask Input after the regular inputs, bound to the mask its tensor
    carries, and every output carrying a mask gives it as an extra output after the regular ones."""
    graph = Graph(model.name, store)
    if trainable is None:  # the outermost model: record which layers train as of now
        trainable, graph.attrs["frozen_layers"] = effective_trainable(model)
    emitter = Emitter(graph, {} if cache is None else cache, trainable)
    refs: dict[int, Ref] = {}
    for tensor in model.inputs:
        layer = tensor.node.layer
        vid = graph.add_vertex("Input", (), {"name": layer.name, "shape": list(tensor.shape),
                                             "dtype": tensor.dtype, **layer.ir_attrs()},
                               [tensor.spec], layer.name, layer=layer.name)
        graph.inputs.append(vid)
        refs[id(tensor)] = (vid, 0)
    for tensor, shape in zip(model.inputs, masks or ()):
        if shape is not None:
            name = f"{tensor.node.layer.name}_mask"
            vid = graph.add_vertex("Input", (), {"name": name, "shape": list(shape), "dtype": "bool"},
                                   [tensor.mask.spec], name, layer=tensor.node.layer.name)
            graph.inputs.append(vid)
            emitter.bind_mask(tensor.mask, (vid, 0))
    for node in model.internal_nodes():
        for mask in node.masks.values():  # explicit `mask=` tensors: the graph's own, as bool
            if id(mask) not in emitter._masks:
                ref = refs[id(mask)]
                if graph.spec(ref).dtype != "bool":
                    ref = emitter.op("Cast", [ref], {"dtype": "bool"}, node.layer,
                                     name=f"{node.layer._vertex_name(node)}_mask_bool")[0]
                emitter.bind_mask(mask, ref)
        outs = node.layer.emit(emitter, [refs[id(t)] for t in node.inputs], node)
        for tensor, ref in zip(node.outputs + node.layer.loss_tensors(node), outs):  # add_loss values after outputs
            refs[id(tensor)] = ref
            if tensor.mask is not None and id(tensor.mask) not in emitter._masks:
                raise GraphError(f"layer '{node.layer.name}' gave output {tensor.name} a mask it did not emit; "
                                 f"a layer that makes a mask must bind it with Emitter.bind_mask")
    graph.outputs = [refs[id(t)] for t in model.outputs]
    graph.output_names = list(model.output_names)
    if masks is not None:
        carried = [(t, n) for t, n in zip(model.outputs, model.output_names) if t.mask is not None]
        graph.outputs += [emitter._masks[id(t.mask)] for t, _ in carried]
        graph.output_names += [f"{n}_mask" for _, n in carried]
    return graph
