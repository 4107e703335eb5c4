"""Merge layers (Concatenate, Add, ...) and their functional forms (concatenate, add, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kir.errors import ConfigError
from kir.ir.spec import TensorSpec
from kir.layers import _args
from kir.layers.base import Layer
from kir.layers.tensor import KTensor


class _Merge(Layer):
    takes_list = True
    min_inputs = 2

    def _check_call_inputs(self, inputs: Any) -> list[KTensor]:
        tensors = super()._check_call_inputs(inputs)
        if len(tensors) < self.min_inputs:
            raise ConfigError(f"layer '{self.name}' ({type(self).__name__}) needs at least {self.min_inputs} "
                              f"input tensors, got {len(tensors)}")
        return tensors


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


class Dot(_Merge):
    """Dot product of two tensors along `axes` (int or pair), optionally L2-normalized first."""

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
