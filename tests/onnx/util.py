"""Shared helpers of the ONNX tests: export once, run the file at several batch sizes, compare
with the numpy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kir.backends.numpy import run
from kir.backends.onnx import DEFAULT_OPSET, Runtime, export
from kir.cli.check import random_feeds
from kir.ir.graph import Graph
from tests.helpers import assert_close

CPU = ["CPUExecutionProvider"]


def check_parity(model, tmp_path: Path, batches=(1, 7), opset: int = DEFAULT_OPSET, rtol: float = 1e-5,
                 **options) -> Path:
    """Export `model` once; at each batch size the file's outputs equal the numpy reference."""
    path = tmp_path / f"{model.name}.onnx"
    export(model, path, opset=opset, **options)
    runtime = Runtime(path, providers=CPU)
    graph = model if isinstance(model, Graph) else model.to_graph()
    assert runtime.input_names == [graph.vertex(v).name for v in graph.inputs]
    assert runtime.output_names == graph.output_names
    for batch in batches:
        feeds = random_feeds(graph, batch, seed=batch)
        got, want = runtime.run(feeds), run(graph, feeds)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == np.float32
            assert_close(g, w, rtol=rtol)
    return path
