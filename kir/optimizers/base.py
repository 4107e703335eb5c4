"""The optimizer base: state, clipping, weight decay, learning rate and the apply loop.

Optimizers update TensorFlow variables (the training backend's). Slot variables are created
in `build`, eagerly, so the training step can be traced once; the update rules are the
Keras 3 ones (`update_step` in each subclass), step for step.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kir.errors import ConfigError
from kir.optimizers.schedules import LearningRateSchedule


def _number(value: Any, what: str, optional: bool = False) -> Any:
    """A hyper-parameter given as a Python or numpy number, as a plain Python float (None if optional)."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{what} must be a float, got {value!r}")
    return float(value)


def _tf():
    try:
        import tensorflow as tf
    except ImportError as e:  # pragma: no cover - depends on the environment
        from kir.errors import MissingDependencyError

        raise MissingDependencyError(
            "kir optimizers update TensorFlow variables; install the extra: pip install 'kir[tf]'"
        ) from e
    return tf


class Optimizer:
    """Base class of kir optimizers (Keras 3 semantics and argument names)."""

    #: Keras name of the optimizer, used by get_config/get.
    name_default = "optimizer"

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        for legacy in ("lr", "decay"):
            if legacy in kwargs:
                raise ConfigError(
                    f"optimizer argument '{legacy}' is Keras 2 only; use learning_rate= "
                    "(and a kir.optimizers.schedules schedule for decay)"
                )
        if kwargs:
            raise ConfigError(f"{type(self).__name__} got unknown argument(s): {sorted(kwargs)}")
        if clipnorm is not None and global_clipnorm is not None:
            raise ConfigError(
                "only one of clipnorm and global_clipnorm may be set; got "
                f"clipnorm={clipnorm}, global_clipnorm={global_clipnorm}"
            )
        if not isinstance(learning_rate, LearningRateSchedule) and not callable(learning_rate):
            try:
                learning_rate = float(learning_rate)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"learning_rate must be a float or a kir.optimizers.schedules schedule, "
                    f"got {learning_rate!r}"
                ) from None
        self.name = name or self.name_default
        kind = type(self).__name__
        self.weight_decay = _number(weight_decay, f"{kind} weight_decay", optional=True)
        self.clipnorm = _number(clipnorm, f"{kind} clipnorm", optional=True)
        self.clipvalue = _number(clipvalue, f"{kind} clipvalue", optional=True)
        self.global_clipnorm = _number(global_clipnorm, f"{kind} global_clipnorm", optional=True)
        self._learning_rate: Any = learning_rate
        self._iterations = None
        self._variables: list = []  # slot variables, in creation order
        self._index: dict = {}
        self.built = False

    # ------------------------------------------------------------------ state

    @property
    def iterations(self):
        """Number of update steps applied (an int64 tf.Variable once built, else 0)."""
        return 0 if self._iterations is None else self._iterations

    @property
    def learning_rate(self):
        """The current learning rate (a schedule evaluated at `iterations`)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return lr(self.iterations)
        if callable(lr) and not hasattr(lr, "assign"):
            return lr()
        return lr

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(value, LearningRateSchedule) or (callable(value) and not hasattr(value, "numpy")):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise ConfigError(
                "this optimizer was created with a learning-rate schedule, so its learning rate "
                "cannot be set; create it with a float learning_rate to change it during training"
            )
        if hasattr(self._learning_rate, "assign"):
            self._learning_rate.assign(float(value))
        else:
            self._learning_rate = float(value)

    @property
    def variables(self) -> list:
        """Optimizer state: iterations, learning rate (if a variable) and the slot variables."""
        out = [] if self._iterations is None else [self._iterations]
        if hasattr(self._learning_rate, "assign"):
            out.append(self._learning_rate)
        return out + list(self._variables)

    def build(self, variables: Sequence) -> None:
        """Creates iterations, the learning-rate variable and slots for `variables` (eagerly)."""
        if self.built:
            return
        tf = _tf()
        with tf.init_scope():
            self._iterations = tf.Variable(0, dtype="int64", trainable=False, name="iteration")
            if not isinstance(self._learning_rate, LearningRateSchedule) and not callable(self._learning_rate):
                self._learning_rate = tf.Variable(
                    float(self._learning_rate), dtype="float32", trainable=False, name="learning_rate"
                )
            self._index = {v.ref(): i for i, v in enumerate(variables)}
            self.build_slots(list(variables))
        self.built = True

    def build_slots(self, variables: list) -> None:
        """Subclasses create their slot variables here with `add_slots`."""

    def add_slots(self, variables: list, name: str, initial: float = 0.0) -> list:
        tf = _tf()
        out = []
        for v in variables:
            slot = tf.Variable(
                tf.fill(v.shape, tf.constant(initial, v.dtype)),
                trainable=False,
                name=f"{v.name.split(':')[0]}_{name}".replace("/", "_"),
            )
            out.append(slot)
        self._variables.extend(out)
        return out

    def slot_index(self, variable: Any) -> int:
        return self._index[variable.ref()]

    # ------------------------------------------------------------------ applying

    def apply_gradients(self, grads_and_vars: Iterable) -> None:
        """Keras 2 style: a list of (gradient, variable) pairs."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads: Sequence, variables: Sequence | None = None,
              constraints: Sequence[Callable[[Any], Any] | None] | None = None) -> None:
        """One update step of `variables` by `grads` (clip, weight decay, rule, iterations += 1).
        `constraints` (one per variable, None for none) then project each updated variable,
        `v.assign(constraint(v))`: Keras 3's optimizer does this with `variable.constraint` inside
        `apply`, so a step a LossScaleOptimizer skips projects nothing, and neither is a variable
        without a gradient."""
        if variables is None:
            if not self.built:
                raise ConfigError("optimizer.apply(grads) without variables needs a built optimizer")
            variables = sorted(self._index, key=self._index.get)
            variables = [r.deref() for r in variables]
        variables = list(variables)
        if constraints is None:
            constraints = [None] * len(variables)
        elif len(constraints) != len(variables):
            raise ConfigError(f"optimizer.apply: got {len(constraints)} constraints for {len(variables)} variables; "
                              f"pass one per variable (None for an unconstrained one)")
        if not self.built:
            self.build(variables)
        triples = [(g, v, c) for g, v, c in zip(grads, variables, constraints) if g is not None]
        if triples:
            grads = self._clip([g for g, _, _ in triples])
            variables = [v for _, v, _ in triples]
            self._apply_weight_decay(variables)
            lr = self.learning_rate
            self.before_update(lr)
            for g, v in zip(grads, variables):
                self.update_step(g, v, lr)
            tf = _tf()
            for _, v, constraint in triples:
                if constraint is not None:
                    v.assign(tf.cast(constraint(v), v.dtype))
        self._iterations.assign_add(1)

    def before_update(self, learning_rate: Any) -> None:
        """Hook run once per step before the per-variable updates (Nadam's u_product)."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """One variable's update; `gradient` may be a tf.IndexedSlices (see kir.optimizers.sparse)."""
        raise NotImplementedError

    def _clip(self, grads: list) -> list:
        tf = _tf()
        if self.clipnorm and self.clipnorm > 0:
            return [self._clip_by_norm(g) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = tf.linalg.global_norm(grads)  # of the slices of a sparse gradient, like Keras'
            # `g * scale` densifies a sparse gradient, as Keras' clip_by_global_norm does
            scale = self.global_clipnorm * tf.minimum(1.0 / norm, 1.0 / self.global_clipnorm)
            scale = scale + (norm - norm)
            return [g * scale for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [tf.clip_by_value(g, -v, v) for g in grads]
        return grads

    def _clip_by_norm(self, values: Any):
        """Keras' TensorFlow optimizer clips with tf.clip_by_norm: a sparse gradient stays sparse,
        its norm taken over its slices (repeated rows not summed first)."""
        return _tf().clip_by_norm(values, self.clipnorm)

    def _apply_weight_decay(self, variables: list) -> None:
        if self.weight_decay is None:
            return
        tf = _tf()
        for v in variables:
            lr = tf.cast(self.learning_rate, v.dtype)
            wd = tf.cast(self.weight_decay, v.dtype)
            v.assign_sub(v * wd * lr)

    # ------------------------------------------------------------------ config

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr_cfg: Any = {"class_name": type(lr).__name__, "config": lr.get_config()}
        elif hasattr(lr, "numpy"):
            lr_cfg = float(lr.numpy())
        else:
            lr_cfg = lr
        cfg = {
            "name": self.name, "learning_rate": lr_cfg, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm,
        }
        cfg.update(self.rule_config())
        return cfg

    def rule_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"<kir.optimizers.{type(self).__name__} {self.rule_config()}>"
