"""Lowering a kir Graph into an ONNX GraphProto.

A `LoweringContext` walks the graph in topological order and calls one lowering function per
vertex from `ONNX_LOWERINGS`: `fn(ctx, vertex, inputs) -> outputs`, where inputs and outputs are
ONNX tensor names. Lowerings add nodes and initializers through the context, which gives every
name a readable, unique, deterministic form derived from the layer names (good in Netron),
stores each parameter once however many vertices share it, and hides the opset differences
(reduce axes as attribute or input, Split, ...). Nested models and TimeDistributed lower their
sub-graph inline with a name prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from kir.backends.table import LoweringTable
from kir.errors import ConfigError
from kir.ir.graph import Graph, Vertex
from kir.ir.spec import TensorSpec

MIN_OPSET = 13
MAX_OPSET = 21
DEFAULT_OPSET = 17
"""Opset 17 runs on onnxruntime >= 1.11, TensorRT >= 8.6 and OpenVINO 2022+, and has
LayerNormalization; 13 is the oldest with axes-as-input Squeeze/Unsqueeze that kir needs."""

ONNX_LOWERINGS: LoweringTable = LoweringTable("onnx")

Lowering = Callable[["LoweringContext", Vertex, list[str]], list[str]]

_DTYPES = {
    "float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "float64": TensorProto.DOUBLE,
    "int32": TensorProto.INT32, "int64": TensorProto.INT64, "bool": TensorProto.BOOL,
    "uint8": TensorProto.UINT8, "int8": TensorProto.INT8,
}


def onnx_dtype(dtype: str) -> int:
    """The TensorProto element type of a kir dtype string."""
    return _DTYPES[dtype]


def check_opset(opset: int) -> int:
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ConfigError(f"opset must be an integer from {MIN_OPSET} to {MAX_OPSET} "
                          f"(default {DEFAULT_OPSET}), got {opset!r}")
    return opset


class LoweringContext:
    """Collects the nodes and initializers of one ONNX graph while a kir graph is lowered."""

    def __init__(self, graph: Graph, opset: int = DEFAULT_OPSET) -> None:
        self.graph = graph
        self.store = graph.store
        self.opset = check_opset(opset)
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._names: set[str] = set()
        self._params: dict[tuple[str, str], str] = {}
        self._consts: dict[tuple[str, bytes, tuple], str] = {}
        self._transposes: dict[str, tuple[str, tuple[int, ...]]] = {}
        self._made: dict[tuple[str, tuple[int, ...]], str] = {}
        self._gathers: dict[str, tuple[str, str]] = {}
        self.prefix = ""
        self.vertex: Vertex | None = None
        self.input_specs: list[TensorSpec] = []

    # ---------------------------------------------------------------- names
    def reserve(self, name: str) -> None:
        """Claim a name (graph inputs and outputs) so no internal tensor takes it."""
        self._names.add(name)

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self._names:
            name, n = f"{base}_{n}", n + 1
        self._names.add(name)
        return name

    def input_spec(self, index: int) -> TensorSpec:
        """Shape and dtype of the current vertex's input `index`."""
        return self.input_specs[index]

    def _base(self, suffix: str) -> str:
        owner = self.prefix + (self.vertex.name if self.vertex is not None else "graph")
        return f"{owner}/{suffix}" if suffix else owner

    # ---------------------------------------------------------------- nodes
    def node(self, op_type: str, inputs: Sequence[str], suffix: str = "", n_outputs: int = 1,
             outputs: Sequence[str] | None = None, **attributes: Any) -> list[str]:
        """Add one node named after the current vertex; returns its output tensor names.

        `outputs` may hold '' for optional outputs that are not wanted."""
        name = self.unique(self._base(suffix or op_type))
        if outputs is None:
            outputs = [name if n_outputs == 1 else f"{name}:{i}" for i in range(n_outputs)]
            for out in outputs[1:] if n_outputs == 1 else outputs:
                self._names.add(out)
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=name,
                                           **{k: v for k, v in attributes.items() if v is not None}))
        return list(outputs)

    def op(self, op_type: str, *inputs: str, suffix: str = "", **attributes: Any) -> str:
        """A single-output node."""
        return self.node(op_type, inputs, suffix, **attributes)[0]

    # ---------------------------------------------------------------- initializers
    def param(self, role: str, transform: Callable[[np.ndarray], np.ndarray] | None = None,
              tag: str = "", vertex: Vertex | None = None) -> str:
        """The initializer of the current vertex's parameter `role` (optionally transformed).

        Named after the store key (`dense_1/kernel`), so vertices sharing a layer share one
        initializer; a transformed copy (`conv2d/kernel:oihw`) is likewise made once per key."""
        vertex = vertex or self.vertex
        key = vertex.params[role]
        cache = (key, tag)
        if cache not in self._params:
            value = np.asarray(self.store[key])
            if transform is not None:
                value = transform(value)
            if value.dtype == np.float64:
                value = value.astype(np.float32)
            name = self.unique(f"{key}:{tag}" if tag else key)
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
            self._params[cache] = name
        return self._params[cache]

    def derived(self, roles: Sequence[str], tag: str, fn: Callable[..., np.ndarray]) -> str:
        """An initializer computed from several parameters of the current vertex (BN's folded
        scale), made once per set of store keys and named '<first key's layer>/<tag>'."""
        keys = tuple(self.vertex.params[r] for r in roles)
        cache = ("|".join(keys), tag)
        if cache not in self._params:
            value = np.asarray(fn(*(np.asarray(self.store[k], dtype=np.float32) for k in keys)), dtype=np.float32)
            name = self.unique(f"{keys[0].rsplit('/', 1)[0]}/{tag}")
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
            self._params[cache] = name
        return self._params[cache]

    def has_param(self, role: str) -> bool:
        return role in self.vertex.params

    def const(self, value: Any, dtype: Any = np.float32, suffix: str = "const") -> str:
        """A small constant initializer (deduplicated by value)."""
        array = np.asarray(value, dtype=dtype)
        cache = (array.dtype.str, array.tobytes(), array.shape)
        if cache not in self._consts:
            name = self.unique(self._base(suffix))
            self.initializers.append(numpy_helper.from_array(array, name))
            self._consts[cache] = name
        return self._consts[cache]

    def ints(self, values: Sequence[int], suffix: str = "shape") -> str:
        return self.const(list(values), np.int64, suffix)

    # ---------------------------------------------------------------- opset-aware helpers
    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: bool = True, suffix: str = "") -> str:
        """ReduceX over `axes`: axes are an attribute before opset 18 (ReduceSum: 13)."""
        as_input = self.opset >= 18 or op_type == "ReduceSum"
        if as_input:
            return self.op(op_type, x, self.ints(axes, "axes"), suffix=suffix or op_type, keepdims=int(keepdims))
        return self.op(op_type, x, suffix=suffix or op_type, axes=list(axes), keepdims=int(keepdims))

    def squeeze(self, x: str, axes: Sequence[int], suffix: str = "squeeze") -> str:
        return self.op("Squeeze", x, self.ints(axes, "axes"), suffix=suffix)

    def unsqueeze(self, x: str, axes: Sequence[int], suffix: str = "unsqueeze") -> str:
        return self.op("Unsqueeze", x, self.ints(axes, "axes"), suffix=suffix)

    def reshape(self, x: str, shape: Sequence[int], suffix: str = "reshape") -> str:
        """Reshape where 0 copies the input dimension (the batch) and -1 is inferred."""
        return self.op("Reshape", x, self.ints(shape), suffix=suffix)

    def transpose(self, x: str, perm: Sequence[int], suffix: str = "transpose") -> str:
        """Transpose, made once per (tensor, perm) and cancelling against a Transpose this context
        made (NHWC<->NCHW pairs between consecutive convolutions vanish before the layout pass)."""
        perm = tuple(int(p) for p in perm)
        if perm == tuple(range(len(perm))):
            return x
        if x in self._transposes:
            source, first = self._transposes[x]
            combined = tuple(first[p] for p in perm)
            if combined == tuple(range(len(combined))):
                return source
        if x in self._gathers and perm[-1] == len(perm) - 1 and (x, perm) not in self._made:
            # Transpose(Gather(table, ids)) over the id axes = Gather(table, Transpose(ids)): move
            # (batch, time) ints instead of (batch, time, features) floats (Embedding -> LSTM)
            table, ids = self._gathers[x]
            self._made[(x, perm)] = self.op("Gather", table, self.transpose(ids, perm[:-1], f"{suffix}_ids"),
                                            suffix=f"{suffix}_Gather", axis=0)
        if (x, perm) not in self._made:
            out = self.op("Transpose", x, suffix=suffix, perm=list(perm))
            self._transposes[out] = (x, perm)
            self._made[(x, perm)] = out
        return self._made[(x, perm)]

    def gather_rows(self, table: str, ids: str) -> str:
        """Gather(table, ids, axis=0), remembered so a later Transpose can move to the ids."""
        out = self.op("Gather", table, ids, axis=0)
        self._gathers[out] = (table, ids)
        return out

    def flip(self, x: str, axis: int, suffix: str = "reverse") -> str:
        """Reverse one axis: Slice with step -1."""
        return self.op("Slice", x, self.ints([-1], "starts"), self.ints([-(2**63)], "ends"),
                       self.ints([axis], "axes"), self.ints([-1], "steps"), suffix=suffix)

    # ---------------------------------------------------------------- graphs
    def lower_graph(self, graph: Graph, inputs: Sequence[str], prefix: str = "") -> list[str]:
        """Lower `graph` with its Inputs bound to the tensors `inputs`; returns its output tensors."""
        saved = (self.store, self.prefix, self.vertex, self.input_specs)
        self.store, self.prefix = graph.store, prefix
        values: dict[int, list[str]] = {vid: [name] for vid, name in zip(graph.inputs, inputs)}
        try:
            for vid in graph.topological_order():
                if vid in values:
                    continue
                vertex = graph.vertex(vid)
                refs = graph.input_refs(vid)
                args = [values[src][i] for src, i in refs]
                self.vertex, self.input_specs = vertex, [graph.spec(r) for r in refs]
                fn = ONNX_LOWERINGS.lookup(vertex.op, vertex.layer or vertex.name)
                outs = fn(self, vertex, args)
                if len(outs) != len(vertex.outputs):
                    raise RuntimeError(f"onnx lowering of {vertex.op} '{vertex.name}' returned {len(outs)} "
                                       f"outputs, expected {len(vertex.outputs)}")
                values[vid] = list(outs)
        finally:
            self.store, self.prefix, self.vertex, self.input_specs = saved
        return [values[vid][i] for vid, i in graph.outputs]

    def nested(self, vertex: Vertex, inputs: Sequence[str]) -> list[str]:
        """Lower a Call/TimeDistributed sub-graph inline under the prefix 'vertex_name/'."""
        return self.lower_graph(vertex.subgraph, inputs, f"{self.prefix}{vertex.name}/")

    def prune(self, outputs: Sequence[str]) -> None:
        """Drop nodes and initializers nothing reaches (Transposes cancelled by `transpose`)."""
        needed = set(outputs)
        kept: list[NodeProto] = []
        for node in reversed(self.nodes):
            if any(o and o in needed for o in node.output):
                kept.append(node)
                needed.update(i for i in node.input if i)
        self.nodes = kept[::-1]
        self.initializers = [t for t in self.initializers if t.name in needed]


def lower(graph: Graph, opset: int = DEFAULT_OPSET, input_names: Sequence[str] | None = None,
          output_names: Sequence[str] | None = None) -> tuple[list[NodeProto], list[TensorProto], list[str]]:
    """Nodes, initializers and output tensor names of `graph`, its inputs named `input_names`.

    Graph outputs come out named `output_names` (a node's output is renamed, or an Identity is
    added when the tensor is a graph input or already another output)."""
    from kir.backends.onnx import lowerings  # noqa: F401 - fills ONNX_LOWERINGS

    ctx = LoweringContext(graph, opset)
    input_names = list(input_names or [graph.vertex(v).name for v in graph.inputs])
    output_names = list(output_names or graph.output_names)
    for name in input_names + output_names:
        ctx.reserve(name)
    outs = ctx.lower_graph(graph, input_names)
    ctx.prune(outs)
    renames: dict[str, str] = {}
    produced = {o for node in ctx.nodes for o in node.output}
    for tensor, wanted in zip(outs, output_names):
        if tensor in produced and tensor not in renames:
            renames[tensor] = wanted
        else:
            source = renames.get(tensor, tensor)
            ctx.nodes.append(helper.make_node("Identity", [source], [wanted], name=ctx.unique(f"{wanted}/Identity")))
    for node in ctx.nodes:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
        for i, name in enumerate(node.output):
            if name in renames:
                node.output[i] = renames[name]
    return ctx.nodes, ctx.initializers, output_names
