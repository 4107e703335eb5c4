"""Keras 3's weight initializers: objects (`RandomNormal(stddev=0.01)`), names ('glorot_uniform') and
configs (`{"class_name": "Constant", "config": {"value": 0.1}}`), drawing numpy arrays.

Unseeded initializers draw from one generator that `kir.utils.set_random_seed` reseeds, so a
script seeded once is reproducible. A seeded one (`seed=1`) gives the same values on every call,
as in Keras 3 (values differ from Keras': the generators differ, the distributions do not).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kir.errors import ConfigError, unknown_name

_rng = np.random.default_rng()

Shape = Sequence[int]


def set_seed(seed: int | None) -> None:
    """Reseed the generator every unseeded initializer draws from."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    return _rng


def compute_fans(shape: Shape, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> tuple[int, int]:
    """fan_in, fan_out as Keras computes them (conv kernels multiply by the receptive field)."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype("float32" if dtype is None else dtype)


def _shape(shape: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in shape)


# ----------------------------------------------------------------------------- classes


class Initializer:
    """Base class: `init(shape, dtype=None)` returns a numpy array of that shape."""

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype=None)")

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)

    def clone(self) -> Initializer:
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return np.zeros(_shape(shape), _dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return np.ones(_shape(shape), _dtype(dtype))


class Constant(Initializer):
    """Every entry `value` (a number, or an array broadcast to the shape)."""

    def __init__(self, value: Any = 0.0) -> None:
        self.value = value

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return np.asarray(self.value, _dtype(dtype)) * np.ones(_shape(shape), _dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        value = self.value
        return {"value": value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value}


class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ConfigError(f"Identity initializer can only be used for 2D matrices, got shape {shape} "
                              f"of rank {len(shape)}")
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class _Random(Initializer):
    """An initializer drawing random numbers: `seed` (an int) makes every call give the same values."""

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ConfigError(f"{type(self).__name__}: seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)

    def generator(self) -> np.random.Generator:
        return _rng if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


def _truncated_normal(gen: np.random.Generator, shape: tuple[int, ...], mean: float, stddev: float) -> np.ndarray:
    """Normal draws, each one beyond two standard deviations drawn again (TensorFlow's rule)."""
    values = gen.standard_normal(shape)
    bad = np.abs(values) > 2.0
    while bad.any():
        values[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2.0
    return mean + stddev * values


class RandomNormal(_Random):
    """Normal distribution with `mean` and `stddev`."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return self.generator().normal(self.mean, self.stddev, _shape(shape)).astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal distribution with values beyond two `stddev` from `mean` drawn again."""

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return _truncated_normal(self.generator(), _shape(shape), self.mean, self.stddev).astype(_dtype(dtype))


class RandomUniform(_Random):
    """Uniform distribution on [minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return self.generator().uniform(self.minval, self.maxval, _shape(shape)).astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(_Random):
    """Keras' VarianceScaling: variance `scale / fan` ('fan_in', 'fan_out' or 'fan_avg'), drawn from a
    'truncated_normal' (also 'normal'), 'untruncated_normal' or 'uniform' distribution."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> None:
        if not isinstance(scale, numbers.Real) or scale <= 0.0:
            raise ConfigError(f"VarianceScaling: scale must be a positive float, got {scale!r}")
        if mode not in self.MODES:
            raise ConfigError(f"VarianceScaling: mode must be one of {', '.join(map(repr, self.MODES))}, "
                              f"got {mode!r}")
        dist = str(distribution).lower()
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in self.DISTRIBUTIONS:
            raise ConfigError(f"VarianceScaling: distribution must be one of "
                              f"{', '.join(map(repr, self.DISTRIBUTIONS))}, got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, dist
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        gen = self.generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            values = gen.uniform(-limit, limit, shape)
        elif self.distribution == "untruncated_normal":
            values = gen.normal(0.0, math.sqrt(var), shape)
        else:  # stddev corrected for the truncation, as Keras
            values = _truncated_normal(gen, shape, 0.0, math.sqrt(var) / 0.87962566103423978)
        return values.astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _scaling(name: str, scale: float, mode: str, distribution: str, doc: str) -> type[VarianceScaling]:
    """A Keras VarianceScaling preset (GlorotUniform, HeNormal, ...): only `seed` is an argument."""

    def __init__(self, seed: int | None = None, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc,
                                           "__module__": __name__, "__qualname__": name})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform", "Uniform in ±sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                        "Truncated normal, stddev sqrt(2 / (fan_in + fan_out)).")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform", "Uniform in ±sqrt(6 / fan_in).")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal", "Truncated normal, stddev sqrt(2 / fan_in).")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform", "Uniform in ±sqrt(3 / fan_in).")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal",
                       "Truncated normal, stddev sqrt(1 / fan_in).")


class Orthogonal(_Random):
    """A (semi-)orthogonal matrix times `gain`: the QR factor of a normal draw, as Keras."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape)
        if len(shape) < 2:
            raise ConfigError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = self.generator().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}


# ----------------------------------------------------------------------------- lookup


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


CLASSES: dict[str, type[Initializer]] = {
    c.__name__: c
    for c in (Zeros, Ones, Constant, Identity, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling,
              GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)
}
"""Keras' initializer classes by class name."""

NAMES: dict[str, type[Initializer]] = {
    **CLASSES,
    **{_snake(name): cls for name, cls in CLASSES.items()},
    "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal, "uniform": RandomUniform,
}
"""The names Keras 3 accepts ('glorot_uniform', 'GlorotUniform', 'normal', ...), except its aliases
'zero' and 'one', which kir reports as misspellings of 'zeros' and 'ones'."""

# Keras' lower-case aliases for the classes (kir.initializers.glorot_uniform() is GlorotUniform()).
globals().update({name: cls for name, cls in NAMES.items() if name not in CLASSES and name.isidentifier()})

InitializerLike = str | Initializer | Callable[..., Any] | dict | np.ndarray | None


def get(identifier: Any) -> Any:
    """An initializer for a name, an Initializer (or its class), a Keras config dict
    (`{"class_name": ..., "config": {...}}`), a numpy array of the weight's shape, or a function
    `fn(shape, dtype=None)`. None means zeros."""
    if identifier is None:
        return Zeros()
    found = resolve(identifier, Initializer, NAMES, "initializer")
    if found is not None:
        return found
    if isinstance(identifier, (np.ndarray, np.generic)):
        return _ArrayInitializer(np.asarray(identifier))
    if callable(identifier):
        return identifier
    raise ConfigError(f"could not interpret initializer {identifier!r}; pass a name such as 'glorot_uniform', "
                      f"an initializer such as kir.initializers.RandomNormal(stddev=0.01) or a function "
                      f"fn(shape, dtype=None)")


def resolve(identifier: Any, base: type, names: dict[str, type], kind: str) -> Any:
    """The Keras object (initializer, regularizer) for an instance of `base`, a name, a config dict
    or a class; None when `identifier` is none of these."""
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        if identifier not in names:
            raise unknown_name(kind, identifier, names)
        return names[identifier]()
    if isinstance(identifier, dict):
        return from_keras_config(identifier, names, kind)
    if isinstance(identifier, type) and issubclass(identifier, base):
        return identifier()
    return None


class _ArrayInitializer(Initializer):
    """A given array as the initial value (shape checked)."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        if tuple(self.value.shape) != _shape(shape):
            raise ConfigError(f"an array initializer of shape {self.value.shape} cannot initialize a weight of "
                              f"shape {_shape(shape)}")
        return self.value.astype(_dtype(dtype))


def keras_config(obj: Any, classes: dict[str, type]) -> Any:
    """An instance of one of `classes` as Keras' `{"class_name": ..., "config": {...}}`; anything else
    (a name, a function) as it is."""
    if classes.get(type(obj).__name__) is type(obj):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return obj


def from_keras_config(config: dict, names: dict[str, type], kind: str) -> Any:
    """The object a Keras config dict describes (`module`/`registered_name` keys are ignored)."""
    name = config.get("class_name")
    if not isinstance(name, str) or name not in names:
        raise unknown_name(kind, name, names)
    args = config.get("config") or {}
    if not isinstance(args, dict):
        raise ConfigError(f"{kind} config for {name} must be a dict, got {args!r}")
    try:
        return names[name].from_config(dict(args))
    except TypeError as exc:
        raise ConfigError(f"{kind} {name}: {exc}") from None


def serialize(initializer: Any) -> Any:
    """A name stays a name; a kir initializer becomes Keras' `{"class_name": ..., "config": {...}}`."""
    return keras_config(initializer, CLASSES)


def deserialize(config: dict) -> Initializer:
    """The initializer of a Keras config dict."""
    return from_keras_config(config, NAMES, "initializer")


def initialize(identifier: Any, shape: Shape) -> np.ndarray:
    """A new float32 array of `shape` drawn by the initializer `identifier` (anything `get` takes)."""
    init = get(identifier)
    value = init(_shape(shape), dtype="float32")
    value = np.asarray(value, dtype=np.float32)
    if value.shape != _shape(shape):
        value = np.broadcast_to(value, _shape(shape)).copy()
    return value


__all__ = ["Initializer", "get", "serialize", "deserialize", "initialize", "set_seed", "compute_fans",
           *CLASSES]
