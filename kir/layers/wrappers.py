"""Wrappers: TimeDistributed (a layer or model on every time step) and Bidirectional."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kir.errors import ConfigError, ShapeError
from kir.ir.spec import TensorSpec, format_shape
from kir.layers.base import Layer

if TYPE_CHECKING:
    from kir.ir.graph import Ref
    from kir.layers.emitter import Emitter
    from kir.layers.node import Node
    from kir.layers.tensor import KTensor


class TimeDistributed(Layer):
    """`TimeDistributed(layer)(x)`: x is (batch, time, ...); `layer` sees (batch*time, ...).
    The input's mask passes on to the output (Keras' compute_mask), an explicit `mask=` too."""

    supports_masking = True
    call_takes_mask = True

    def explicit_mask(self, mask: Any, x: KTensor, what: str) -> KTensor:
        """Keras also hands an explicit mask to a wrapped layer that takes one; kir's step graph
        runs without masks, so that case is refused rather than computed differently."""
        if self.layer.call_takes_mask:
            raise ConfigError(f"{self._where()}: an explicit mask for a wrapped {type(self.layer).__name__} is not "
                              f"supported by kir; mask the wrapper's input instead (Masking, Embedding(mask_zero))")
        return super().explicit_mask(mask, x, what)

    def __init__(self, layer: Layer, **kwargs: Any):
        if not isinstance(layer, Layer):
            raise ConfigError(f"TimeDistributed wraps a kir layer or model, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer

    def sublayers(self) -> list[Layer]:
        return [self.layer]

    def _step_spec(self, spec: TensorSpec) -> TensorSpec:
        if spec.rank < 3:
            raise ShapeError(f"{self._where()}: needs an input of rank >= 3 (batch, time, ...), "
                             f"got {format_shape(spec.shape)}")
        return TensorSpec((None,) + spec.shape[2:], spec.dtype)

    def build(self, input_specs: list[TensorSpec]) -> None:
        self.layer.build_once([self._step_spec(input_specs[0])])

    def _step_graph(self, spec: TensorSpec):
        from kir.ir.graph import Graph
        from kir.layers.emitter import Emitter

        return Emitter(Graph(self.name), {}).step_graph(self.layer, [self._step_spec(spec)])

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        from kir.ir.shapes import time_distributed_specs

        return time_distributed_specs(self._step_graph(input_specs[0]), input_specs, self._where())

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        step = emitter.step_graph(self.layer, [self._step_spec(emitter.graph.spec(inputs[0]))])
        return emitter.op("TimeDistributed", inputs, {}, self, {}, self._vertex_name(node), step)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards, then merges (`merge_mode`).

    It lowers to plain IR: the two recurrent ops, a `Reverse` of the backward sequence when
    sequences are returned, and a merge op, so backends need no Bidirectional lowering.
    """

    MERGES = {"concat": "Concatenate", "sum": "Add", "mul": "Multiply", "ave": "Average", None: None}
    call_takes_mask = True

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", backward_layer: Layer | None = None,
                 **kwargs: Any):
        from kir.layers.recurrent import _RNN

        if not isinstance(layer, _RNN):
            raise ConfigError(f"Bidirectional wraps a SimpleRNN, GRU or LSTM layer, got {type(layer).__name__}")
        if merge_mode not in self.MERGES:
            raise ConfigError(f"Bidirectional: merge_mode must be one of 'concat', 'sum', 'mul', 'ave' or None, "
                              f"got {merge_mode!r}")
        super().__init__(**kwargs)
        config = layer.get_config()
        config.pop("name", None)
        self.forward_layer = type(layer)(**{**config, "name": f"forward_{layer.name}"})
        if backward_layer is None:
            backward_layer = type(layer)(**{**config, "go_backwards": not layer.go_backwards,
                                            "name": f"backward_{layer.name}"})
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (self.forward_layer, self.backward_layer):  # Keras forces this on both directions
            sub.zero_output_for_mask = sub.return_sequences

    def sublayers(self) -> list[Layer]:
        return [self.forward_layer, self.backward_layer]

    def _call_kwarg_inputs(self, kwargs: dict[str, Any]) -> list[KTensor]:
        """`initial_state=`: the forward layer's states, then the backward layer's (Keras' split)."""
        from kir.layers.recurrent import initial_state_inputs

        sides = (("forward", self.forward_layer), ("backward", self.backward_layer))
        return initial_state_inputs(self, kwargs, [f"{side} {s}" for side, sub in sides for s in sub.state_names()])

    def _accepts_several(self) -> bool:
        """`layer([x, *states])`, the list form of `initial_state=` (how .kir files record it)."""
        return True

    def build(self, input_specs: list[TensorSpec]) -> None:
        for sub in self.sublayers():
            if not sub.built:
                sub.build(input_specs)
                sub.built = True

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        from kir.ir.graph import Graph
        from kir.layers.emitter import Emitter

        try:
            graph = Emitter(Graph(self.name), {}).step_graph(self, input_specs)
        except ShapeError as exc:  # name the Bidirectional layer the user called, not its inner copy
            raise ShapeError(f"{self._where()}: {exc}") from None
        return [graph.spec(r) for r in graph.outputs]

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        """Keras': the input mask on the sequence output(s) (both when merge_mode is None)."""
        mask = masks[0] if masks and self.return_sequences else None
        sequences = 1 if self.merge_mode is not None else 2
        return [mask] * sequences + [None] * (len(node.outputs) - sequences)

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        from kir.layers.recurrent import emit_masked

        base = self._vertex_name(node)
        x, states = list(inputs[:1]), list(inputs[1:])
        half = len(states) // 2
        # Keras 3: no implicit mask with initial_state=; an explicit mask= applies
        mask = emitter.input_mask(node) if not states or (node is not None and node.masks) else None
        fwd = emit_masked(self.forward_layer, emitter, x + states[:half], mask, f"{base}_forward")
        bwd = emit_masked(self.backward_layer, emitter, x + states[half:], mask, f"{base}_backward")
        y_fwd, y_bwd = fwd[0], bwd[0]
        if self.return_sequences:
            y_bwd = emitter.op("Reverse", [y_bwd], {"axis": 1}, self, name=f"{base}_reverse")[0]
        op = self.MERGES[self.merge_mode]
        if op is None:
            outputs = [y_fwd, y_bwd]
        else:
            attrs = {"axis": emitter.graph.spec(y_fwd).rank - 1} if op == "Concatenate" else {}
            outputs = emitter.op(op, [y_fwd, y_bwd], attrs, self, name=f"{base}_merge")
        return outputs + fwd[1:] + bwd[1:]
