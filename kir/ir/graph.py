"""The IR: one vertex per op and one edge per tensor use, with its own adjacency.

Vertices carry a `Vertex` (op type, JSON-able attrs, parameter keys, output specs, a readable
name, the source layer's name, and an optional sub-graph for nested models / TimeDistributed).
An edge says which output of the producer (`src_index`) feeds which input of the consumer
(`dst_index`). Graph inputs are `Input` vertices; outputs are (vertex, index) references.

The adjacency is plain dicts (inputs by position, users by (consumer, position)), so the hot
queries of passes and interpreters are dictionary reads; the topological order, the
structure key and the networkx view are cached and dropped on every edit. `to_networkx()` gives
the graph as a frozen networkx MultiDiGraph (`_nx`) for analysis; nothing edits through it.
"""

from __future__ import annotations

import copy as _copy
import heapq
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kir.errors import GraphError
from kir.ir.names import unique_name
from kir.ir.params import ParamStore
from kir.ir.spec import TensorSpec, format_shape

Ref = tuple[int, int]
"""A tensor in the graph: (producing vertex id, output index)."""


@dataclass
class Vertex:
    """One op in the graph."""

    op: str
    attrs: dict[str, Any]
    outputs: list[TensorSpec]
    name: str
    params: dict[str, str] = field(default_factory=dict)
    layer: str | None = None
    subgraph: Graph | None = None

    def copy(self) -> Vertex:
        return Vertex(
            self.op, _copy.deepcopy(self.attrs), list(self.outputs), self.name, dict(self.params),
            self.layer, self.subgraph.copy(share_store=True) if self.subgraph is not None else None,
        )


class Graph:
    """A kir program: ops, tensor edges, named inputs/outputs and a parameter store."""

    def __init__(self, name: str = "graph", store: ParamStore | None = None) -> None:
        self.name = name
        self.store = store if store is not None else ParamStore()
        self.inputs: list[int] = []
        self.outputs: list[Ref] = []
        self.output_names: list[str] = []
        self.attrs: dict[str, Any] = {}
        """Graph-level facts passes record (pipeline, level, NCHW inputs/outputs)."""
        self._vertices: dict[int, Vertex] = {}
        self._in: dict[int, dict[int, Ref]] = {}
        """vid -> {input position: the tensor feeding it}."""
        self._users: dict[int, dict[Ref, int]] = {}
        """vid -> {(consumer, input position): which output of vid it reads}."""
        self._next_id = 0
        self._names: set[str] = set()
        self._order: list[int] | None = None
        self._key: int | None = None
        self._nx: Any = None
        self.derived: dict[str, Any] = {}
        """Facts other ir modules derive from the structure (nesting depth, output-spec memo);
        emptied by every edit, like the cached order and key."""

    def _edited(self) -> None:
        self._order = None
        self._key = None
        self._nx = None
        self.derived.clear()

    # ---------------------------------------------------------------- building
    def add_vertex(
        self,
        op: str,
        inputs: Iterable[Ref] = (),
        attrs: dict[str, Any] | None = None,
        outputs: list[TensorSpec] | None = None,
        name: str | None = None,
        params: dict[str, str] | None = None,
        layer: str | None = None,
        subgraph: Graph | None = None,
    ) -> int:
        """Add an op fed by `inputs` (refs, in order); returns its vertex id."""
        vid = self._next_id
        self._next_id += 1
        vname = unique_name(name or op.lower(), self._names)
        self._names.add(vname)
        self._vertices[vid] = Vertex(op, dict(attrs or {}), list(outputs or []), vname, dict(params or {}), layer,
                                     subgraph)
        self._in[vid] = {}
        self._users[vid] = {}
        self._edited()
        for dst_index, ref in enumerate(inputs):
            self.connect(ref, vid, dst_index)
        return vid

    def connect(self, ref: Ref, dst: int, dst_index: int) -> None:
        """Feed `ref` into input `dst_index` of `dst` (which must be free)."""
        src, src_index = ref
        if src not in self._vertices:
            raise GraphError(f"cannot connect vertex {src}: it is not in graph '{self.name}'")
        if dst_index in self._in[dst]:
            raise GraphError(f"input {dst_index} of vertex '{self._vertices[dst].name}' is already connected; "
                             f"use set_input to rewire it")
        self._in[dst][dst_index] = (src, src_index)
        self._users[src][(dst, dst_index)] = src_index
        self._edited()

    def disconnect(self, dst: int, dst_index: int) -> None:
        """Free input `dst_index` of `dst`."""
        src, _ = self._in[dst].pop(dst_index)
        del self._users[src][(dst, dst_index)]
        self._edited()

    def set_input(self, vid: int, position: int, ref: Ref) -> None:
        """Rewire input `position` of `vid` to read `ref`."""
        if position in self._in[vid]:
            self.disconnect(vid, position)
        self.connect(ref, vid, position)

    # ---------------------------------------------------------------- queries
    def vertex(self, vid: int) -> Vertex:
        return self._vertices[vid]

    def vertex_ids(self) -> list[int]:
        """Every vertex id, in the order the vertices were added."""
        return list(self._vertices)

    def __contains__(self, vid: int) -> bool:
        return vid in self._vertices

    def __len__(self) -> int:
        return len(self._vertices)

    def input_refs(self, vid: int) -> list[Ref]:
        """The tensors feeding `vid`, in input order."""
        inputs = self._in[vid]
        if len(inputs) < 2:
            return list(inputs.values())
        return [inputs[i] for i in sorted(inputs)]

    def producer(self, vid: int, index: int = 0) -> int:
        """The vertex feeding input `index` of `vid`."""
        return self._in[vid][index][0]

    def predecessors(self, vid: int) -> list[int]:
        """The distinct vertices feeding `vid`."""
        return list(dict.fromkeys(src for src, _ in self._in[vid].values()))

    def successors(self, vid: int) -> list[int]:
        """The distinct vertices reading any output of `vid`."""
        return list(dict.fromkeys(dst for dst, _ in self._users[vid]))

    def users(self, vid: int, index: int | None = None) -> list[tuple[int, int]]:
        """(consumer vertex, input position) for each use of `vid`'s outputs (or output `index`)."""
        return sorted(use for use, src_index in self._users[vid].items() if index is None or src_index == index)

    def use_count(self, vid: int) -> int:
        """How many vertex inputs read an output of `vid` (graph outputs not counted)."""
        return len(self._users[vid])

    def is_output(self, vid: int) -> bool:
        return any(v == vid for v, _ in self.outputs)

    def spec(self, ref: Ref) -> TensorSpec:
        vid, index = ref
        return self._vertices[vid].outputs[index]

    def topological_order(self) -> list[int]:
        """Vertex ids so that every producer comes before its consumers, the lowest id first
        among those ready (one order for every walker; cached until the next edit)."""
        if self._order is None:
            self._order = self._sort()
        return self._order

    def _sort(self) -> list[int]:
        missing = {vid: len({src for src, _ in ins.values()}) for vid, ins in self._in.items()}
        ready = [vid for vid, n in missing.items() if n == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            vid = heapq.heappop(ready)
            order.append(vid)
            for dst in self.successors(vid):
                missing[dst] -= 1
                if missing[dst] == 0:
                    heapq.heappush(ready, dst)
        if len(order) != len(missing):
            import networkx as nx

            cycle = nx.find_cycle(self.to_networkx())
            names = " -> ".join(self._vertices[u].name for u, *_ in cycle)
            raise GraphError(f"graph '{self.name}' has a cycle: {names}")
        return order

    def vertices(self) -> list[tuple[int, Vertex]]:
        return [(vid, self._vertices[vid]) for vid in self.topological_order()]

    def op_counts(self, recursive: bool = False) -> Counter:
        counts: Counter = Counter()
        for v in self._vertices.values():
            counts[v.op] += 1
            if recursive and v.subgraph is not None:
                counts.update(v.subgraph.op_counts(recursive=True))
        return counts

    def param_keys(self) -> list[str]:
        """Keys referenced by this graph (and its sub-graphs), first use first."""
        seen: dict[str, None] = {}
        for _, v in self.vertices():
            for key in v.params.values():
                seen.setdefault(key, None)
            if v.subgraph is not None:
                for key in v.subgraph.param_keys():
                    seen.setdefault(key, None)
        return list(seen)

    def structure_key(self) -> int:
        """A hash of everything but the weight values: ops, attrs, edges, specs, names and
        parameter keys, sub-graphs included. Backends key their caches on it (with the store's
        version); cached until the next edit through the graph (edit vertices on a copy)."""
        if self._key is None:
            self._key = hash((
                self.name, tuple(self.inputs), tuple(self.outputs), tuple(self.output_names),
                tuple((vid, v.op, json.dumps(v.attrs, sort_keys=True, default=repr), tuple(v.params.items()),
                       tuple(v.outputs), v.name, v.layer, tuple(sorted(self._in[vid].items())),
                       v.subgraph.structure_key() if v.subgraph is not None else None)
                      for vid, v in self._vertices.items()),
            ))
        return self._key

    # ---------------------------------------------------------------- editing
    def replace_uses(self, old: Ref, new: Ref, keep: int | None = None) -> int:
        """Point every consumer (and graph output) of `old` at `new`, except the consumer `keep`
        (e.g. the new op that reads `old`); returns how many uses moved."""
        moved = 0
        src, index = old
        for (dst, position), src_index in list(self._users[src].items()):
            if src_index == index and dst != keep:
                self.disconnect(dst, position)
                self.connect(new, dst, position)
                moved += 1
        for i, ref in enumerate(self.outputs):
            if ref == old:
                self.outputs[i] = new
                moved += 1
        return moved

    def remove_vertex(self, vid: int) -> None:
        """Drop `vid` and every edge touching it."""
        for position in list(self._in[vid]):
            self.disconnect(vid, position)
        for dst, position in list(self._users[vid]):
            self.disconnect(dst, position)
        self._names.discard(self._vertices[vid].name)
        del self._vertices[vid], self._in[vid], self._users[vid]
        self._edited()

    def copy(self, share_store: bool = False) -> Graph:
        """A structural copy that passes may edit; arrays are shared, never mutated."""
        new = Graph(self.name, self.store if share_store else self.store.copy())
        for vid, vertex in self._vertices.items():
            v = vertex.copy()
            if v.subgraph is not None:
                v.subgraph.store = new.store
            new._vertices[vid] = v
        new._in = {vid: dict(ins) for vid, ins in self._in.items()}
        new._users = {vid: dict(uses) for vid, uses in self._users.items()}
        new.inputs = list(self.inputs)
        new.outputs = list(self.outputs)
        new.output_names = list(self.output_names)
        new.attrs = _copy.deepcopy(self.attrs)
        new._next_id = self._next_id
        new._names = set(self._names)
        new._order = self._order
        return new

    # ---------------------------------------------------------------- checks and views
    def validate(self) -> None:
        """Raise GraphError if edges, inputs, outputs or parameter keys are inconsistent."""
        order = self.topological_order()
        for vid in order:
            v = self._vertices[vid]
            positions = sorted(self._in[vid])
            if positions != list(range(len(positions))):
                raise GraphError(f"vertex '{v.name}' ({v.op}) has input positions {positions}")
            for src, index in self.input_refs(vid):
                if index >= len(self._vertices[src].outputs):
                    raise GraphError(f"vertex '{v.name}' reads output {index} of '{self._vertices[src].name}', "
                                     f"which has {len(self._vertices[src].outputs)} outputs")
            for role, key in v.params.items():
                if key not in self.store:
                    raise GraphError(f"vertex '{v.name}' parameter '{role}' -> '{key}' is not in the store")
            if v.subgraph is not None:
                v.subgraph.validate()
        for vid in self.inputs:
            if vid not in self._vertices or self._vertices[vid].op != "Input":
                raise GraphError(f"graph input {vid} is not an Input vertex")
        for vid, index in self.outputs:
            if vid not in self._vertices or index >= len(self._vertices[vid].outputs):
                raise GraphError(f"graph output ({vid}, {index}) does not exist")
        if len(self.output_names) != len(self.outputs):
            raise GraphError("graph output names and outputs differ in length")

    def to_networkx(self) -> Any:
        """This graph as a frozen networkx MultiDiGraph, for analysis (networkx's algorithms:
        cycles, dominators, paths). Nodes carry `vertex`; edges `src_index` and `dst_index`.
        Built on first use and kept until the next edit; kir itself edits only through Graph."""
        if self._nx is None:
            import networkx as nx

            g = nx.MultiDiGraph(name=self.name)
            for vid, v in self._vertices.items():
                g.add_node(vid, vertex=v)
            for dst, ins in self._in.items():
                for position, (src, src_index) in sorted(ins.items()):
                    g.add_edge(src, dst, src_index=src_index, dst_index=position)
            self._nx = nx.freeze(g)
        return self._nx

    def dump(self, indent: str = "") -> str:
        """A readable text listing: one line per op, `%name:index` for tensors."""
        lines = [f"{indent}graph {self.name}("
                 + ", ".join(f"%{self.vertex(v).name}: {_fmt(self.vertex(v).outputs[0])}" for v in self.inputs)
                 + ")"]
        for vid, v in self.vertices():
            if v.op == "Input":
                continue
            args = ", ".join(f"%{self.vertex(s).name}" + (f":{i}" if i else "") for s, i in self.input_refs(vid))
            attrs = ", ".join(f"{k}={v.attrs[k]!r}" for k in sorted(v.attrs))
            params = ", ".join(f"{r}=@{k}" for r, k in v.params.items())
            extra = "; ".join(x for x in (attrs, params) if x)
            outs = ", ".join(_fmt(s) for s in v.outputs)
            lines.append(f"{indent}  %{v.name} = {v.op}({args}){' {' + extra + '}' if extra else ''} -> {outs}")
            if v.subgraph is not None:
                lines.append(v.subgraph.dump(indent + "    "))
        outs = ", ".join(f"{n}=%{self.vertex(v).name}" + (f":{i}" if i else "")
                         for n, (v, i) in zip(self.output_names, self.outputs))
        lines.append(f"{indent}  return {outs}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.dump()

    def to_dot(self) -> str:
        """Graphviz DOT text of the graph (no Graphviz needed to produce it)."""
        lines = [f'digraph "{self.name}" {{', "  rankdir=TB;", '  node [shape=record, fontname="Helvetica"];']
        for vid, v in self.vertices():
            shapes = "\\n".join(format_shape(s.shape) for s in v.outputs)
            lines.append(f'  v{vid} [label="{{{v.name}|{v.op}|{shapes}}}"];')
        for src, uses in self._users.items():
            for dst, _ in uses:
                lines.append(f"  v{src} -> v{dst};")
        for name, (vid, _) in zip(self.output_names, self.outputs):
            lines.append(f'  out_{_dot_id(name)} [label="{name}", shape=oval];')
            lines.append(f"  v{vid} -> out_{_dot_id(name)};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _fmt(spec: TensorSpec) -> str:
    return f"{spec.dtype}{format_shape(spec.shape)}"


def _dot_id(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)
