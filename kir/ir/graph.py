"""The IR: a networkx MultiDiGraph with one vertex per op and one edge per tensor use.

Vertices carry a `Vertex` (op type, JSON-able attrs, parameter keys, output specs, a readable
name, the source layer, and an optional sub-graph for nested models / TimeDistributed).
Edges carry `src_index` (which output of the producer) and `dst_index` (which input of the
consumer). Graph inputs are `Input` vertices; outputs are (vertex, index) references.
"""

from __future__ import annotations

import copy as _copy
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from kir.errors import GraphError
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
        self.nx = nx.MultiDiGraph()
        self.store = store if store is not None else ParamStore()
        self.inputs: list[int] = []
        self.outputs: list[Ref] = []
        self.output_names: list[str] = []
        self.attrs: dict[str, Any] = {}
        """Graph-level facts passes record (pipeline, level, NCHW inputs/outputs)."""
        self._next_id = 0
        self._names: set[str] = set()

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
        vname = self._unique_name(name or op.lower())
        self.nx.add_node(vid, vertex=Vertex(op, dict(attrs or {}), list(outputs or []), vname,
                                            dict(params or {}), layer, subgraph))
        for dst_index, (src, src_index) in enumerate(inputs):
            self.connect((src, src_index), vid, dst_index)
        return vid

    def connect(self, ref: Ref, dst: int, dst_index: int) -> None:
        src, src_index = ref
        if src not in self.nx:
            raise GraphError(f"cannot connect vertex {src}: it is not in graph '{self.name}'")
        self.nx.add_edge(src, dst, src_index=src_index, dst_index=dst_index)

    def _unique_name(self, base: str) -> str:
        name, n = base, 1
        while name in self._names:
            name, n = f"{base}_{n}", n + 1
        self._names.add(name)
        return name

    # ---------------------------------------------------------------- queries
    def vertex(self, vid: int) -> Vertex:
        return self.nx.nodes[vid]["vertex"]

    def __contains__(self, vid: int) -> bool:
        return vid in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def input_refs(self, vid: int) -> list[Ref]:
        """The tensors feeding `vid`, in input order."""
        edges = sorted(self.nx.in_edges(vid, data=True), key=lambda e: e[2]["dst_index"])
        return [(src, data["src_index"]) for src, _, data in edges]

    def users(self, vid: int, index: int | None = None) -> list[tuple[int, int]]:
        """(consumer vertex, input position) for each use of `vid`'s outputs (or output `index`)."""
        return sorted(
            (dst, data["dst_index"])
            for _, dst, data in self.nx.out_edges(vid, data=True)
            if index is None or data["src_index"] == index
        )

    def spec(self, ref: Ref) -> TensorSpec:
        vid, index = ref
        return self.vertex(vid).outputs[index]

    def topological_order(self) -> list[int]:
        """Vertex ids so that every producer comes before its consumers (stable by id)."""
        try:
            return list(nx.lexicographical_topological_sort(self.nx))
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(self.nx)
            names = " -> ".join(self.vertex(u).name for u, *_ in cycle)
            raise GraphError(f"graph '{self.name}' has a cycle: {names}") from None

    def vertices(self) -> list[tuple[int, Vertex]]:
        return [(vid, self.vertex(vid)) for vid in self.topological_order()]

    def op_counts(self, recursive: bool = False) -> Counter:
        counts: Counter = Counter()
        for vid in self.nx.nodes:
            v = self.vertex(vid)
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

    # ---------------------------------------------------------------- editing
    def replace_uses(self, old: Ref, new: Ref) -> int:
        """Point every consumer (and graph output) of `old` at `new`; returns how many moved."""
        moved = 0
        src, index = old
        for _, dst, key, data in list(self.nx.out_edges(src, keys=True, data=True)):
            if data["src_index"] == index:
                self.nx.remove_edge(src, dst, key)
                self.connect(new, dst, data["dst_index"])
                moved += 1
        for i, ref in enumerate(self.outputs):
            if ref == old:
                self.outputs[i] = new
                moved += 1
        return moved

    def remove_vertex(self, vid: int) -> None:
        self._names.discard(self.vertex(vid).name)
        self.nx.remove_node(vid)

    def copy(self, share_store: bool = False) -> Graph:
        """A structural copy that passes may edit; arrays are shared, never mutated."""
        new = Graph(self.name, self.store if share_store else self.store.copy())
        new.nx = nx.MultiDiGraph()
        for vid in self.nx.nodes:
            v = self.vertex(vid).copy()
            if v.subgraph is not None:
                v.subgraph.store = new.store
            new.nx.add_node(vid, vertex=v)
        new.nx.add_edges_from(self.nx.edges(keys=True, data=True))
        new.inputs = list(self.inputs)
        new.outputs = list(self.outputs)
        new.output_names = list(self.output_names)
        new.attrs = _copy.deepcopy(self.attrs)
        new._next_id = self._next_id
        new._names = set(self._names)
        return new

    # ---------------------------------------------------------------- checks and views
    def validate(self) -> None:
        """Raise GraphError if edges, inputs, outputs or parameter keys are inconsistent."""
        order = self.topological_order()
        for vid in order:
            v = self.vertex(vid)
            positions = sorted(data["dst_index"] for *_, data in self.nx.in_edges(vid, data=True))
            if positions != list(range(len(positions))):
                raise GraphError(f"vertex '{v.name}' ({v.op}) has input positions {positions}")
            for src, index in self.input_refs(vid):
                if index >= len(self.vertex(src).outputs):
                    raise GraphError(f"vertex '{v.name}' reads output {index} of '{self.vertex(src).name}', "
                                     f"which has {len(self.vertex(src).outputs)} outputs")
            for role, key in v.params.items():
                if key not in self.store:
                    raise GraphError(f"vertex '{v.name}' parameter '{role}' -> '{key}' is not in the store")
            if v.subgraph is not None:
                v.subgraph.validate()
        for vid in self.inputs:
            if vid not in self.nx or self.vertex(vid).op != "Input":
                raise GraphError(f"graph input {vid} is not an Input vertex")
        for vid, index in self.outputs:
            if vid not in self.nx or index >= len(self.vertex(vid).outputs):
                raise GraphError(f"graph output ({vid}, {index}) does not exist")
        if len(self.output_names) != len(self.outputs):
            raise GraphError("graph output names and outputs differ in length")

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
        for src, dst in self.nx.edges():
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
