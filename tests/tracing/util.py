"""Helpers of the tracing tests: one-op graphs run by each backend's lowering, and silent runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kir.ir.graph import Graph
from kir.ir.shapes import infer_vertex
from kir.ir.spec import TensorSpec

CPU = ["CPUExecutionProvider"]


def op_graph(op: str, attrs: dict[str, Any], inputs: Sequence[np.ndarray], params: dict[str, np.ndarray] | None = None,
             dynamic_batch: bool = True) -> Graph:
    """A graph of Inputs (one per array; the first axis dynamic) feeding one `op` vertex."""
    g = Graph("op")
    refs = []
    for i, x in enumerate(inputs):
        shape = (None, *x.shape[1:]) if dynamic_batch and x.ndim else x.shape
        spec = TensorSpec(shape, x.dtype.name)
        vid = g.add_vertex("Input", (), {"name": f"x{i}", "shape": list(shape), "dtype": spec.dtype}, [spec], f"x{i}")
        g.inputs.append(vid)
        refs.append((vid, 0))
    keys = {role: g.store.register(("test", role), role, value) for role, value in (params or {}).items()}
    vid = g.add_vertex(op, refs, attrs, [], "op", keys)
    v = g.vertex(vid)
    v.outputs = infer_vertex(g, v, [g.spec(r) for r in refs])
    g.outputs = [(vid, i) for i in range(len(v.outputs))]
    g.output_names = [f"y{i}" for i in range(len(v.outputs))]
    return g


def run_numpy(graph: Graph, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    from kir.backends.numpy import run

    return run(graph, list(inputs))


def run_onnx(graph: Graph, inputs: Sequence[np.ndarray], optimize: str = "O0") -> list[np.ndarray]:
    """The graph lowered to ONNX (no passes at O0) and run in a plain onnxruntime session."""
    import onnxruntime as ort

    from kir.backends.onnx.export import to_onnx

    model = to_onnx(graph, optimize=optimize)
    session = ort.InferenceSession(model.SerializeToString(), providers=CPU)
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))


def run_tensorflow(graph: Graph, inputs: Sequence[np.ndarray], training: bool = False) -> list[np.ndarray]:
    import tensorflow as tf

    from kir.backends.tensorflow import Program

    outs = Program(graph).forward([tf.constant(x) for x in inputs], training=training)
    return [np.asarray(o) for o in outs]
