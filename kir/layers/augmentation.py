"""Keras 3's image augmentation layers: RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
RandomContrast. Identities at inference (they vanish from exported files); while training on the
TensorFlow backend they transform each image of the batch as Keras does (seeded draws)."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

from kir.errors import ConfigError
from kir.layers import _args
from kir.layers.base import Layer

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def factor_range(value: Any, what: str, low: float, high: float, low_open: bool = False) -> list[float]:
    """Keras' factor: a number f gives [-f, f] (clamped at `low`), a pair its sorted bounds; every
    number within [low, high] (`low` itself excluded when `low_open`)."""
    pair = list(value) if isinstance(value, (list, tuple)) else [value]
    bad = len(pair) not in (1, 2) or not all(_is_number(v) for v in pair) or any(
        v > high or v < low or (low_open and v == low) for v in pair)
    if bad:
        bounds = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ConfigError(f"{what} must be a number or a pair of numbers in {bounds}, got {value!r}")
    if len(pair) == 2:
        return sorted(float(v) for v in pair)
    f = abs(float(pair[0]))
    return [max(-f, low), f]


class _Augmentation(Layer):
    """A training-only image layer: its op attrs are `attrs` plus seed and data_format."""

    attrs: ClassVar[tuple[str, ...]] = ()
    training_by_default: ClassVar[bool] = True
    """Keras' call signature defaults to training=True (its files record it; inference overrides it)."""

    def _common(self, seed: Any, data_format: Any, fill_mode: Any = None, interpolation: Any = None,
                fill_value: Any = None) -> None:
        where = f"{type(self).__name__} '{self.name}'"
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ConfigError(f"{where}: seed must be an int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.data_format = _args.data_format(data_format, where)
        if fill_mode is not None:
            if fill_mode not in FILL_MODES:
                raise ConfigError(f"{where}: fill_mode must be one of {', '.join(FILL_MODES)}, got {fill_mode!r}")
            if interpolation not in INTERPOLATIONS:
                raise ConfigError(f"{where}: interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                                  f"got {interpolation!r}")
            if not _is_number(fill_value):
                raise ConfigError(f"{where}: fill_value must be a number, got {fill_value!r}")
            self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    def ir_attrs(self) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in self.attrs}, "seed": self.seed,
                "data_format": self.data_format}


_AFFINE = ("fill_mode", "interpolation", "fill_value")


class RandomFlip(_Augmentation):
    """Flips each image with probability 1/2 (horizontal_and_vertical flips both axes together, as Keras)."""

    attrs = ("mode",)

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in FLIP_MODES:
            raise ConfigError(f"RandomFlip '{self.name}': mode must be one of {', '.join(FLIP_MODES)}, got {mode!r}")
        self.mode = mode
        self._common(seed, data_format)


class RandomRotation(_Augmentation):
    """Rotates each image by factor * 360 degrees, factor ~ U(lower, upper) (a number f: [-f, f])."""

    attrs = ("factor", *_AFFINE)

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.factor = factor_range(factor, f"RandomRotation '{self.name}': factor", -1.0, 1.0)
        self._common(seed, data_format, fill_mode, interpolation, fill_value)


class RandomZoom(_Augmentation):
    """Zooms each image by 1 + U(height_factor range) (negative: zoom in), the width by its own factor
    or, when width_factor is None, by the same draw (aspect ratio kept)."""

    attrs = ("height_factor_range", "width_factor_range", *_AFFINE)

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        where = f"RandomZoom '{self.name}'"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_factor_range = factor_range(height_factor, f"{where}: height_factor", -1.0, 1.0, low_open=True)
        self.width_factor_range = None if width_factor is None else factor_range(
            width_factor, f"{where}: width_factor", -1.0, 1.0, low_open=True)
        self._common(seed, data_format, fill_mode, interpolation, fill_value)


class RandomTranslation(_Augmentation):
    """Shifts each image by U(height_factor range) * height rows and U(width_factor range) * width columns."""

    attrs = ("height_factor_range", "width_factor_range", *_AFFINE)

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        where = f"RandomTranslation '{self.name}'"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_factor_range = factor_range(height_factor, f"{where}: height_factor", -1.0, 1.0)
        self.width_factor_range = factor_range(width_factor, f"{where}: width_factor", -1.0, 1.0)
        self._common(seed, data_format, fill_mode, interpolation, fill_value)


class RandomContrast(_Augmentation):
    """(x - mean) * c + mean per image and channel, c ~ U(1 - lower, 1 + upper) with Keras' factor
    bounds (a number f gives [0, f]), clipped to value_range."""

    attrs = ("factor", "value_range")

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: int | None = None,
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        where = f"RandomContrast '{self.name}'"
        self.factor = factor_range(factor, f"{where}: factor", 0.0, 1.0)
        pair = list(value_range) if isinstance(value_range, (list, tuple)) else []
        if len(pair) != 2 or not all(_is_number(v) for v in pair) or pair[0] >= pair[1]:
            raise ConfigError(f"{where}: value_range must be a pair (low, high) with low < high, got {value_range!r}")
        self.value_range = [float(v) for v in pair]
        self._common(seed, data_format)
