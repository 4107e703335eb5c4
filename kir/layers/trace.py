"""Tracing user code into the graph: a layer whose class defines `call()` (a subclassed layer, a
`Lambda`, the small layers tensor operators make) runs that `call()` once per layer call on
`TraceTensor`s, and every kir.backend op or tensor operator it applies is recorded as one IR
primitive (kir/ir/ops/math.py, array.py). The record, a `Trace`, is what the layer emits into
graphs and what a `.kir` file stores, so running, exporting, training and loading never call
the user's code again.

- `Tracer` records one call: the inputs (Input steps), constants (Constant steps), weights read
  through `Variable`s (Param steps, the weight's owner and name), primitives, and calls of kir
  layers inside the traced code (Layer steps, emitted by that layer itself).
- A traced layer called inside another trace is inlined (its ops join the outer trace).
- `trace_json` / `replay_json` write a trace as JSON and replay it into a new trace (loading).
- A `call()` taking `training` (Keras passes the mode) runs with training=False; if it (or a traced
  layer it calls) took the mode, it is traced again with training=True, and when the two records
  differ the trace holds both, joined per output by a ByMode op (the backends pick by mode).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from kir.errors import ConfigError, KirError, LoadError
from kir.ir import ops
from kir.ir.spec import TensorSpec, format_shape
from kir.layers.symbolic import ENV_DEFAULTS, SymbolicDim, SymbolicTensor, TraceError
from kir.layers.tensor import KTensor
from kir.layers.variable import Variable

if TYPE_CHECKING:
    from kir.ir.graph import Ref
    from kir.layers.base import Layer
    from kir.layers.emitter import Emitter

_STACK: list[Tracer] = []
StepRef = tuple[int, int]
"""(step number, output index) inside one trace."""

RESERVED_OPS = ("Input", "Call", "TimeDistributed", "Layer")


def active() -> Tracer | None:
    """The tracer recording right now (innermost), or None outside traced code."""
    return _STACK[-1] if _STACK else None


def is_traced(layer: Any) -> bool:
    """Whether `layer`'s class defines `call()` (so calling it traces that code)."""
    from kir.layers.base import Layer

    return type(layer).call is not Layer.call


@dataclass
class Step:
    """One recorded operation: an IR op (or 'Input' / 'Layer') on earlier steps' outputs."""

    op: str
    attrs: dict[str, Any]
    inputs: list[StepRef]
    specs: list[TensorSpec]
    name: str
    params: dict[str, tuple[Any, str]] = field(default_factory=dict)
    """role -> (owner layer, weight name), for Param steps."""
    layer: Any = None
    """The kir layer a 'Layer' step calls."""


class Trace:
    """One traced call: input specs, the steps, which step outputs are the call's outputs."""

    def __init__(self, specs: Sequence[TensorSpec], many_inputs: bool) -> None:
        self.steps = [Step("Input", {"index": i}, [], [s], f"input_{i}") for i, s in enumerate(specs)]
        self.n_inputs = len(specs)
        self.many_inputs = many_inputs
        self.outputs: list[StepRef] = []
        self.many_outputs = False
        self.losses: list[StepRef] = []
        """Values the traced code gave `self.add_loss(...)`: summed into the training loss."""
        self.loss_tensors: list[KTensor] = []
        """For the trace of one node: the node's KTensors of `losses` (what Model.losses lists)."""

    @property
    def input_specs(self) -> list[TensorSpec]:
        return [self.steps[i].specs[0] for i in range(self.n_inputs)]

    @property
    def output_specs(self) -> list[TensorSpec]:
        return [self.steps[s].specs[i] for s, i in self.outputs]

    def layers(self) -> list[Layer]:
        """The other layers the trace uses (called, or whose weights it reads), first use first."""
        found: dict[int, Layer] = {}
        for step in self.steps:
            for owner, _ in step.params.values():
                found.setdefault(id(owner), owner)
            if step.layer is not None:
                found.setdefault(id(step.layer), step.layer)
        return list(found.values())

    def emit(self, owner: Layer, emitter: Emitter, inputs: Sequence[Ref], base: str,
             losses: bool = False) -> list[Ref]:
        """The steps as vertices of the emitter's graph (named '<base>/<step>'), fed by `inputs`;
        the outputs, then (with `losses`) the add_loss values."""
        refs: list[list[Ref]] = []
        for step in self.steps:
            args = [refs[s][i] for s, i in step.inputs]
            if step.op == "Input":
                refs.append([inputs[step.attrs["index"]]])
            elif step.op == "Layer":
                refs.append(step.layer.emit(emitter, args, None))
            else:
                params = {role: emitter.param(layer, weight) for role, (layer, weight) in step.params.items()}
                refs.append(emitter.op(step.op, args, step.attrs, owner, params, f"{base}/{step.name}"))
        return [refs[s][i] for s, i in self.outputs + (self.losses if losses else [])]

    def dump(self) -> str:
        """A readable listing: one line per step."""
        lines = []
        for n, step in enumerate(self.steps):
            args = ", ".join(f"%{s}" + (f":{i}" if i else "") for s, i in step.inputs)
            what = step.layer.name if step.layer is not None else ", ".join(
                f"{k}={v}" for k, v in step.attrs.items() if k != "value")
            params = "".join(f" {r}={o.name}/{w}" for r, (o, w) in step.params.items())
            lines.append(f"%{n} = {step.op}({args}) {what}{params} -> "
                         f"{', '.join(format_shape(s.shape) + ' ' + s.dtype for s in step.specs)}")
        lines.append("return " + ", ".join(f"%{s}" + (f":{i}" if i else "") for s, i in self.outputs))
        return "\n".join(lines)


class TraceTensor(SymbolicTensor):
    """A value inside a traced call: output `ref` of one step of `tracer`'s trace."""

    __slots__ = ("tracer", "ref", "spec")

    def __init__(self, tracer: Tracer, ref: StepRef, spec: TensorSpec) -> None:
        self.tracer = tracer
        self.ref = ref
        self.spec = spec

    def __kir_op__(self, name: str, args: tuple, kwargs: dict, env: dict | None = None) -> Any:
        from kir.layers import kops

        return kops.apply(self.tracer, name, args, kwargs, env)

    def _kir_where(self) -> str:
        return self.tracer.where

    def __bool__(self) -> bool:
        raise self._kir_refuse(
            "using a symbolic tensor as a Python bool (if/while/and/or/not/assert on a tensor)",
            "its value is unknown while tracing; choose per element with K.where(condition, x, y), or branch on "
            "static facts such as K.int_shape(t)")

    def __repr__(self) -> str:
        return f"<TraceTensor %{self.ref[0]} shape={format_shape(self.shape)} dtype={self.dtype}>"


class Tracer:
    """Records one call of `layer` on inputs of `specs` into a Trace."""

    def __init__(self, layer: Layer, specs: Sequence[TensorSpec], many: bool) -> None:
        self.layer = layer
        self.where = f"{layer._where()} while tracing its call()"
        self.trace = Trace(specs, many)
        self.inputs = [TraceTensor(self, (i, 0), s) for i, s in enumerate(specs)]
        self.env: dict[str, Any] = dict(ENV_DEFAULTS)
        self.closed = False
        self._params: dict[tuple[int, str], TraceTensor] = {}
        self.training = False
        """The mode traced now: what a call() taking `training` gets when its caller gives none."""
        self.mode_seen = False
        """Whether some call() got `training` from the mode (so another mode may trace differently)."""

    def __enter__(self) -> Tracer:
        _STACK.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _STACK.remove(self)

    def __kir_op__(self, name: str, args: tuple, kwargs: dict, env: dict | None = None) -> Any:
        """A K op with no symbolic argument called while this tracer records (K.random_normal)."""
        from kir.layers import kops

        return kops.apply(self, name, args, kwargs, env)

    # ---------------------------------------------------------------- recording
    def add(self, op: str, attrs: dict[str, Any], inputs: Sequence[TraceTensor], name: str,
            params: dict[str, tuple[Any, str]] | None = None, layer: Any = None) -> list[TraceTensor]:
        """Record `op` on `inputs`; its output specs come from the op's shape rule."""
        if self.closed:
            raise TraceError(f"{self.where}: the trace is finished; a tensor of an earlier call was kept "
                             f"(e.g. on self) and used again; compute it inside each call instead")
        for t in inputs:
            self.own(t)
        specs = [t.spec for t in inputs]
        if layer is not None:
            out = list(layer.compute_output_specs(specs))
        else:
            shapes = {role: tuple(owner.get_weight(w).shape) for role, (owner, w) in (params or {}).items()}
            out = ops.infer(op, attrs, specs, shapes, where=self.where)
        number = len(self.trace.steps)
        self.trace.steps.append(Step(op, attrs, [t.ref for t in inputs], out, name, dict(params or {}), layer))
        return [TraceTensor(self, (number, i), s) for i, s in enumerate(out)]

    def own(self, t: TraceTensor) -> TraceTensor:
        if t.tracer is not self and t.tracer.closed:
            raise TraceError(f"{self.where}: a tensor of an earlier, finished call (kept on self or in a closure) "
                             f"is used here; compute it inside each call instead")
        if t.tracer is not self:
            raise TraceError(f"{self.where}: a tensor from another trace ({t.tracer.where}) is used here; "
                             f"tensors of one layer call cannot flow into another, pass them as inputs")
        return t

    def tensor(self, x: Any, dtype: str | None = None) -> TraceTensor:
        """`x` as a value of this trace: tensors as they are, Variables as Param steps, anything
        numeric as a Constant step (float64 data becomes float32, int64 int32, unless `dtype`)."""
        if isinstance(x, TraceTensor):
            return self.own(x)
        if isinstance(x, Variable):
            return self.param(x)
        if isinstance(x, KTensor):
            raise TraceError(f"{self.where}: tensor '{x.name}' comes from outside this call; a traced call "
                             f"sees only its inputs, so pass it in: Lambda(fn)([x, {x.name.split('/')[0]}_out])")
        if isinstance(x, SymbolicDim):
            x._refuse()
        try:
            array = np.asarray(x)
        except KirError:
            raise
        except (TypeError, ValueError) as exc:
            raise TraceError(f"{self.where}: {type(x).__name__} {x!r:.60} is not a tensor or a number "
                             f"({exc})") from None
        if array.dtype.kind not in "biuf":
            raise TraceError(f"{self.where}: {type(x).__name__} {x!r:.60} is not a tensor or a number; kir traces "
                             f"numeric values only")
        if dtype is None:
            dtype = {"float64": "float32", "int64": "int32"}.get(array.dtype.name, array.dtype.name)
        return self.constant(array.astype(dtype))

    def add_loss(self, value: Any) -> None:
        """`layer.add_loss(value)` inside traced code: the value becomes a loss output of the call."""
        self.trace.losses.append(self.tensor(value).ref)

    def constant(self, array: np.ndarray) -> TraceTensor:
        attrs = {"value": array.tolist(), "shape": list(array.shape), "dtype": array.dtype.name}
        return self.add("Constant", attrs, [], "constant")[0]

    def param(self, v: Variable) -> TraceTensor:
        """A weight read by traced code (one Param step per weight per trace)."""
        key = (id(v.layer), v.weight)
        if key not in self._params:
            self._params[key] = self.add("Param", {"dtype": v.dtype}, [], v.weight,
                                         params={"value": (v.layer, v.weight)})[0]
        return self._params[key]

    def call(self, layer: Layer, tensors: list[TraceTensor], many: bool, kwargs: dict[str, Any]) -> Any:
        """A layer called on values of this trace: a traced layer is inlined (its call runs here),
        a kir layer becomes one Layer step that it emits itself."""
        specs = [t.spec for t in tensors]
        if is_traced(layer):
            layer.build_once(specs, many)
            outer, self.where = self.where, f"{layer._where()} while tracing its call()"
            try:
                kwargs = with_mode(self, layer, kwargs)
                return outputs_of(self, call_user(layer, tensors if many else tensors[0], kwargs))[0]
            finally:
                self.where = outer
        extra = sorted(set(kwargs) - {"training", "mask"})
        if extra:
            raise ConfigError(f"layer '{layer.name}': call argument '{extra[0]}' is not supported by kir")
        if kwargs.get("mask") is not None:  # never dropped silently: the step below runs without masks
            raise ConfigError(f"layer '{layer.name}': an explicit mask= inside traced code (a subclassed layer's "
                              f"call()) is not supported by kir; call the layer with mask= in the functional model")
        if layer.takes_list and not many:
            raise ConfigError(f"layer '{layer.name}' ({type(layer).__name__}) must be called on a list of tensors")
        penalties = getattr(layer, "_penalties", None)  # a functional model: its call emits no losses here
        if penalties is not None and any(penalties()):
            raise ConfigError(f"model '{layer.name}' has add_loss() values or activity regularizers, but {self.where} "
                              f"calls it, and kir cannot collect a nested model's losses there; call "
                              f"'{layer.name}' in the functional model, or subclass it (a traced call() is inlined)")
        layer.build_once(specs)
        outs = self.add("Layer", {}, tensors, layer.name, layer=layer)
        return outs[0] if len(outs) == 1 else outs


def with_mode(tracer: Tracer, layer: Layer, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` with `training` set to the traced mode when `layer.call` takes it and the caller
    gave none (Keras propagates the outer call's mode); an explicit value stays fixed."""
    if kwargs.get("training") is not None or "training" not in inspect.signature(layer.call).parameters:
        return kwargs
    tracer.mode_seen = True
    return {**kwargs, "training": tracer.training}


def call_user(layer: Layer, inputs: Any, kwargs: dict[str, Any]) -> Any:
    """`layer.call(inputs, **kwargs)` (`training=` / `mask=` only if call() takes them, as Keras
    passes them); a TypeError from inside becomes a TraceError naming the layer."""
    if kwargs:
        accepted = inspect.signature(layer.call).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in accepted or k not in ("training", "mask")}
    try:
        return layer.call(inputs, **kwargs)
    except KirError:
        raise
    except TypeError as exc:
        raise TraceError(f"{layer._where()}: its call() raised TypeError while kir traced it on symbolic tensors: "
                         f"{exc}. Traced code may use kir.backend (K) ops, tensor operators and kir layers on its "
                         f"inputs (see docs/tracing.md)") from exc


def outputs_of(tracer: Tracer, out: Any) -> tuple[Any, list[TraceTensor], bool]:
    """What call() returned, as values of the trace: (the same structure, flat list, several?)."""
    if out is None:
        raise TraceError(f"{tracer.where}: call() returned None; return the output tensor(s)")
    if isinstance(out, (list, tuple)):
        flat = [tracer.tensor(o) for o in out]
        return flat, flat, True
    if isinstance(out, dict):
        raise TraceError(f"{tracer.where}: call() returned a dict; kir layers return a tensor or a list of tensors")
    t = tracer.tensor(out)
    return t, [t], False


def run(layer: Layer, specs: Sequence[TensorSpec], many: bool, kwargs: dict[str, Any]) -> Trace:
    """Trace one call of `layer` on inputs of `specs` (building the layer first, Keras-style): in
    inference mode, and if some call() took the mode, in training mode too (both kept if they differ)."""
    first = _record(layer, specs, many, kwargs, (False,))
    if not first.mode_seen:
        return first.trace
    second = _record(layer, specs, many, kwargs, (True,))
    if _signature(first.trace) == _signature(second.trace):
        return first.trace
    return _record(layer, specs, many, kwargs, (False, True)).trace


def _record(layer: Layer, specs: Sequence[TensorSpec], many: bool, kwargs: dict[str, Any],
            modes: tuple[bool, ...]) -> Tracer:
    """One tracer running call() once per mode in `modes`; two modes are joined by ByMode steps."""
    tracer = Tracer(layer, specs, many)
    results = []
    with tracer:
        layer.build_once(list(specs), many)
        for mode in modes:
            tracer.training = mode
            start = len(tracer.trace.losses)
            out = call_user(layer, tracer.inputs if many else tracer.inputs[0], with_mode(tracer, layer, kwargs))
            _, flat, several = outputs_of(tracer, out)
            losses = [TraceTensor(tracer, r, tracer.trace.steps[r[0]].specs[r[1]]) for r in tracer.trace.losses[start:]]
            results.append((flat, several, losses))
        if len(results) == 2:
            results = [_join(tracer, *results)]
    flat, several, losses = results[0]
    tracer.closed = True
    tracer.trace.outputs = [t.ref for t in flat]
    tracer.trace.many_outputs = several
    tracer.trace.losses = [t.ref for t in losses]
    return tracer


def _join(tracer: Tracer, infer: tuple, train: tuple) -> tuple[list[TraceTensor], bool, list[TraceTensor]]:
    """The inference and training results of one call as one: a ByMode step per value that differs."""
    if len(infer[0]) != len(train[0]) or infer[1] != train[1]:
        raise TraceError(f"{tracer.where}: call() returns {len(infer[0])} value(s) with training=False but "
                         f"{len(train[0])} with training=True; return the same structure in both modes")
    if len(infer[2]) != len(train[2]):
        raise TraceError(f"{tracer.where}: call() adds {len(infer[2])} loss(es) with training=False but "
                         f"{len(train[2])} with training=True; add the same losses in both modes (0.0 where unused)")

    def pick(a: TraceTensor, b: TraceTensor) -> TraceTensor:
        return a if a.ref == b.ref else tracer.add("ByMode", {}, [a, b], "by_mode")[0]

    return ([pick(a, b) for a, b in zip(infer[0], train[0])], infer[1],
            [pick(a, b) for a, b in zip(infer[2], train[2])])


def _signature(trace: Trace) -> str:
    """A trace's structure (ops, attrs, wiring, weights and layers by identity) as a comparable string."""
    steps = [(s.op, s.attrs, s.inputs, s.name, {r: [id(o), w] for r, (o, w) in s.params.items()},
              id(s.layer) if s.layer is not None else None) for s in trace.steps]
    return json.dumps([steps, trace.outputs, trace.losses, trace.many_outputs], sort_keys=True, default=repr)


def involved(inputs: Any) -> bool:
    """Whether a layer call on `inputs` happens inside traced code (so it is recorded there)."""
    flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if any(isinstance(t, TraceTensor) for t in flat):
        return True
    return active() is not None and not any(isinstance(t, KTensor) for t in flat)


def call_layer(layer: Layer, inputs: Any, kwargs: dict[str, Any]) -> Any:
    """`Layer.__call__` for traced layers and for every layer called inside traced code."""
    many = isinstance(inputs, (list, tuple))
    flat = list(inputs) if many else [inputs]
    tracer = next((t.tracer for t in flat if isinstance(t, TraceTensor)), None) or active()
    outer = [t for t in flat if isinstance(t, KTensor)]
    if tracer is not None and not outer:
        return tracer.call(layer, [tracer.tensor(t) for t in flat], many, kwargs)
    if tracer is not None and any(isinstance(t, TraceTensor) for t in flat):
        tracer.tensor(outer[0])  # refuses the outer tensor, naming it
    from kir.layers.node import Node

    tensors = layer._check_call_inputs(inputs)
    trace = run(layer, [t.spec for t in tensors], many, kwargs)
    node = Node(layer, tensors, len(layer._inbound_nodes))
    node.outputs = [KTensor(s, node, i, f"{layer.name}/{node.index}:{i}") for i, s in enumerate(trace.output_specs)]
    layer._inbound_nodes.append(node)
    layer._traces[id(node)] = (node, trace)
    for tensor, mask in zip(node.outputs, layer.compute_mask(node, node.input_masks())):
        tensor.mask = mask  # Keras: a layer that sets supports_masking passes its input's mask on
    n = len(node.outputs)
    trace.loss_tensors = [KTensor(trace.steps[s].specs[i], node, n + j, f"{layer.name}/{node.index}:loss{j}")
                          for j, (s, i) in enumerate(trace.losses)]
    return list(node.outputs) if trace.many_outputs else node.outputs[0]


def trace_of(layer: Layer, node: Any, specs: Sequence[TensorSpec]) -> Trace:
    """The trace of one node of `layer`, or (node None: TimeDistributed's step, a nested use) a
    trace for inputs of `specs`, made once per specs."""
    entry = layer._traces.get(id(node)) if node is not None else None
    if entry is not None and entry[0] is node:
        return entry[1]
    key = (tuple(specs), len(specs) > 1)
    if key not in layer._spec_traces:
        layer._spec_traces[key] = run(layer, specs, len(specs) > 1, {})
    return layer._spec_traces[key]


def same_graphs(first: Sequence[KTensor], second: Sequence[KTensor], stable: set[int]) -> bool:
    """Whether two runs of a functional call() built the same graph: the same layers of `stable`
    (ids; others, made during a run, compare by class) on the same inputs, with the same traces."""
    memo: dict[int, str] = {}

    def sig(t: KTensor) -> str:
        if id(t) not in memo:
            node, layer = t.node, t.node.layer
            entry = getattr(layer, "_traces", {}).get(id(node))
            trace = _signature(entry[1]) if entry is not None and entry[0] is node else ""
            key = str(id(layer)) if id(layer) in stable or not node.inputs else type(layer).__name__
            memo[id(t)] = json.dumps([key, trace, t.index, [sig(i) for i in node.inputs]])
        return memo[id(t)]

    return len(first) == len(second) and all(sig(a) == sig(b) for a, b in zip(first, second))


def attribute_layers(owner: Any, skip: Any = ()) -> dict[int, Layer]:
    """The layers `owner` holds in its attributes (or in lists/dicts there), in assignment order:
    Keras' tracking order, hence its weights order (`owner` itself and attributes in `skip` left out)."""
    from kir.layers.base import Layer as Base

    found: dict[int, Base] = {}

    def visit(value: Any) -> None:
        if isinstance(value, Base):
            if value is not owner:
                found.setdefault(id(value), value)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)

    for key, value in vars(owner).items():
        if key not in skip:
            visit(value)
    return found


def tracked_layers(layer: Layer) -> list[Layer]:
    """The layers a traced layer owns, as Keras tracks them: layers held in its attributes (or in
    lists/dicts there), in assignment order, then any other layer its traces use."""
    found = attribute_layers(layer, ("_inbound_nodes", "_traces", "_spec_traces", "_config_args", "_initial_weights"))
    for _, trace in list(layer._traces.values()) + [(None, t) for t in layer._spec_traces.values()]:
        for other in trace.layers():
            if other is not layer:
                found.setdefault(id(other), other)
    return list(found.values())


# ------------------------------------------------------------------------------ JSON
def trace_json(trace: Trace, owner: Layer, layers: Sequence[Layer]) -> dict[str, Any]:
    """A trace as JSON: steps refer to `layers` (the owner's sub-layers) by index, -1 = the owner."""
    index = {id(layer): i for i, layer in enumerate(layers)}
    index[id(owner)] = -1
    steps = []
    for step in trace.steps[trace.n_inputs:]:
        entry: dict[str, Any] = {"op": step.op, "name": step.name, "attrs": step.attrs,
                                 "inputs": [list(r) for r in step.inputs]}
        if step.params:
            entry["params"] = {role: [index[id(o)], w] for role, (o, w) in step.params.items()}
        if step.layer is not None:
            entry["layer"] = index[id(step.layer)]
            entry["outputs"] = len(step.specs)
        steps.append(entry)
    data = {"inputs": [s.to_json() for s in trace.input_specs], "many_inputs": trace.many_inputs,
            "steps": steps, "outputs": [list(r) for r in trace.outputs], "many_outputs": trace.many_outputs}
    if trace.losses:
        data["losses"] = [list(r) for r in trace.losses]
    return data


def _bad(message: str) -> LoadError:
    return LoadError(f"bad traced call: {message}")


def check_json(data: Any, n_layers: int, weights: set[str]) -> None:
    """Refuse a stored trace that is not well formed (before anything runs it)."""
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("steps", "inputs", "outputs")):
        raise _bad(f"{data!r:.80}")
    counts = [1] * len(data["inputs"])
    allowed = set(ops.registered_ops()) - set(RESERVED_OPS)

    def check_ref(ref: Any) -> None:
        ok = isinstance(ref, list) and len(ref) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                              for v in ref)
        if not ok or not 0 <= ref[0] < len(counts) or not 0 <= ref[1] < counts[ref[0]]:
            raise _bad(f"reference {ref!r:.40} names no earlier value")

    for step in data["steps"]:
        if not isinstance(step, dict) or not isinstance(step.get("attrs", {}), dict):
            raise _bad(f"step {step!r:.80}")
        op = step.get("op")
        if op == "Layer":
            k = step.get("layer")
            if not isinstance(k, int) or not 0 <= k < n_layers or not isinstance(step.get("outputs"), int):
                raise _bad(f"layer step {step!r:.80} names no sub-layer")
        elif op not in allowed:
            raise _bad(f"unknown op {op!r:.40}")
        for ref in step.get("inputs", []) if isinstance(step.get("inputs"), list) else [None]:
            check_ref(ref)
        for role, owner in (step.get("params") or {}).items():
            if not (isinstance(owner, list) and len(owner) == 2 and isinstance(owner[0], int)
                    and -1 <= owner[0] < n_layers and isinstance(owner[1], str)):
                raise _bad(f"param {role!r:.20} = {owner!r:.40}")
            if owner[0] == -1 and owner[1] not in weights:
                raise _bad(f"param {role!r:.20} reads weight {owner[1]!r:.40}, which the layer does not have")
        counts.append(step["outputs"] if op == "Layer" else 1)
    if not isinstance(data.get("losses", []), list):
        raise _bad(f"losses {data.get('losses')!r:.40}")
    for ref in data.get("outputs", []) + data.get("losses", []):
        check_ref(ref)
    if not data.get("outputs"):
        raise _bad("no outputs")


def replay_json(data: dict[str, Any], tracer: Tracer, inputs: Sequence[TraceTensor], owner: Layer,
                layers: Sequence[Layer]) -> Any:
    """Record a stored trace (checked by `check_json`) again in `tracer`, on `inputs`."""
    if len(inputs) != len(data["inputs"]):
        raise TraceError(f"{tracer.where}: it was saved for {len(data['inputs'])} input(s), got {len(inputs)}")
    values: list[list[TraceTensor]] = [[t] for t in inputs]
    for step in data["steps"]:
        args = [values[s][i] for s, i in step["inputs"]]
        if step["op"] == "Layer":
            out = tracer.call(layers[step["layer"]], args, len(args) > 1 or layers[step["layer"]].takes_list, {})
            values.append(out if isinstance(out, list) else [out])
            continue
        params = {role: (owner if k == -1 else layers[k], w) for role, (k, w) in (step.get("params") or {}).items()}
        if step["op"] == "Param" and not params:
            raise _bad("a Param step without its weight")
        values.append(tracer.add(step["op"], step["attrs"], args, str(step.get("name", step["op"].lower())), params))
    for s, i in data.get("losses", []):
        tracer.add_loss(values[s][i])
    outs = [values[s][i] for s, i in data["outputs"]]
    return outs if data.get("many_outputs") else outs[0]
