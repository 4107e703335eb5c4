"""Where Keras keeps each weight: Keras 3's `model.weights.h5` tree and the legacy HDF5 lists.

Keras 3 (`saving_lib`) walks a model's objects and writes each object's own variables under
`<path>/vars/0..n`, with `vars.attrs["name"]` the object's name. A model's children are its `layers`
(a Functional lists its InputLayers, a Sequential does not), each named by its snake-cased class and
numbered among siblings of the same class (`dense`, `dense_1`); then every other child attribute in
sorted order: an RNN's `cell` (which owns the weights), TimeDistributed's `layer`, Bidirectional's
`backward_layer` and `forward_layer`. An object reached a second time (a shared layer) is skipped,
though its sibling number is still used up. `Node` mirrors that object tree for a kir model.

The legacy format (tf.keras 2 `.h5`, Keras 3 `model.save("m.h5")`) lists, per top-level layer, the
names of its weights in the order `trainable_weights + non_trainable_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kir.errors import LoadError
from kir.layers.base import Layer
from kir.layers.wrappers import Bidirectional, TimeDistributed
from kir.models.functional import Model
from kir.models.keras_files import safety
from kir.models.keras_files.values import to_snake_case
from kir.models.sequential import Sequential

CELLS = {"SimpleRNN": "SimpleRNNCell", "GRU": "GRUCell", "LSTM": "LSTMCell"}
CELLS.update(dict.fromkeys(("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"), "ConvLSTMCell"))


@dataclass
class Node:
    """One Keras object: its class (for the group name), its name, the kir layer whose weights it
    stores and their names, and its children by attribute (a list for `layers`)."""

    key: tuple[int, str]
    keras_class: str
    name: str
    layer: Layer
    weights: list[str]
    trainable: bool
    children: list[tuple[str, Any]] = field(default_factory=list)


def tree(layer: Layer, orders: dict[int, list[Layer]] | None = None) -> Node:
    """The Keras object tree of `layer`; `orders` gives models' layers in a config's order."""
    orders = orders or {}
    cls = type(layer).__name__
    node = Node((id(layer), "self"), cls, layer.name, layer, [], bool(layer.trainable))
    if isinstance(layer, Model):
        node.keras_class = "Sequential" if isinstance(layer, Sequential) else "Functional"
        members = orders.get(id(layer), layer.layers)
        node.children = [("layers", [tree(member, orders) for member in members])]
    elif isinstance(layer, TimeDistributed):
        node.children = [("layer", tree(layer.layer, orders))]
    elif isinstance(layer, Bidirectional):  # Keras tracks forward first; the file walk sorts by name
        node.children = [("forward_layer", tree(layer.forward_layer, orders)),
                         ("backward_layer", tree(layer.backward_layer, orders))]
    elif cls == "MultiHeadAttention":  # Keras' EinsumDense sub-layers: <mha>/query_dense/vars/0 (kernel), 1 (bias)
        node.children = [(f"{sub}_dense", Node((id(layer), sub), "EinsumDense", prefix, layer,
                                               [w for w in layer.weight_names() if w.startswith(f"{prefix}/")],
                                               bool(layer.trainable)))
                         for sub, prefix in (("query", "query"), ("key", "key"), ("value", "value"),
                                             ("output", "attention_output"))]
    elif cls in CELLS:
        cell = Node((id(layer), "cell"), CELLS[cls], to_snake_case(CELLS[cls]), layer, layer.weight_names(),
                    bool(layer.trainable))
        node.children = [("cell", cell)]
    else:
        node.weights = layer.weight_names()
    return node


def walk(root: Node) -> list[tuple[str, Node]]:
    """(path, node) for every object Keras 3 writes, in its order ('' is the root)."""
    found: list[tuple[str, Node]] = []
    visited: set[tuple[int, str]] = set()

    def join(path: str, name: str) -> str:
        return f"{path}/{name}" if path else name

    def visit(node: Node, path: str) -> None:
        if node.key in visited:
            return
        visited.add(node.key)
        found.append((path, node))
        for attr, child in sorted(node.children, key=lambda item: (item[0] != "layers", item[0])):
            if isinstance(child, list):
                used: dict[str, int] = {}
                for member in child:
                    base = to_snake_case(member.keras_class)
                    used[base] = used.get(base, -1) + 1
                    visit(member, join(join(path, attr), base if used[base] == 0 else f"{base}_{used[base]}"))
            else:
                visit(child, join(path, attr))

    visit(root, "")
    return found


def weight_order(node: Node, trainable: bool = True, seen: set | None = None) -> list[tuple[Layer, str, bool]]:
    """Keras' `layer.weights` order (own weights, then children as tracked), deduplicated, each with
    whether it trains (a frozen ancestor freezes everything below it)."""
    seen = set() if seen is None else seen
    trainable = trainable and node.trainable
    out = []
    for name in node.weights:
        if (id(node.layer), name) not in seen:
            seen.add((id(node.layer), name))
            out.append((node.layer, name, trainable and node.layer.weight_trainable(name)))
    for _, child in node.children:
        for member in child if isinstance(child, list) else [child]:
            out.extend(weight_order(member, trainable, seen))
    return out


def legacy_order(node: Node) -> list[tuple[Layer, str]]:
    """`trainable_weights + non_trainable_weights`: the order legacy HDF5 files list a layer's weights."""
    slots = weight_order(node)
    return [(lay, n) for lay, n, t in slots if t] + [(lay, n) for lay, n, t in slots if not t]


def legacy_paths(root: Node) -> dict[tuple[int, str], str]:
    """Keras 3's `variable.path` of each weight under `root` (what legacy HDF5 files list as
    `weight_names`): the name scopes the weight was built in. A layer builds its weights in its own
    scope (`dense/kernel`) and its sub-layers in it too (`lstm/lstm_cell/kernel`,
    `bi/forward_gru/gru_cell/kernel`, `td/step_dense/kernel`); a Sequential builds its layers in its
    scope (`seq/dense/kernel`), a Functional in none (`dense/kernel`), and a model keeps the paths
    of its own build wherever it is used later."""
    paths: dict[tuple[int, str], str] = {}

    def visit(node: Node, prefix: str) -> None:
        layer = node.layer
        if node.key[1] == "self" and isinstance(layer, Model):
            scope = f"{layer.name}/" if isinstance(layer, Sequential) else ""
        elif node.key[1] == "self":
            scope = f"{prefix}{layer.name}/"
        else:  # a Keras sub-object of the kir layer: an RNN's cell; MHA's projections (names carry their prefix)
            scope = f"{prefix}{node.name}/" if node.key[1] == "cell" else prefix
        for name in node.weights:
            paths.setdefault((id(layer), name), scope + name)
        for _, child in node.children:
            for member in child if isinstance(child, list) else [child]:
                visit(member, scope)

    visit(root, "")
    return paths


# --------------------------------------------------------------------------- Keras 3 layout
def _layers_group(h5: Any) -> str:
    """tf.keras 2.13-2.15 named the layers group `_layer_checkpoint_dependencies`."""
    if not safety.has_child(h5, "layers") and safety.has_child(h5, "_layer_checkpoint_dependencies"):
        return "_layer_checkpoint_dependencies"
    return "layers"


def read_layout(h5: Any, root: Node, source: str) -> list[tuple[Layer, str, np.ndarray]]:
    """Every weight of the tree read from an open Keras 3 weights file (checked, not yet assigned)."""
    layers_name = _layers_group(h5)
    found = []
    for path, node in walk(root):
        if not node.weights:
            continue
        path = "/".join(layers_name if part == "layers" else part for part in path.split("/")) if path else path
        where = f"{source}: '{path or '/'}' (layer '{node.layer.name}')"
        group = safety.child(safety.walk_path(h5, path, where), "vars", "group", where)
        stored_name = safety.optional_text_attr(group, "name")
        if stored_name is not None and stored_name != node.name:
            raise LoadError(f"{where} holds the weights of '{stored_name}', not of '{node.name}'; the file does not "
                            f"match the model")
        names = sorted(group.keys(), key=lambda k: (len(k), k))
        if names != [str(i) for i in range(len(node.weights))]:
            raise LoadError(f"{where} holds {len(names)} weight(s) ({', '.join(names[:6])}); the layer has "
                            f"{len(node.weights)} ({', '.join(node.weights)})")
        for i, name in enumerate(node.weights):
            dataset = safety.child(group, str(i), "dataset", where)
            expected = node.layer.get_weight(name)
            found.append((node.layer, name, safety.read_dataset(dataset, expected, f"{where}, weight {name}")))
    return found


def write_layout(h5: Any, root: Node) -> None:
    """The tree's groups and weights, as Keras 3 writes them."""
    for path, node in walk(root):
        group = h5.create_group(f"{path}/vars" if path else "vars")
        group.attrs["name"] = node.name
        for i, name in enumerate(node.weights):
            group.create_dataset(str(i), data=np.array(node.layer.get_weight(name), order="C"))  # 0-d stays 0-d


# --------------------------------------------------------------------------- legacy layout
def read_legacy(group: Any, pairs: list[tuple[str, Node]], source: str) -> list[tuple[Layer, str, np.ndarray]]:
    """The weights of each (group name, top-level layer) pair from a legacy `model_weights` group."""
    found = []
    for group_name, node in pairs:
        slots = legacy_order(node)
        where = f"{source}: layer '{group_name}'"
        layer_group = safety.child(group, group_name, "group", source)
        names = safety.text_list_attr(layer_group, "weight_names", where)
        if len(names) != len(slots):
            raise LoadError(f"{where} has {len(names)} weight(s) in the file but {len(slots)} in the model "
                            f"({', '.join(f'{lay.name}/{n}' for lay, n in slots) or 'none'})")
        for stored, (layer, name) in zip(names, slots):
            tail = stored.removesuffix(":0").split("/")[-len(name.split("/")):]  # MHA's 'query/kernel' has two parts
            if tail != name.split("/"):
                raise LoadError(f"{where}: the file lists '{stored}' where the model has {layer.name}/{name}")
            folder, _, leaf = stored.rpartition("/")
            dataset = safety.child(safety.walk_path(layer_group, folder, where), leaf, "dataset", where)
            values = safety.read_dataset(dataset, layer.get_weight(name), f"{where}, weight '{stored}'")
            found.append((layer, name, values))
    return found


def legacy_layer_names(group: Any, source: str) -> list[str]:
    return safety.text_list_attr(group, "layer_names", f"{source} (model_weights)")


def assign(found: list[tuple[Layer, str, np.ndarray]]) -> None:
    """Assign weights read by `read_layout` / `read_legacy` (only once every one of them was read)."""
    for layer, name, value in found:
        layer.assign_weight(name, value)
