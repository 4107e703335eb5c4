"""Attention layers: Attention, AdditiveAttention and MultiHeadAttention (Keras 3's arguments,
defaults, weight names, layouts and order).

Their calls take options that Keras passes per call (`use_causal_mask`,
`return_attention_scores`, `attention_mask`); they become attrs and inputs of that call's vertex,
so one layer called twice may attend causally once and fully once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kir.errors import ConfigError, ShapeError, check_positive_int
from kir.ir.spec import TensorSpec, format_shape
from kir.layers import _args
from kir.layers.base import Layer
from kir.layers.node import Node
from kir.layers.tensor import KTensor

_CALL_FLAGS = ("use_causal_mask", "return_attention_scores")
_MASKED_INPUT = {"query_mask": 0, "value_mask": 1, "key_mask": 2}
"""Which call input carries each implicit (Keras) mask the op may take."""


class _CallOptions(Layer):
    """A layer whose calls carry per-call flags: `self._flags[node index]`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._flags: dict[int, dict[str, Any]] = {}
        self._pending: dict[str, Any] = {}

    def _flag_args(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The per-call flags of `kwargs` (Keras' `training` and `mask=None` are accepted and ignored:
        kir's graphs run in inference or training mode as a whole)."""
        flags = {}
        for key, value in kwargs.items():
            if key in _CALL_FLAGS:
                flags[key] = bool(value)
            elif key == "training" or (key == "mask" and value is None):
                continue
            else:
                allowed = ", ".join(_CALL_FLAGS + ("training",))
                raise ConfigError(f"{self._where()}: call argument '{key}' is not supported by kir; it takes {allowed}")
        return flags

    def _masked_inputs(self, flags: dict[str, Any]) -> tuple[str, ...]:
        """The implicit masks this layer honours: Attention its query's and value's, MultiHeadAttention
        also its key's (when a key is given)."""
        return ("query_mask", "value_mask")

    def _record(self, tensors: list[KTensor], flags: dict[str, Any],
                explicit: dict[int, KTensor] | None = None, implicit: bool = True) -> KTensor | list[KTensor]:
        """Layer.__call__ with this call's flags in force while the specs are computed and stored.
        Masks the inputs carry (Keras' implicit masks, unless `implicit` is False), or the explicit
        ones given for them (`explicit`: input index -> mask, overriding), become extra inputs of
        the op; the output carries the query's mask, as in Keras."""
        masks = {}
        explicit = explicit or {}
        for name in self._masked_inputs(flags):
            index = _MASKED_INPUT[name]
            mask = explicit.get(index, tensors[index].mask if implicit and index < len(tensors) else None)
            if mask is not None:
                masks[name] = mask
                flags[name] = True
        specs = [t.spec for t in tensors]
        self._pending = flags
        try:
            self.build_once(specs)
            out_specs = self.compute_output_specs(specs + [m.spec for m in masks.values()])
        finally:
            self._pending = {}
        node = Node(self, tensors, len(self._inbound_nodes))
        node.masks = dict(explicit)
        node.outputs = [KTensor(s, node, i, f"{self.name}/{node.index}:{i}") for i, s in enumerate(out_specs)]
        node.outputs[0].mask = masks.get("query_mask")
        self._inbound_nodes.append(node)
        self._flags[node.index] = flags
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def _mask_refs(self, emitter: Any, node: Node | None) -> list:
        """The graph tensors of the implicit masks this call takes, in the op's input order."""
        from kir.ir.ops.attention import IMPLICIT_MASKS

        return [emitter.input_mask(node, _MASKED_INPUT[n]) for n in IMPLICIT_MASKS if self._pending.get(n)]

    def call_flags(self, node: Node) -> dict[str, bool]:
        """The Keras call flags of call `node` that differ from their defaults (a `.kir` file records them)."""
        flags = self._flags.get(node.index, {})
        return {k: True for k in _CALL_FLAGS if flags.get(k)}

    def keras_call(self, node: Node, tensor: Any) -> dict[str, Any]:
        """Call `node` as a Keras config writes it: {"args": [[query, value(, key)]], "kwargs": flags}."""
        return {"args": [[tensor(t) for t in node.inputs]], "kwargs": self.call_flags(node)}

    def _flags_of(self, node: Node | None) -> dict[str, Any]:
        if node is None:
            return self._pending
        return self._flags.get(node.index, {})

    def emit(self, emitter: Any, inputs: list, node: Node | None) -> list:
        self._pending = self._flags_of(node)
        try:
            refs = list(inputs) + self._mask_refs(emitter, node)
            return emitter.layer_op(self, refs, name=self._vertex_name(node))
        finally:
            self._pending = {}


class Attention(_CallOptions):
    """Dot-product (Luong-style) attention: `Attention()([query, value])` or `[query, value, key]`;
    `use_scale` learns a scalar scale, `score_mode='concat'` scores with tanh(q + k)."""

    op_type = "Attention"
    takes_list = True
    call_takes_mask = True  # mask=[query_mask, value_mask]

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        if score_mode not in ("dot", "concat"):
            raise ConfigError(f"{type(self).__name__} '{self.name}': score_mode must be 'dot' or 'concat', "
                              f"got {score_mode!r}")
        self.score_mode = score_mode
        self.dropout = _args.rate(dropout, f"{type(self).__name__} '{self.name}': dropout")
        self.seed = None if seed is None else int(seed)

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        from kir.layers import trace

        mask = kwargs.pop("mask", None)
        flags = self._flag_args(kwargs)
        if trace.involved(inputs):
            if flags or mask is not None:
                raise ConfigError(f"{self._where()}: call arguments {sorted(flags)} are not supported inside "
                                  f"traced code; call the layer in the functional model instead")
            return trace.call_layer(self, inputs, {k: v for k, v in kwargs.items() if k == "training"})
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ConfigError(f"{self._where()} must be called on a list [query, value] or [query, value, key]")
        tensors = self._check_call_inputs(list(inputs))
        # Keras fills in `mask` from the inputs only when none is given: mask=[qm, None] has no value mask
        return self._record(tensors, flags, self._explicit_masks(mask, tensors), implicit=mask is None)

    def mask_call_kwargs(self, masks: dict[int, Any]) -> dict[str, Any]:
        return {"mask": [masks.get(0), masks.get(1)]} if masks else {}

    def _explicit_masks(self, mask: Any, tensors: list[KTensor]) -> dict[int, KTensor]:
        """Keras' `mask=[query_mask, value_mask]` (either may be None): input index -> mask."""
        if mask is None:
            return {}
        if not isinstance(mask, (list, tuple)) or len(mask) != 2:
            raise ConfigError(f"{self._where()}: mask must be a list [query_mask, value_mask] (either may be None), "
                              f"got {type(mask).__name__}" + (f" of {len(mask)}" if isinstance(mask, (list, tuple))
                                                              else ""))
        return {i: self.explicit_mask(m, tensors[i], f"mask[{i}] ({name})")
                for i, (m, name) in enumerate(zip(mask, ("query_mask", "value_mask"))) if m is not None}

    def build(self, input_specs: list[TensorSpec]) -> None:
        if len(input_specs) not in (2, 3):
            raise ConfigError(f"{self._where()} must be called on a list [query, value] or [query, value, key]")
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")

    def ir_attrs(self) -> dict[str, Any]:
        flags = self._pending
        masks = {n: True for n in ("query_mask", "value_mask") if flags.get(n)}
        return {**masks, "score_mode": self.score_mode, "use_scale": self.use_scale, "dropout": self.dropout,
                "seed": self.seed, "causal": bool(flags.get("use_causal_mask", False)),
                "return_scores": bool(flags.get("return_attention_scores", False))}


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores sum(scale * tanh(q + k)); `scale` has the feature size."""

    op_type = "Attention"

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)
        self._config_args.pop("score_mode", None)

    def build(self, input_specs: list[TensorSpec]) -> None:
        if len(input_specs) not in (2, 3):
            raise ConfigError(f"{self._where()} must be called on a list [query, value] or [query, value, key]")
        dim = input_specs[0].shape[-1]
        if dim is None:
            raise ShapeError(f"{self._where()}: the query's last dimension must be known, got "
                             f"{format_shape(input_specs[0].shape)}")
        if self.use_scale:
            self.add_weight("scale", (dim,), "glorot_uniform")

    def ir_attrs(self) -> dict[str, Any]:
        return {**super().ir_attrs(), "score_mode": "additive"}


_MHA_WEIGHTS = (("query", "kernel"), ("query", "bias"), ("key", "kernel"), ("key", "bias"),
                ("value", "kernel"), ("value", "bias"), ("attention_output", "kernel"), ("attention_output", "bias"))
_ROLE = {"attention_output": "output"}


class MultiHeadAttention(_CallOptions):
    """Multi-head attention (Vaswani et al.): `mha(query, value)`, `mha(query, value, key)`,
    `attention_mask=` (batch, T, S), `use_causal_mask=True`, `return_attention_scores=True`.

    Weights as Keras names and lays them out: query/key/value kernels (dim, heads, key_dim or
    value_dim) with biases (heads, key_dim), then attention_output kernel (heads, value_dim,
    output_dim) and bias (output_dim,)."""

    op_type = "MultiHeadAttention"
    positional_inputs = True
    """Keras calls it with positional tensors `(query, value)`; a Keras file's call replays as `mha([q, v], ...)`."""

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: int | Sequence[int] | None = None,
                 attention_axes: int | Sequence[int] | None = None, flash_attention: bool | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, seed: int | None = None,
                 **kwargs: Any):
        for off, value in (("sliding_window", None), ("use_gate", False)):
            if kwargs.get(off, value) not in (None, False):
                raise ConfigError(f"MultiHeadAttention: {off}={kwargs[off]!r} is not supported by kir")
            kwargs.pop(off, None)
        super().__init__(**kwargs)
        where = f"MultiHeadAttention '{self.name}'"
        self.num_heads = check_positive_int(num_heads, f"{where}: num_heads")
        self.key_dim = check_positive_int(key_dim, f"{where}: key_dim")
        self.value_dim = self.key_dim if not value_dim else check_positive_int(value_dim, f"{where}: value_dim")
        self.dropout = _args.rate(dropout, f"{where}: dropout")
        self.use_bias = bool(use_bias)
        if output_shape:
            dims = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
            if len(dims) != 1:
                raise ConfigError(f"{where}: output_shape {output_shape!r} has {len(dims)} dimensions; kir "
                                  f"supports one (an int), so reshape the output after the layer instead")
            output_shape = check_positive_int(dims[0], f"{where}: output_shape")
        self.output_shape_arg = output_shape or None
        if attention_axes is not None and not isinstance(attention_axes, (int, list, tuple)):
            raise ConfigError(f"{where}: attention_axes must be an int, list, or tuple, got {attention_axes!r}")
        axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
        if axes is not None and (not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes)):
            raise ConfigError(f"{where}: attention_axes must be axis numbers, e.g. (1, 2) for the rows and columns "
                              f"of (batch, H, W, C) inputs, got {attention_axes!r}")
        self.attention_axes = attention_axes
        self._axes = None if axes is None else [int(a) for a in axes]
        self.flash_attention = flash_attention
        _args.initializer_args(self, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer)
        _args.regularizer_args(self, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                               activity_regularizer=activity_regularizer)
        _args.constraint_args(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.seed = None if seed is None else int(seed)

    def __call__(self, query: Any, value: Any = None, key: Any = None, attention_mask: Any = None,
                 **kwargs: Any) -> Any:
        from kir.layers import trace

        if value is None and isinstance(query, (list, tuple)) and 2 <= len(query) <= 4:
            # the list form `.kir` files replay: [query, value], [query, value, key], [q, v, k, mask]
            parts = list(query)
            query, value = parts[0], parts[1]
            key = parts[2] if len(parts) > 2 else key
            attention_mask = parts[3] if len(parts) > 3 else attention_mask
        if value is None:
            raise ConfigError(f"{self._where()} must be called as mha(query, value) or mha(query, value, key)")
        given = {n: kwargs.pop(n) for n in ("query_mask", "value_mask", "key_mask") if kwargs.get(n) is not None}
        kwargs = {k: v for k, v in kwargs.items() if k not in _MASKED_INPUT}
        flags = self._flag_args(kwargs)
        tensors = [query, value] + ([key] if key is not None else [])
        if trace.involved(tensors):
            if flags or attention_mask is not None or given:
                raise ConfigError(f"{self._where()}: attention_mask / use_causal_mask / return_attention_scores "
                                  f"are not supported inside traced code; call the layer in the functional model")
            return trace.call_layer(self, tensors, {k: v for k, v in kwargs.items() if k == "training"})
        if (attention_mask is not None or "key_mask" in given) and key is None:
            key = value  # key = value, given explicitly so the list form [q, v, k, mask] replays it
            tensors.append(key)
            if "value_mask" in given and "key_mask" not in given:
                # Keras' call with no key reads no key mask: the key's own (implicit) mask must not
                # join an explicit value_mask, so the key gets that same mask
                given["key_mask"] = given["value_mask"]
        if attention_mask is not None:
            flags["has_mask"] = True
            tensors.append(attention_mask)
        flags["has_key"] = key is not None
        tensors = self._check_call_inputs(tensors)
        # Keras' call() reads the query's own mask, so an explicit query_mask= changes nothing (checked only)
        explicit = {_MASKED_INPUT[n]: self.explicit_mask(m, tensors[_MASKED_INPUT[n]], n) for n, m in given.items()}
        explicit.pop(0, None)
        return self._record(tensors, flags, explicit)

    def _accepts_several(self) -> bool:
        return True

    def mask_call_kwargs(self, masks: dict[int, Any]) -> dict[str, Any]:
        return {name: masks[i] for name, i in (("value_mask", 1), ("key_mask", 2)) if i in masks}

    def build(self, input_specs: list[TensorSpec]) -> None:
        q, v = input_specs[0], input_specs[1]
        has_key = self._pending.get("has_key", len(input_specs) == 3 and not self._pending.get("has_mask"))
        k = input_specs[2] if has_key else v
        for name, t in (("query", q), ("value", v), ("key", k)):
            if t.rank < 3 or t.shape[-1] is None:
                raise ShapeError(f"{self._where()}: {name} must have shape (batch, steps, features) (or (batch, "
                                 f"d1, ..., features) with attention_axes) with known features, got "
                                 f"{format_shape(t.shape)}")
        h, out = self.num_heads, self.output_shape_arg or q.shape[-1]
        sizes = {"query": ((q.shape[-1], h, self.key_dim), (h, self.key_dim)),
                 "key": ((k.shape[-1], h, self.key_dim), (h, self.key_dim)),
                 "value": ((v.shape[-1], h, self.value_dim), (h, self.value_dim)),
                 "attention_output": ((h, self.value_dim, out), (out,))}
        for sub, part in _MHA_WEIGHTS:
            if part == "bias" and not self.use_bias:
                continue
            shape = sizes[sub][0 if part == "kernel" else 1]
            init = self.kernel_initializer if part == "kernel" else self.bias_initializer
            # as Keras hands them to its four EinsumDense sublayers: each projection's kernel/bias
            # is penalized and projected by the layer's kernel_/bias_ regularizer and constraint
            self.add_weight(f"{sub}/{part}", shape, init, regularizer=getattr(self, f"{part}_regularizer"),
                            constraint=getattr(self, f"{part}_constraint"))

    def build_once(self, input_specs: list[TensorSpec], many: bool | None = None) -> None:
        pending = self._pending
        self._pending = pending or {"has_key": len(input_specs) == 3}  # a call inside traced code
        try:
            super().build_once(input_specs, many)
        finally:
            self._pending = pending

    def ir_attrs(self) -> dict[str, Any]:
        flags = self._pending
        scores = bool(flags.get("return_attention_scores", False))
        masks = {n: True for n in ("query_mask", "value_mask", "key_mask") if flags.get(n)}
        return {**masks, "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
                "output_dim": self.output_shape_arg, "use_bias": self.use_bias, "dropout": self.dropout,
                "seed": self.seed, "has_key": bool(flags.get("has_key", False)),
                "has_mask": bool(flags.get("has_mask", False)),
                "causal": bool(flags.get("use_causal_mask", False)), "return_scores": scores,
                **({} if self._axes is None else {"attention_axes": list(self._axes)}),
                # Keras' fused path (no dropout, no scores) leaves fully masked rows uniform; its
                # softmax-layer path zeroes them
                "zero_masked": scores or self.dropout > 0}

    def keras_call(self, node: Node, tensor: Any) -> dict[str, Any]:
        """Call `node` as Keras writes it: {"args": [query, value], "kwargs": key, attention_mask, flags}."""
        flags = self._flags.get(node.index, {})
        rest = list(node.inputs[2:])
        kwargs: dict[str, Any] = {"key": tensor(rest.pop(0))} if flags.get("has_key") else {}
        if flags.get("has_mask"):
            kwargs["attention_mask"] = tensor(rest.pop(0))
        return {"args": [tensor(node.inputs[0]), tensor(node.inputs[1])], "kwargs": {**kwargs, **self.call_flags(node)}}

    def _masked_inputs(self, flags: dict[str, Any]) -> tuple[str, ...]:
        return ("query_mask", "value_mask", "key_mask") if flags.get("has_key") else ("query_mask", "value_mask")

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        from kir.ir import ops

        pending = self._pending
        self._pending = pending or {"has_key": len(input_specs) == 3}
        try:
            shapes = {_role(n): tuple(self.get_weight(n).shape) for n in self.weight_names()}
            return ops.infer(self.op_type, self.ir_attrs(), input_specs, shapes, where=self._where())
        finally:
            self._pending = pending

    def emit(self, emitter: Any, inputs: list, node: Node | None) -> list:
        self._pending = self._flags.get(node.index, {}) if node is not None else {"has_key": len(inputs) == 3}
        try:
            params = {_role(w): emitter.param(self, w) for w in self.weight_names()}
            refs = list(inputs) + self._mask_refs(emitter, node)
            return emitter.op(self.op_type, refs, self.ir_attrs(), self, params, self._vertex_name(node))
        finally:
            self._pending = {}


def _role(weight: str) -> str:
    """'query/kernel' -> 'query_kernel', 'attention_output/bias' -> 'output_bias' (the op's roles)."""
    sub, part = weight.split("/")
    return f"{_ROLE.get(sub, sub)}_{part}"
