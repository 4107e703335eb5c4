"""The orders of a functional model's nodes and layers, all from one depth-first walk.

- `post_order`: the walk itself, from the outputs, each node's inputs in order, iterative (10k-layer
  chains); its post-order lists producers first: `Model` keeps its nodes (its graph's order) in it.
- `keras_layer_order`: Keras' `model.layers` order. Keras 3 (`keras.src.ops.function.map_graph`) sorts
  layers by depth (distance from the outputs, deepest first), breaking ties by the order the walk
  first meets them. Weight lists follow that order, so kir must use it too for
  `set_weights(keras_model.get_weights())` to work.
- `replay_order`: the order a saved file lists (and loading replays) a model's layer calls.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kir.layers.base import Layer
    from kir.layers.node import Node
    from kir.layers.tensor import KTensor


def post_order(outputs: Sequence[KTensor], stop: Callable[[KTensor], bool] | None = None,
               enter: Callable[[KTensor], object] | None = None) -> list[Node]:
    """The nodes behind `outputs` in the post-order of a depth-first walk from them (outputs in order,
    each node's inputs in order), so every node comes after the nodes producing its inputs.

    The walk does not go through a tensor for which `stop(tensor)` is true (nor list its node);
    `enter(tensor)` is called when the walk first reaches a node, with the tensor it came through."""
    done: set[int] = set()
    order: list[Node] = []
    for out in outputs:
        stack: list[tuple[KTensor, bool]] = [(out, False)]
        while stack:
            tensor, expanded = stack.pop()
            node = tensor.node
            if expanded:
                if id(node) not in done:
                    done.add(id(node))
                    order.append(node)
                continue
            if id(node) in done or (stop is not None and stop(tensor)):
                continue
            if enter is not None:
                enter(tensor)
            stack.append((tensor, True))
            stack.extend((t, False) for t in reversed(node.dependencies) if id(t.node) not in done)
    return order


def keras_layer_order(inputs: Sequence[KTensor], outputs: Sequence[KTensor]) -> list[Layer]:
    """The layers between `inputs` and `outputs` (InputLayers included) in Keras' `model.layers` order."""
    first_seen: dict[int, int] = {}
    post = post_order(outputs, enter=lambda t: first_seen.setdefault(id(t.node.layer), len(first_seen)))
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    for node in reversed(post):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        layers[id(node.layer)] = node.layer
        for t in node.dependencies:
            node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    for t in inputs:  # inputs the outputs do not use still belong to the model
        layer = t.node.layer
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], first_seen[id(layer)], layers[id(layer)] = 0, -1, layer
    return sorted(layers.values(), key=lambda lay: (-layer_depth[id(lay)], first_seen[id(lay)]))


def replay_order(nodes: Sequence[Node]) -> list[Node]:
    """A topological order of `nodes` (given in a topological order) that also keeps each layer's calls
    in node-index order, so replaying the calls gives every shared layer the same node indices as the
    original: among the calls whose inputs are ready, the one earliest in `nodes` goes first."""
    members = {id(n): n for n in nodes}
    position = {id(n): i for i, n in enumerate(nodes)}
    deps: dict[int, set[int]] = {id(n): set() for n in nodes}
    by_layer: dict[int, list[Node]] = {}
    for node in nodes:
        for parent in node.parents:
            if id(parent) in members:
                deps[id(node)].add(id(parent))
        by_layer.setdefault(id(node.layer), []).append(node)
    for calls in by_layer.values():
        calls.sort(key=lambda n: n.index)
        for before, after in zip(calls, calls[1:]):
            deps[id(after)].add(id(before))
    children: dict[int, list[int]] = {k: [] for k in deps}
    for k, parents in deps.items():
        for parent in parents:
            children[parent].append(k)
    waiting = {k: len(parents) for k, parents in deps.items()}
    ready = [(position[k], k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(members[k])
        for child in children[k]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (position[child], child))
    return order
