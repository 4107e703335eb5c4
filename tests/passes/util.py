"""Helpers for pass tests: numpy-reference parity of a graph before/after passes, on random feeds."""

from __future__ import annotations

import numpy as np

from kir.backends.numpy import run
from kir.cli.check import random_feeds
from kir.ir.graph import Graph
from kir.passes import PipelineReport
from tests.helpers import assert_close


def to_nchw(x: np.ndarray) -> np.ndarray:
    return np.transpose(x, [0, x.ndim - 1, *range(1, x.ndim - 1)])


def to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.transpose(x, [0, *range(2, x.ndim), 1])


def assert_same_outputs(before: Graph, after: Graph, report: PipelineReport | None = None, batch: int = 2,
                        seed: int = 0) -> None:
    """Numpy-reference outputs of `after` equal those of `before` (rtol 1e-5) on random inputs;
    inputs/outputs the report lists as NCHW are transposed accordingly."""
    feeds = random_feeds(before, batch, seed)
    expected = run(before, feeds)
    nchw_in = set(report.nchw_inputs) if report else set()
    nchw_out = set(report.nchw_outputs) if report else set()
    names = [before.vertex(v).name for v in before.inputs]
    assert [after.vertex(v).name for v in after.inputs] == names
    actual = run(after, [to_nchw(f) if n in nchw_in else f for n, f in zip(names, feeds)])
    assert after.output_names == before.output_names
    for name, a, e in zip(after.output_names, actual, expected):
        assert_close(to_nhwc(a) if name in nchw_out else a, e)
