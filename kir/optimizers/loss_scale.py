"""Keras 3's LossScaleOptimizer: dynamic loss scaling for float16 training.

float16 gradients underflow to zero below ~6e-8, so the loss is multiplied by a large scale before
differentiating and the gradients divided by it before the update. The scale is dynamic, as Keras':
it starts at `initial_scale` (2**15), halves on a step whose gradients are not all finite (and that
step is skipped), and doubles after `dynamic_growth_steps` finite steps in a row.
`compile` wraps the optimizer in one automatically under the "mixed_float16" policy.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from kir.errors import ConfigError
from kir.optimizers.base import Optimizer, _tf


class LossScaleOptimizer(Optimizer):
    """Wraps `inner_optimizer`; `scale_loss` before the gradient, `apply` unscales and checks."""

    name_default = "loss_scale_optimizer"

    def __init__(self, inner_optimizer: Optimizer, initial_scale: float = 2.0**15,
                 dynamic_growth_steps: int = 2000, name: str | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise ConfigError(f"LossScaleOptimizer does not support argument(s) {sorted(kwargs)}; set them on "
                              f"the inner optimizer")
        if not isinstance(inner_optimizer, Optimizer) or isinstance(inner_optimizer, LossScaleOptimizer):
            raise ConfigError(f"LossScaleOptimizer wraps a kir optimizer (not a LossScaleOptimizer), got "
                              f"{type(inner_optimizer).__name__}")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, numbers.Real) or initial_scale <= 0:
            raise ConfigError(f"LossScaleOptimizer initial_scale must be a positive float, got {initial_scale!r}")
        if (isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, numbers.Integral)
                or dynamic_growth_steps < 1):
            raise ConfigError(f"LossScaleOptimizer dynamic_growth_steps must be a positive int, got "
                              f"{dynamic_growth_steps!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.step_counter: Any = None
        self.dynamic_scale: Any = None

    # ------------------------------------------------------------------ state
    def build(self, variables: Sequence) -> None:
        if self.built:
            return
        tf = _tf()
        with tf.init_scope():
            self.step_counter = tf.Variable(0, dtype="int64", trainable=False, name="step_counter")
            self.dynamic_scale = tf.Variable(self.initial_scale, dtype="float32", trainable=False,
                                             name="dynamic_scale")
        self.inner_optimizer.build(variables)
        self.built = True

    @property
    def variables(self) -> list:
        own = [] if self.step_counter is None else [self.step_counter, self.dynamic_scale]
        return own + self.inner_optimizer.variables

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if hasattr(self, "inner_optimizer"):
            self.inner_optimizer.learning_rate = value
        else:  # the base constructor's placeholder
            self._learning_rate = value

    # ------------------------------------------------------------------ scaling
    def scale_loss(self, loss: Any) -> Any:
        """`loss` times the current scale (the initial one before the first step)."""
        scale = self.dynamic_scale if self.built else self.initial_scale
        return loss * scale

    def apply(self, grads: Sequence, variables: Sequence | None = None,
              constraints: Sequence[Callable[[Any], Any] | None] | None = None) -> None:
        """Unscale and apply `grads` if all are finite (the scale doubles every `dynamic_growth_steps`
        such steps); otherwise skip the step and halve the scale. `constraints` go to the inner
        optimizer's apply, so, as in Keras 3, a skipped step projects no variable."""
        tf = _tf()
        variables = list(variables) if variables is not None else None
        if not self.built:
            self.build(variables or [])
        grads = list(grads)
        replica = tf.distribute.get_replica_context()
        if replica is None or not tf.distribute.has_strategy() or \
                tf.__internal__.distribute.strategy_supports_no_merge_call():
            tf.cond(self._finite(grads), lambda: self._on_finite(grads, variables, constraints),
                    self._on_non_finite)
            return

        # a strategy that synchronises through merge_call (MirroredStrategy): as Keras, decide in
        # the cross-replica context. The engine all-reduces the gradients before apply, so replica
        # 0's check covers every replica's part and all skip together, as on one device (Keras 3
        # checks replica 0's own gradients before its inner optimizer all-reduces them, so another
        # replica's overflow gets applied; docs/distributed.md, tests/training/test_mixed_distributed.py)
        def cross_replica(distribution, grads, variables):
            finite = distribution.experimental_local_results(
                distribution.extended.call_for_each_replica(self._finite, args=(grads,)))[0]

            def apply_fn():
                def on_finite(grads, variables):  # the constraints (plain callables) stay out of the args
                    return self._on_finite(grads, variables, constraints)

                distribution.extended.call_for_each_replica(on_finite, args=(grads, variables))
                return tf.constant(True)

            tf.cond(finite, apply_fn, self._on_non_finite)

        replica.merge_call(cross_replica, args=(grads, variables))

    def _finite(self, grads: list) -> Any:
        tf = _tf()
        present = [g for g in grads if g is not None]
        if not present:
            return tf.constant(True)
        return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(_values(g))) for g in present]))

    def _on_finite(self, grads: list, variables: list | None, constraints: Sequence | None = None) -> Any:
        tf = _tf()
        inv = 1.0 / self.dynamic_scale
        self.inner_optimizer.apply([None if g is None else _scale(g, inv) for g in grads], variables, constraints)
        grow = tf.equal(self.step_counter, self.dynamic_growth_steps - 1)
        self.dynamic_scale.assign(tf.where(grow, self.dynamic_scale * 2.0, self.dynamic_scale))
        self.step_counter.assign(tf.where(grow, tf.constant(0, "int64"), self.step_counter + 1))
        return tf.constant(True)

    def _on_non_finite(self) -> Any:
        tf = _tf()
        self.step_counter.assign(0)
        self.dynamic_scale.assign(self.dynamic_scale * 0.5)
        return tf.constant(False)

    def get_config(self) -> dict:
        inner = self.inner_optimizer
        return {"name": self.name, "inner_optimizer": {"class_name": type(inner).__name__,
                                                       "config": inner.get_config()},
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    def __repr__(self) -> str:
        return f"<kir.optimizers.LossScaleOptimizer wrapping {self.inner_optimizer!r}>"


def _values(g: Any) -> Any:
    """The values of a gradient (a tf.IndexedSlices' slices)."""
    return getattr(g, "values", g)


def _scale(g: Any, factor: Any) -> Any:
    """`g * factor`, keeping a tf.IndexedSlices sparse (kir.optimizers.sparse expects it)."""
    tf = _tf()
    if isinstance(g, tf.IndexedSlices):
        return tf.IndexedSlices(g.values * tf.cast(factor, g.values.dtype), g.indices, g.dense_shape)
    return g * tf.cast(factor, g.dtype)
