"""The one graph walk (kir.ir.interpret.Interpreter) and what every backend builds on it."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

from kir.backends.numpy import LOWERINGS, run
from kir.errors import GraphError
from kir.ir import Graph, TensorSpec
from kir.ir.interpret import Interpreter


def _chain(n: int, op: str = "Identity") -> Graph:
    """x -> op -> op -> ... (n ops), built by hand."""
    g = Graph("chain")
    x = g.add_vertex("Input", (), {"name": "x", "shape": [None, 3], "dtype": "float32"}, [TensorSpec((None, 3))], "x")
    ref = (x, 0)
    for i in range(n):
        ref = (g.add_vertex(op, [ref], {}, [TensorSpec((None, 3))], f"v{i}"), 0)
    g.inputs, g.outputs, g.output_names = [x], [ref], ["y"]
    return g


def _nest(inner: Graph, op: str, name: str) -> Graph:
    """x -> op(sub-graph `inner`) -> y."""
    g = Graph("outer")
    spec = inner.vertex(inner.inputs[0]).outputs[0]
    if op == "TimeDistributed":
        spec = TensorSpec((None, 4, *spec.shape[1:]))
    x = g.add_vertex("Input", (), {"name": "x", "shape": list(spec.shape), "dtype": "float32"}, [spec], "x")
    outs = [TensorSpec(spec.shape[:2] + s.shape[1:]) if op == "TimeDistributed" else s
            for s in (inner.spec(r) for r in inner.outputs)]
    y = g.add_vertex(op, [(x, 0)], {}, outs, name, subgraph=inner)
    g.inputs, g.outputs, g.output_names = [x], [(y, 0)], ["y"]
    return g


class _Box:
    pass


class _Recorder(Interpreter):
    """Values are fresh objects; records how many earlier values are still alive at each op."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[weakref.ref] = []
        self.alive: list[int] = []
        self.paths: list[str] = []

    def run_op(self, graph, vid, vertex, args):
        self.alive.append(sum(r() is not None for r in self.refs))
        self.paths.append(self.prefix + vertex.name)
        out = [_Box() for _ in vertex.outputs]
        self.refs += [weakref.ref(o) for o in out]
        return out

    def fold_time(self, vertex, x):
        return x

    def unfold_time(self, vertex, x, out, spec):
        return out


def test_intermediates_are_freed_after_their_last_user() -> None:
    rec = _Recorder()
    rec.run(_chain(6), [_Box()])
    assert max(rec.alive) <= 1, rec.alive  # only the op's own input is alive while it runs


def test_nested_vertices_see_their_path() -> None:
    rec = _Recorder()
    rec.run(_nest(_nest(_chain(2), "Call", "inner"), "Call", "outer"), [_Box()])
    assert rec.paths == ["outer/inner/v0", "outer/inner/v1"]
    assert rec.path == []


def test_an_op_giving_the_wrong_number_of_outputs_is_a_graph_error() -> None:
    @LOWERINGS.register("KirTestTwoOutputs")
    def two(ctx, attrs, inputs, params):
        return [inputs[0], inputs[0]]

    try:
        with pytest.raises(GraphError, match=r"KirTestTwoOutputs 'v0' gave 2 outputs, the vertex declares 1"):
            run(_chain(1, "KirTestTwoOutputs"), [np.ones((2, 3), np.float32)])
    finally:
        del LOWERINGS._table["KirTestTwoOutputs"]


def test_wrong_number_of_graph_inputs_is_a_graph_error() -> None:
    with pytest.raises(GraphError, match="takes 1 inputs, got 2"):
        run(_chain(1), [np.ones((2, 3)), np.ones((2, 3))])


def test_numpy_time_distributed_folds_time_into_batch() -> None:
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    (y,) = run(_nest(_chain(2), "TimeDistributed", "td"), [x])
    np.testing.assert_array_equal(y, x)


def test_onnx_params_are_lazy_initializer_names() -> None:
    pytest.importorskip("onnx")
    from kir.backends.onnx.context import Initializers, OnnxContext

    g = Graph("g")
    x = g.add_vertex("Input", (), {"name": "x", "shape": [None, 3], "dtype": "float32"}, [TensorSpec((None, 3))], "x")
    keys = {"kernel": g.store.add("d/kernel", np.ones((3, 2), np.float32)),
            "bias": g.store.add("d/bias", np.zeros(2, np.float32))}
    d = g.add_vertex("Dense", [(x, 0)], {"units": 2}, [TensorSpec((None, 2))], "d", keys, layer="d")
    ctx = OnnxContext(g)
    ctx.enter(g, d, g.vertex(d), "")
    params = Initializers(ctx, g.vertex(d))
    assert "bias" in params and "gamma" not in params and list(params) == ["kernel", "bias"]
    assert ctx.initializers == []  # asking made nothing
    assert params["bias"] == "d/bias" and params["kernel"] == "d/kernel" == ctx.param("kernel")
    assert [t.name for t in ctx.initializers] == ["d/bias", "d/kernel"]  # in the order asked for
    with pytest.raises(KeyError):
        params["gamma"]
