"""Merge layers (Concatenate, Add, ...) and their functional forms (concatenate, add, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kir.errors import ConfigError
from kir.ir.spec import TensorSpec
from kir.layers import _args, _masks
from kir.layers.base import Layer
from kir.layers.tensor import KTensor

if TYPE_CHECKING:
    from kir.layers.emitter import Emitter
    from kir.layers.node import Node


class _Merge(Layer):
    """Masks (Keras' base merge): the output carries the OR of the inputs' masks when every input
    carries one (the same mask passes on as it is), else none."""

    takes_list = True
    min_inputs = 2
    supports_masking = True
    float_only = True
    """The op's result is float32 (elementwise merges, Dot): integer inputs are cast first."""

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        if not masks or any(m is None for m in masks):
            return [None]
        if all(m is masks[0] for m in masks):
            return [masks[0]]
        return [self.new_mask(node, masks[0].shape)]

    def _emit_mask(self, emitter: Emitter, node: Node | None, inputs: list[Any]) -> None:
        """Bind the OR of the input masks when this call made a new mask."""
        mask = node.outputs[0].mask if node is not None else None
        if mask is not None and mask.node is node:
            refs = [emitter.input_mask(node, i) for i in range(len(node.inputs))]
            emitter.bind_mask(mask, _masks.logical_or(emitter, self, refs, f"{self._vertex_name(node)}_mask"))

    def _check_call_inputs(self, inputs: Any) -> list[KTensor]:
        tensors = super()._check_call_inputs(inputs)
        if len(tensors) < self.min_inputs:
            raise ConfigError(f"layer '{self.name}' ({type(self).__name__}) needs at least {self.min_inputs} "
                              f"input tensors, got {len(tensors)}")
        return tensors

    def emit(self, emitter: Any, inputs: list[Any], node: Any) -> list[Any]:
        """Inputs of different dtypes (float32 and int32, ...) are cast to float32 first, as Keras'
        merges promote them (`result_type`), so every backend sees one dtype; ops whose result is
        float32 (see `float_only`) cast integer inputs even when they all agree."""
        dtypes = {emitter.graph.spec(r).dtype for r in inputs}
        if len(dtypes) > 1 or (self.float_only and dtypes != {"float32"}):
            name = self._vertex_name(node)
            inputs = [r if emitter.graph.spec(r).dtype == "float32" else
                      emitter.op("Cast", [r], {"dtype": "float32"}, self, name=f"{name}_cast{i}")[0]
                      for i, r in enumerate(inputs)]
        outputs = super().emit(emitter, inputs, node)
        self._emit_mask(emitter, node, inputs)
        return outputs


class Add(_Merge):
    pass


class Subtract(_Merge):
    def _check_call_inputs(self, inputs: Any) -> list[KTensor]:
        tensors = super()._check_call_inputs(inputs)
        if len(tensors) != 2:
            raise ConfigError(f"layer '{self.name}' (Subtract) takes exactly 2 tensors, got {len(tensors)}")
        return tensors


class Multiply(_Merge):
    pass


class Average(_Merge):
    pass


class Maximum(_Merge):
    pass


class Minimum(_Merge):
    pass


class Concatenate(_Merge):
    """Joins tensors along `axis` (any axis; the guide concatenates NHWC maps on axis 1)."""

    float_only = False  # int32 with int32 stays int32

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        if not _args._is_int(axis):
            raise ConfigError(f"Concatenate '{self.name}': axis must be an int, got {axis!r}")
        self.axis = int(axis)
        if "axis" in getattr(self, "_config_args", {}):
            self._config_args["axis"] = self.axis
        self._rank: int | None = None

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        self._rank = input_specs[0].rank
        _args.positive_axis(self.axis, self._rank, self._where())
        return super().compute_output_specs(input_specs)

    def ir_attrs(self) -> dict[str, Any]:
        return {"axis": self.axis % self._rank if self._rank else self.axis}

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        """Keras' Concatenate: along the features, the OR of the masks (an input without a mask
        counts as all real, so then no mask); along time (axis 1 of sequences), the masks joined,
        all real for an input without one; along other axes no mask."""
        if all(m is None for m in masks):
            return [None]
        rank = node.inputs[0].spec.rank
        axis = self.axis % rank
        if axis == rank - 1:
            return super().compute_mask(node, masks)
        if axis == 1 and rank >= 3 and all(m is None or m.spec.rank == 2 for m in masks):
            return [self.new_mask(node, node.outputs[0].shape[:2])]
        return [None]

    def _emit_mask(self, emitter: Emitter, node: Node | None, inputs: list[Any]) -> None:
        mask = node.outputs[0].mask if node is not None else None
        rank = node.inputs[0].spec.rank if node is not None else 0
        if mask is None or mask.node is not node or self.axis % rank == rank - 1:
            super()._emit_mask(emitter, node, inputs)
            return
        name = self._vertex_name(node)
        parts = []
        for i in range(len(node.inputs)):
            ref = emitter.input_mask(node, i)
            if ref is None:  # all real: x == x or x != x, whatever x holds (NaN too)
                x = emitter.op("Binary", [inputs[i]] * 2, {"fn": "equal"}, self,
                               name=f"{name}_same{i}")[0]
                nan = emitter.op("Binary", [inputs[i]] * 2, {"fn": "not_equal"}, self,
                                 name=f"{name}_nan{i}")[0]
                flags = _masks.logical_or(emitter, self, [x, nan], f"{name}_all{i}")
                for _ in range(node.inputs[i].spec.rank - 2):
                    flags = _masks.any_last(emitter, self, flags, f"{name}_real{i}_{_}", keepdims=False)
                ref = flags
            parts.append(ref)
        emitter.bind_mask(mask, emitter.op("Concat", parts, {"axis": 1}, self, name=f"{name}_mask")[0])


class Dot(_Merge):
    """Dot product of two tensors along `axes` (int or pair), optionally L2-normalized first.
    Its output carries no mask (Keras')."""

    def compute_mask(self, node: Node, masks: list[KTensor | None]) -> list[KTensor | None]:
        return [None]

    def __init__(self, axes: int | Sequence[int], normalize: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        try:
            items = [axes] * 2 if _args._is_int(axes) else list(axes)
        except TypeError:
            items = []
        if len(items) != 2 or not all(_args._is_int(a) for a in items):
            raise ConfigError(f"Dot '{self.name}': axes must be an int or a pair, got {axes!r}")
        self.axes = [int(a) for a in items]
        if "axes" in getattr(self, "_config_args", {}):
            self._config_args["axes"] = self.axes[0] if _args._is_int(axes) else list(self.axes)
        self.normalize = bool(normalize)
        self._ranks: tuple[int, int] | None = None

    def compute_output_specs(self, input_specs: list[TensorSpec]) -> list[TensorSpec]:
        if len(input_specs) != 2:
            raise ConfigError(f"layer '{self.name}' (Dot) takes exactly 2 tensors, got {len(input_specs)}")
        self._ranks = (input_specs[0].rank, input_specs[1].rank)
        for a, r in zip(self.axes, self._ranks):
            _args.positive_axis(a, r, self._where())
        return super().compute_output_specs(input_specs)

    def ir_attrs(self) -> dict[str, Any]:
        axes = self.axes if self._ranks is None else [a % r for a, r in zip(self.axes, self._ranks)]
        return {"axes": axes, "normalize": self.normalize}


def _functional(cls: type[Layer]):
    def merge(inputs: Sequence[KTensor], **kwargs: Any) -> KTensor:
        return cls(**kwargs)(list(inputs))

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"Functional form of {cls.__name__}: `{cls.__name__.lower()}([a, b], ...)`."
    return merge


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)


def concatenate(inputs: Sequence[KTensor], axis: int = -1, **kwargs: Any) -> KTensor:
    """Functional form of Concatenate: `concatenate([a, b], axis=-1)`."""
    return Concatenate(axis=axis, **kwargs)(list(inputs))


def dot(inputs: Sequence[KTensor], axes: int | Sequence[int], normalize: bool = False, **kwargs: Any) -> KTensor:
    """Functional form of Dot."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(list(inputs))
