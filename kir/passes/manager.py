"""The PassManager: named pipelines of passes, a per-pass report, and a debug mode that checks
the graph between passes.

Pipelines: `training` inlines nested models only (Dropout and BatchNormalization keep their
training semantics; TimeDistributed stays one op). `inference` at `O0` runs nothing, `O1` the
safe cleanups, `O2` (default) everything: BN folding, activation fusion and the NCHW layout.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kir.errors import ConfigError, GraphError
from kir.ir.graph import Graph
from kir.ir.interpret import nesting_depth, recursion_room
from kir.passes.base import GraphPass, copy_graph
from kir.passes.cleanup import cse, dce, eliminate_identities
from kir.passes.fusion import collapse_reshapes, fold_batch_norm, fuse_activations
from kir.passes.inline import inline, inline_calls
from kir.passes.layout import layout
from kir.passes.shape_inference import check_specs, infer_shapes
from kir.passes.transformer import fuse_skip_layer_norm

LEVELS = ("O0", "O1", "O2")
PIPELINES = ("training", "inference")

_O1 = [inline, eliminate_identities, collapse_reshapes, dce, cse]
_O2 = _O1 + [fold_batch_norm, fuse_activations, layout, fuse_skip_layer_norm, eliminate_identities, dce, cse]


def pipeline_passes(pipeline: str = "inference", level: str = "O2", nchw_io: bool = False) -> list[GraphPass]:
    """The passes a pipeline runs, in order."""
    if pipeline not in PIPELINES:
        raise ConfigError(f"unknown pass pipeline {pipeline!r}; use one of {', '.join(PIPELINES)}")
    if level not in LEVELS:
        raise ConfigError(f"unknown optimization level {level!r}; use one of {', '.join(LEVELS)}")
    if pipeline == "training":
        return [inline_calls]
    passes = {"O0": [], "O1": list(_O1), "O2": list(_O2)}[level]
    if nchw_io and layout not in passes:  # NCHW inputs need the layout pass even at O0/O1
        passes += [layout]
    return passes


@dataclass
class PassRecord:
    """One pass run: op counts before/after, wall time and what it changed."""

    name: str
    ops_before: Counter
    ops_after: Counter
    seconds: float
    stats: Counter

    @property
    def changed(self) -> bool:
        return bool(self.stats)


@dataclass
class PipelineReport:
    """What a pipeline did, pass by pass; `str()` gives a readable table."""

    pipeline: str
    level: str
    records: list[PassRecord] = field(default_factory=list)
    static_batch: int | None = None
    nchw_inputs: list[str] = field(default_factory=list)
    nchw_outputs: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    def ops_before(self) -> Counter:
        return self.records[0].ops_before if self.records else Counter()

    def ops_after(self) -> Counter:
        return self.records[-1].ops_after if self.records else Counter()

    def __str__(self) -> str:
        head = f"pass pipeline '{self.pipeline}' {self.level}"
        if self.static_batch is not None:
            head += f", static batch {self.static_batch}"
        lines = [head, f"  {'pass':<22} {'ops':>13} {'ms':>8}  changes"]
        for r in self.records:
            before, after = sum(r.ops_before.values()), sum(r.ops_after.values())
            changes = ", ".join(f"{k}={v}" for k, v in sorted(r.stats.items())) or "-"
            lines.append(f"  {r.name:<22} {before:>5} -> {after:<5} {r.seconds * 1e3:>8.1f}  {changes}")
        diff = _diff(self.ops_before(), self.ops_after())
        lines.append(f"  total {self.seconds * 1e3:.1f} ms; ops {sum(self.ops_before().values())} -> "
                     f"{sum(self.ops_after().values())}" + (f" ({diff})" if diff else ""))
        if self.nchw_inputs or self.nchw_outputs:
            lines.append(f"  NCHW inputs: {', '.join(self.nchw_inputs) or '-'}; "
                         f"NCHW outputs: {', '.join(self.nchw_outputs) or '-'}")
        return "\n".join(lines)


def _diff(before: Counter, after: Counter) -> str:
    parts = []
    for op in sorted(set(before) | set(after)):
        if before[op] != after[op]:
            parts.append(f"{op} {before[op]}->{after[op]}")
    return ", ".join(parts)


class PassManager:
    """Runs passes on a private copy of a graph; the input graph (a model's cached graph) is never touched."""

    def __init__(self, passes: Sequence[GraphPass], debug: bool | None = None) -> None:
        self.passes = list(passes)
        self.debug = os.environ.get("KIR_DEBUG_PASSES", "") not in ("", "0") if debug is None else debug

    def run(self, graph: Graph, report: PipelineReport | None = None, **options: Any) -> tuple[Graph, PipelineReport]:
        with recursion_room(nesting_depth(graph), "the graph"):
            return self._run(graph, report or PipelineReport("custom", "-"), options)

    def _run(self, graph: Graph, report: PipelineReport, options: dict[str, Any]) -> tuple[Graph, PipelineReport]:
        graph = copy_graph(graph)
        counts = graph.op_counts(recursive=True)
        for p in self.passes:
            start = time.perf_counter()
            stats = p.run_inplace(graph, **options)
            seconds = time.perf_counter() - start
            after = graph.op_counts(recursive=True)
            report.records.append(PassRecord(p.name, counts, after, seconds, stats))
            counts = after
            if self.debug:
                self.check(graph, p.name)
        return graph, report

    @staticmethod
    def check(graph: Graph, after: str) -> None:
        """The invariants every pass keeps: a valid graph whose stored specs match the op rules."""
        try:
            graph.validate()
            check_specs(graph, f"after pass '{after}'")
        except GraphError as exc:
            raise GraphError(f"pass '{after}' broke the graph: {exc}") from None


def run_pipeline(graph: Graph, pipeline: str = "inference", level: str = "O2", static_batch: int | None = None,
                 nchw_io: bool = False, debug: bool | None = None) -> tuple[Graph, PipelineReport]:
    """Optimize a copy of `graph` with a named pipeline; returns (new graph, report).

    `static_batch` fixes the batch dimension in every spec; `nchw_io` makes image inputs (and
    image outputs) NCHW — their names are in the report and in `new_graph.attrs`."""
    if pipeline == "training" and (static_batch is not None or nchw_io):
        raise ConfigError("the training pipeline takes no static_batch or nchw_io")
    passes = pipeline_passes(pipeline, level, nchw_io)
    if static_batch is not None and infer_shapes not in passes:
        passes = [infer_shapes, *passes]
    report = PipelineReport(pipeline, level, static_batch=static_batch)
    new, report = PassManager(passes, debug).run(graph, report, static_batch=static_batch, nchw_io=nchw_io)
    attrs = new.attrs
    report.nchw_inputs = list(attrs.get("nchw_inputs", []))
    report.nchw_outputs = list(attrs.get("nchw_outputs", []))
    new.attrs = {**attrs, "pipeline": pipeline, "level": level, "static_batch": static_batch}
    return new, report
