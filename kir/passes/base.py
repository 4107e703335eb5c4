"""What a pass is: a named graph transformation that returns a new graph and what it changed.

Passes are written as in-place edits of a graph the caller owns (`fn(graph, **options) -> stats`)
and wrapped by `GraphPass`, whose `__call__` copies first: called on its own a pass is
functional (torch.fx / onnx_ir style) and never touches its input, while the PassManager copies
the user's graph once and runs the in-place bodies back to back (no copy per pass, which is what
keeps a 10k-layer model fast).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kir.ir.graph import Graph

PassFn = Callable[..., Counter]


@dataclass
class PassResult:
    """The new graph, whether anything changed, and counts of what changed (rule name -> hits)."""

    graph: Graph
    changed: bool
    stats: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class GraphPass:
    """A named pass. `recurse` passes also run inside sub-graphs that remain (Call/TimeDistributed)."""

    name: str
    fn: PassFn
    recurse: bool = False

    def run_inplace(self, graph: Graph, **options: Any) -> Counter:
        """Edit `graph` (which the caller owns) and return the stats."""
        stats: Counter = Counter()
        if self.recurse:
            for sub in subgraphs(graph):
                stats.update(self.fn(sub, **_sub_options(options)))
        stats.update(self.fn(graph, **options))
        return +stats

    def __call__(self, graph: Graph, **options: Any) -> PassResult:
        new = copy_graph(graph)
        stats = self.run_inplace(new, **options)
        return PassResult(new, bool(stats), stats)


PASSES: dict[str, GraphPass] = {}


def graph_pass(name: str, recurse: bool = False) -> Callable[[PassFn], GraphPass]:
    """Register an in-place pass body `fn(graph, **options) -> Counter` under `name`."""

    def wrap(fn: PassFn) -> GraphPass:
        p = GraphPass(name, fn, recurse)
        PASSES[name] = p
        return p

    return wrap


def _sub_options(options: dict[str, Any]) -> dict[str, Any]:
    """Sub-graphs get no graph-boundary options (their batch is not the model's)."""
    return {k: v for k, v in options.items() if k not in ("static_batch", "nchw_io")}


def subgraphs(graph: Graph) -> list[Graph]:
    """Every distinct sub-graph below `graph`, innermost first."""
    seen: dict[int, Graph] = {}

    def visit(g: Graph) -> None:
        for vid in g.vertex_ids():
            sub = g.vertex(vid).subgraph
            if sub is not None and id(sub) not in seen:
                visit(sub)
                seen[id(sub)] = sub

    visit(graph)
    return list(seen.values())


def copy_graph(graph: Graph) -> Graph:
    """A structural copy whose sub-graphs (at every depth) share the copy's parameter store,
    so parameters a pass derives are visible inside nested graphs too."""
    new = graph.copy()
    for sub in subgraphs(new):
        sub.store = new.store
    return new
