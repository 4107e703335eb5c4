"""Learning-rate schedules (Keras 3 formulas), evaluated at the optimizer's step count.

Written with `kir.backend` ops so a schedule gives a float for a python step and a TensorFlow
tensor for the optimizer's `iterations` variable inside the training program.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import kir.backend as K
from kir.errors import ConfigError


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate``."""

    def __call__(self, step: Any):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        return cls(**config)


def _f(step: Any):
    return K.cast(step, K.floatx())


def _check_steps(decay_steps: float) -> None:
    if decay_steps <= 0:
        raise ConfigError(f"decay_steps must be > 0, got {decay_steps}")


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps) (floored if staircase)."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        _check_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step: Any):
        p = _f(step) / K.cast(self.decay_steps, K.floatx())
        if self.staircase:
            p = K.floor(p)
        return K.cast(self.initial_learning_rate, K.floatx()) * K.pow(
            K.cast(self.decay_rate, K.floatx()) + K.zeros_like(p), p
        )


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps) (floored if staircase)."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        _check_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step: Any):
        p = _f(step) / K.cast(self.decay_steps, K.floatx())
        if self.staircase:
            p = K.floor(p)
        return K.cast(self.initial_learning_rate, K.floatx()) / (1.0 + K.cast(self.decay_rate, K.floatx()) * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] for boundaries[i-1] < step <= boundaries[i]."""

    def __init__(self, boundaries: Sequence[float], values: Sequence[float],
                 name: str = "PiecewiseConstant") -> None:
        if len(boundaries) != len(values) - 1:
            raise ConfigError(
                f"PiecewiseConstantDecay needs one more value than boundaries; got "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step: Any):
        step = _f(step)
        fx = K.floatx()
        b, v = self.boundaries, self.values
        out = K.cast(K.less_equal(step, float(b[0])), fx) * v[0]
        out = out + K.cast(K.greater(step, float(b[-1])), fx) * v[-1]
        for low, high, value in zip(b[:-1], b[1:], v[1:-1]):
            inside = K.logical_and(K.greater(step, float(low)), K.less_equal(step, float(high)))
            out = out + K.cast(inside, fx) * value
        return out


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        _check_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle, self.name = end_learning_rate, power, cycle, name

    def __call__(self, step: Any):
        step = _f(step)
        steps = K.cast(self.decay_steps, K.floatx()) + K.zeros_like(step)
        if self.cycle:
            mult = K.where(K.equal(step, 0.0), K.ones_like(step), K.ceil(step / self.decay_steps))
            steps = steps * mult
        else:
            step = K.minimum(step, steps)
        p = step / steps
        return (self.initial_learning_rate - self.end_learning_rate) * K.pow(1.0 - p, float(self.power)) \
            + self.end_learning_rate


class CosineDecay(LearningRateSchedule):
    """Cosine decay from initial (or warmup_target after linear warmup) to alpha * that."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None, warmup_steps: float = 0) -> None:
        _check_steps(decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step: Any, decay_from: float):
        frac = step / K.cast(self.decay_steps, K.floatx())
        cosine = 0.5 * (1.0 + K.cos(math.pi * frac))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: Any):
        step = _f(step)
        if self.warmup_target is None:
            return self._decay(K.minimum(step, float(self.decay_steps)), self.initial_learning_rate)
        step = K.minimum(step, float(self.decay_steps + self.warmup_steps))
        warm = (self.warmup_target - self.initial_learning_rate) * (step / float(self.warmup_steps)) \
            + self.initial_learning_rate
        return K.where(K.less(step, float(self.warmup_steps)), warm,
                       self._decay(step - float(self.warmup_steps), self.warmup_target))


__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "CosineDecay"]
