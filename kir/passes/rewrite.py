"""A tiny pattern-rewrite engine: passes are tables of `Rule(name, ops, rewrite)`.

`rewrite(graph, vid)` looks at one vertex and its neighbours and either returns None (no match)
or the vertices whose neighbourhood changed (they are revisited). The driver walks a worklist in
topological order, so each rule costs O(degree) per visit and a pass is linear in the graph,
not a loop of full-graph scans.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kir.ir.graph import Graph

Rewrite = Callable[[Graph, int], "Iterable[int] | None"]


@dataclass(frozen=True)
class Rule:
    """Rewrite vertices whose op is in `ops` (an empty tuple matches every op)."""

    name: str
    ops: tuple[str, ...]
    rewrite: Rewrite


def apply_rules(graph: Graph, rules: Sequence[Rule], max_visits_per_vertex: int = 50) -> Counter:
    """Apply `rules` until none matches; returns rule name -> number of rewrites."""
    by_op: dict[str, list[Rule]] = {}
    generic = [r for r in rules if not r.ops]
    for rule in rules:
        for op in rule.ops:
            by_op.setdefault(op, []).append(rule)
    stats: Counter = Counter()
    queue = deque(graph.topological_order())
    queued = set(queue)
    budget = max_visits_per_vertex * (len(queue) + 1)
    while queue:
        vid = queue.popleft()
        queued.discard(vid)
        if vid not in graph:
            continue
        budget -= 1
        if budget < 0:  # every rewrite keeps the semantics, so stopping early is safe (and reported)
            stats["stopped_without_converging"] += 1
            break
        for rule in by_op.get(graph.vertex(vid).op, []) + generic:
            touched = rule.rewrite(graph, vid)
            if touched is None:
                continue
            stats[rule.name] += 1
            for t in touched:
                if t in graph:
                    for u in (t, *graph.successors(t)):
                        if u not in queued:
                            queued.add(u)
                            queue.append(u)
            break
    return stats
