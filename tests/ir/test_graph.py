"""Graph's own adjacency: building, editing, the cached order and key, the networkx view."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from kir.errors import GraphError
from kir.ir import Graph, TensorSpec

F = TensorSpec((None, 4), "float32")


def diamond() -> tuple[Graph, dict[str, int]]:
    """x -> a, x -> b, (a, b) -> c: a small graph with a fan-out and a two-input op."""
    g = Graph("diamond")
    x = g.add_vertex("Input", (), {"name": "x", "shape": [None, 4], "dtype": "float32"}, [F], "x")
    g.inputs = [x]
    a = g.add_vertex("Activation", [(x, 0)], {"activation": "relu"}, [F], "a")
    b = g.add_vertex("Activation", [(x, 0)], {"activation": "tanh"}, [F], "b")
    c = g.add_vertex("Add", [(a, 0), (b, 0)], {}, [F], "c")
    g.outputs, g.output_names = [(c, 0)], ["c"]
    return g, {"x": x, "a": a, "b": b, "c": c}


def test_queries_read_the_adjacency():
    g, v = diamond()
    assert g.input_refs(v["c"]) == [(v["a"], 0), (v["b"], 0)]
    assert g.producer(v["c"], 1) == v["b"]
    assert g.users(v["x"]) == [(v["a"], 0), (v["b"], 0)]
    assert g.successors(v["x"]) == [v["a"], v["b"]]
    assert g.predecessors(v["c"]) == [v["a"], v["b"]]
    assert g.use_count(v["x"]) == 2 and g.use_count(v["c"]) == 0
    assert g.is_output(v["c"]) and not g.is_output(v["a"])
    assert g.topological_order() == [v["x"], v["a"], v["b"], v["c"]]
    g.validate()


def test_order_is_lowest_id_first_and_cached_until_an_edit():
    g, v = diamond()
    first = g.topological_order()
    assert g.topological_order() is first
    late = g.add_vertex("Activation", [(v["x"], 0)], {"activation": "sigmoid"}, [F], "late")
    g.set_input(v["c"], 1, (late, 0))
    order = g.topological_order()
    assert order is not first
    assert order.index(late) < order.index(v["c"])
    assert order == list(nx.lexicographical_topological_sort(g.to_networkx()))


def test_replace_uses_moves_consumers_and_outputs_but_keeps_the_excepted_user():
    g, v = diamond()
    d = g.add_vertex("Activation", [(v["a"], 0)], {"activation": "linear"}, [F], "d")
    moved = g.replace_uses((v["a"], 0), (d, 0), keep=d)
    assert moved == 1
    assert g.input_refs(v["c"]) == [(d, 0), (v["b"], 0)]
    assert g.input_refs(d) == [(v["a"], 0)]
    assert g.replace_uses((v["c"], 0), (d, 0)) == 1  # the graph output
    assert g.outputs == [(d, 0)]


def test_remove_vertex_drops_its_edges_and_name():
    g, v = diamond()
    g.remove_vertex(v["c"])
    assert v["c"] not in g and g.users(v["a"]) == [] and g.use_count(v["b"]) == 0
    again = g.add_vertex("Add", [(v["a"], 0), (v["b"], 0)], {}, [F], "c")
    assert g.vertex(again).name == "c"


def test_connecting_a_taken_input_is_refused():
    g, v = diamond()
    with pytest.raises(GraphError, match="input 0 of vertex 'c' is already connected; use set_input"):
        g.connect((v["x"], 0), v["c"], 0)


def test_a_cycle_is_named():
    g, v = diamond()
    g.set_input(v["a"], 0, (v["c"], 0))
    with pytest.raises(GraphError, match=r"graph 'diamond' has a cycle: (a|c) -> "):
        g.topological_order()


def test_copy_is_independent_and_keeps_the_structure_key():
    g, v = diamond()
    key = g.structure_key()
    c = g.copy()
    assert c.structure_key() == key
    c.set_input(v["c"], 0, (v["b"], 0))
    assert c.structure_key() != key
    assert g.input_refs(v["c"]) == [(v["a"], 0), (v["b"], 0)]
    assert g.structure_key() == key


def test_structure_key_ignores_weight_values_but_not_attrs():
    g, v = diamond()
    g.vertex(v["a"]).params["w"] = g.store.add("w", np.zeros(3, "float32"))
    key = g.structure_key()
    h, w = diamond()
    h.vertex(w["a"]).params["w"] = h.store.add("w", np.ones(3, "float32"))
    assert h.structure_key() == key
    k, u = diamond()
    k.vertex(u["b"]).attrs["activation"] = "sigmoid"
    assert k.structure_key() != diamond()[0].structure_key()


def test_to_networkx_is_a_frozen_snapshot_with_edge_indices():
    g, v = diamond()
    view = g.to_networkx()
    assert nx.is_frozen(view) and view is g.to_networkx()
    edges = sorted((s, d, e["src_index"], e["dst_index"]) for s, d, e in view.edges(data=True))
    assert edges == sorted([(v["x"], v["a"], 0, 0), (v["x"], v["b"], 0, 0), (v["a"], v["c"], 0, 0),
                            (v["b"], v["c"], 0, 1)])
    with pytest.raises(nx.NetworkXError):
        view.add_edge(v["c"], v["x"])
    g.remove_vertex(v["c"])
    assert v["c"] in view and v["c"] not in g.to_networkx()
