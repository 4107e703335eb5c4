"""Keras' order of a functional model's layers, so `model.layers` and `get_weights()` match Keras.

Keras 3 (`keras.src.ops.function.map_graph`) sorts layers by depth (distance from the outputs, deepest
first), breaking ties by the order a depth-first walk from the outputs first meets them. Weight lists
follow that order, so kir must use it too for `set_weights(keras_model.get_weights())` to work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kir.ir.node import Node
    from kir.ir.tensor import KTensor
    from kir.layers.base import Layer


def _nodes_inputs_first(outputs: Sequence[KTensor]) -> tuple[list[Node], dict[int, int]]:
    """Nodes in post-order of a DFS from the outputs, and each layer's first pre-order visit index."""
    finished: set[int] = set()
    post: list[Node] = []
    first_seen: dict[int, int] = {}
    for out in outputs:
        stack: list[tuple[Node, bool]] = [(out.node, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if id(node) not in finished:
                    finished.add(id(node))
                    post.append(node)
                continue
            if id(node) in finished:
                continue
            first_seen.setdefault(id(node.layer), len(first_seen))
            stack.append((node, True))
            stack.extend((t.node, False) for t in reversed(node.inputs) if id(t.node) not in finished)
    return post, first_seen


def keras_layer_order(inputs: Sequence[KTensor], outputs: Sequence[KTensor]) -> list[Layer]:
    """The layers between `inputs` and `outputs` (InputLayers included) in Keras' `model.layers` order."""
    post, first_seen = _nodes_inputs_first(outputs)
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    for node in reversed(post):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        layers[id(node.layer)] = node.layer
        for t in node.inputs:
            node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    for t in inputs:  # inputs the outputs do not use still belong to the model
        layer = t.node.layer
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], first_seen[id(layer)], layers[id(layer)] = 0, -1, layer
    return sorted(layers.values(), key=lambda lay: (-layer_depth[id(lay)], first_seen[id(lay)]))
