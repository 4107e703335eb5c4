"""The ONNX lowering context: collects the nodes and initializers of one ONNX graph.

Lowerings add nodes and initializers through it; it gives every name a readable, unique,
deterministic form derived from the layer names (good in Netron), stores each parameter once
however many vertices share it, and hides the opset differences (reduce axes as attribute or
input, Split, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from kir.backends.context import LoweringContext
from kir.backends.onnx.opset import DEFAULT_OPSET, check_opset
from kir.ir.graph import Graph, Vertex
from kir.ir.names import unique_name

Attrs = Mapping[str, Any]
"""A vertex's attrs, as a lowering reads them."""


class OnnxContext(LoweringContext):
    """Collects the nodes and initializers of one ONNX graph while a kir graph is lowered."""

    def __init__(self, graph: Graph, opset: int = DEFAULT_OPSET) -> None:
        super().__init__()
        self.graph = graph
        self.opset = check_opset(opset)
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._names: set[str] = set()
        self._params: dict[tuple[str, str], str] = {}
        self._consts: dict[tuple[str, bytes, tuple], str] = {}
        self._transposes: dict[str, tuple[str, tuple[int, ...]]] = {}
        self._made: dict[tuple[str, tuple[int, ...]], str] = {}
        self._gathers: dict[str, tuple[str, str]] = {}
        #: lower to onnxruntime's fused com.microsoft kernels where a lowering has one (attention,
        #: MultiHeadAttention, BiasGelu); False: standard ONNX ops only (a portable file)
        self.fused = False

    # ---------------------------------------------------------------- names
    def reserve(self, name: str) -> None:
        """Claim a name (graph inputs and outputs) so no internal tensor takes it."""
        self._names.add(name)

    def unique(self, base: str) -> str:
        """Claim `base`, or else the first free one of `base_1`, `base_2`, ..."""
        name = unique_name(base, self._names)
        self._names.add(name)
        return name

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

    def array(self, role: str) -> np.ndarray:
        """The current vertex's parameter `role` as stored (to read its shape)."""
        return self.store[self.vertex.params[role]]

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


class Initializers(Mapping[str, str]):
    """The `params` of an ONNX lowering: parameter role -> initializer name, read-only and lazy.

    An initializer is made on first access (`params["kernel"]` is `ctx.param("kernel")`), so the
    file holds them in the order the lowerings ask for them; `"bias" in params` makes nothing.
    Transformed copies go through `ctx.param(role, transform, tag)`."""

    def __init__(self, ctx: OnnxContext, vertex: Vertex) -> None:
        self._ctx, self._vertex = ctx, vertex

    def __getitem__(self, role: str) -> str:
        if role not in self._vertex.params:
            raise KeyError(role)
        return self._ctx.param(role, vertex=self._vertex)

    def __contains__(self, role: object) -> bool:
        return role in self._vertex.params

    def __iter__(self) -> Iterator[str]:
        return iter(self._vertex.params)

    def __len__(self) -> int:
        return len(self._vertex.params)
