"""Regularization layers that only act while training: GaussianNoise, GaussianDropout,
AlphaDropout, SpatialDropout1D/2D. All are identities at inference (and vanish from exports);
the TensorFlow training backend draws their noise as Keras 3 does."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from kir.errors import ConfigError, ShapeError
from kir.ir.spec import TensorSpec, format_shape
from kir.layers import _args
from kir.layers.base import Layer


class _Noise(Layer):
    """A layer whose op attrs are the attributes named in `attrs` (the layer's seed among them)."""

    attrs: tuple[str, ...] = ("rate", "seed")
    supports_masking = True  # as Keras': the input's mask passes on

    def _set(self, seed: Any, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.seed = None if seed is None else int(seed)

    def ir_attrs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.attrs}


class GaussianNoise(_Noise):
    """Adds N(0, stddev) noise while training."""

    attrs = ("stddev", "seed")

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, numbers.Real) or not 0 <= stddev <= 1:
            raise ConfigError(f"GaussianNoise '{self.name}': stddev must be in [0, 1], got {stddev!r}")
        self._set(seed, stddev=float(stddev))


class GaussianDropout(_Noise):
    """Multiplies by N(1, sqrt(rate / (1 - rate))) noise while training."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._set(seed, rate=_args.rate(rate, f"GaussianDropout '{self.name}': rate"))


class AlphaDropout(_Noise):
    """Dropout that keeps SELU's self-normalizing mean and variance while training."""

    attrs = ("rate", "noise_shape", "seed")

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        shape = None if noise_shape is None else [None if d is None else int(d) for d in noise_shape]
        self._set(seed, rate=_args.rate(rate, f"AlphaDropout '{self.name}': rate"), noise_shape=shape)


class _SpatialDropout(_Noise):
    """Dropout of whole feature maps: a Dropout op whose noise is shared along the spatial axes."""

    op_type = "Dropout"
    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._set(seed, rate=_args.rate(rate, f"{type(self).__name__} '{self.name}': rate"))
        self.data_format = "channels_last"

    def build(self, input_specs: list[TensorSpec]) -> None:
        x = input_specs[0]
        if x.rank != self.rank + 2:
            raise ShapeError(f"{self._where()}: expects inputs of rank {self.rank + 2}, got {format_shape(x.shape)}")

    def ir_attrs(self) -> dict[str, Any]:
        ones = [1] * self.rank
        shape = [None, None, *ones] if self.data_format == "channels_first" else [None, *ones, None]
        return {"rate": self.rate, "noise_shape": shape, "seed": self.seed}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (batch, steps, channels) while training."""

    op_type = "Dropout"
    rank = 1


class SpatialDropout2D(_SpatialDropout):
    """Drops whole channels of (batch, rows, cols, channels) (or channels_first) while training."""

    op_type = "Dropout"
    rank = 2

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = _args.data_format(data_format, f"SpatialDropout2D '{self.name}'")
