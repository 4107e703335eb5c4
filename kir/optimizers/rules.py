"""The Keras 3 optimizers: defaults and update rules copied from keras/src/optimizers/*.py.

A gradient may be a tf.IndexedSlices (an Embedding's): the rules then do Keras' sparse
arithmetic (kir.optimizers.sparse), op for op, wherever a value derives from the gradient.
"""

from __future__ import annotations

import numbers
from typing import Any

from kir.errors import ConfigError
from kir.optimizers import sparse as S
from kir.optimizers.base import Optimizer, _number, _tf


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum: m = momentum*m - lr*g; w += m."""

    name_default = "SGD"

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ConfigError(f"SGD momentum must be a float in [0, 1], got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def build_slots(self, variables: list) -> None:
        self.momentums = self.add_slots(variables, "momentum") if self.momentum != 0 else []

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        tf = _tf()
        lr = tf.cast(learning_rate, variable.dtype)
        gradient = S.cast(gradient, variable.dtype)
        if self.momentum != 0:
            m = self.momentums[self.slot_index(variable)]
            momentum = tf.cast(self.momentum, variable.dtype)
            S.assign(m, S.subtract(m * momentum, S.multiply(gradient, lr)))
            if self.nesterov:
                S.assign_add(variable, S.subtract(m * momentum, S.multiply(gradient, lr)))
            else:
                variable.assign_add(m)
        else:
            S.assign_sub(variable, S.multiply(gradient, lr))

    def rule_config(self) -> dict:
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """v = rho*v + (1-rho)*g^2; w -= lr*g / sqrt(v + eps) (centered / momentum variants)."""

    name_default = "rmsprop"

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = (_number(v, f"RMSprop {n}") for n, v in (
            ("rho", rho), ("momentum", momentum), ("epsilon", epsilon)))
        self.centered = centered

    def build_slots(self, variables: list) -> None:
        self.velocities = self.add_slots(variables, "velocity")
        self.momentums = self.add_slots(variables, "momentum") if self.momentum > 0 else []
        self.average_gradients = self.add_slots(variables, "average_gradient") if self.centered else []

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        tf = _tf()
        lr = tf.cast(learning_rate, variable.dtype)
        gradient = S.cast(gradient, variable.dtype)
        i = self.slot_index(variable)
        velocity = self.velocities[i]
        rho = self.rho
        S.assign(velocity, S.add(rho * velocity, S.multiply(1 - rho, S.square(gradient))))
        if self.centered:
            avg = self.average_gradients[i]
            S.assign(avg, S.add(rho * avg, S.multiply(1 - rho, gradient)))
            denominator = velocity - tf.square(avg) + self.epsilon
        else:
            denominator = velocity + self.epsilon
        increment = S.divide(S.multiply(lr, gradient), tf.sqrt(denominator))
        if self.momentum > 0:
            m = self.momentums[i]
            S.assign(m, S.add(self.momentum * m, increment))
            variable.assign_sub(m)
        else:
            S.assign_sub(variable, increment)

    def rule_config(self) -> dict:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """acc += g^2; w -= lr*g / sqrt(acc + eps); acc starts at initial_accumulator_value."""

    name_default = "adagrad"

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = _number(initial_accumulator_value, "Adagrad initial_accumulator_value")
        self.epsilon = _number(epsilon, "Adagrad epsilon")

    def build_slots(self, variables: list) -> None:
        self.accumulators = self.add_slots(variables, "accumulator", self.initial_accumulator_value)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        tf = _tf()
        lr = tf.cast(learning_rate, variable.dtype)
        gradient = S.cast(gradient, variable.dtype)
        acc = self.accumulators[self.slot_index(variable)]
        S.assign_add(acc, S.square(gradient))
        S.assign_sub(variable, S.divide(S.multiply(lr, gradient), tf.sqrt(acc + self.epsilon)))

    def rule_config(self) -> dict:
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta with Keras 3's learning-rate scaled update."""

    name_default = "adadelta"

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = _number(rho, "Adadelta rho"), _number(epsilon, "Adadelta epsilon")

    def build_slots(self, variables: list) -> None:
        self.accumulated_grads = self.add_slots(variables, "accumulated_grad")
        self.accumulated_delta_vars = self.add_slots(variables, "accumulated_delta_var")

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        tf = _tf()
        lr = tf.cast(learning_rate, variable.dtype)
        grad = S.cast(gradient, variable.dtype)
        i = self.slot_index(variable)
        acc_g, acc_d = self.accumulated_grads[i], self.accumulated_delta_vars[i]
        rho = self.rho

        def rms(x: Any):
            return tf.sqrt(x + self.epsilon)

        S.assign(acc_g, S.add(rho * acc_g, S.multiply(1 - rho, S.square(grad))))
        delta = S.negative(S.divide(S.multiply(rms(acc_d), grad), rms(acc_g)))
        S.assign(acc_d, S.add(rho * acc_d, S.multiply(1 - rho, S.square(delta))))
        S.assign_add(variable, S.multiply(lr, delta))

    def rule_config(self) -> dict:
        return {"rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam (optionally AMSGrad) with Keras' bias-corrected step size alpha."""

    name_default = "adam"

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = (_number(v, f"{type(self).__name__} {n}") for n, v in (
            ("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon)))
        self.amsgrad = amsgrad

    def build_slots(self, variables: list) -> None:
        self.momentums = self.add_slots(variables, "momentum")
        self.velocities = self.add_slots(variables, "velocity")
        self.velocity_hats = self.add_slots(variables, "velocity_hat") if self.amsgrad else []

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        tf = _tf()
        dt = variable.dtype
        lr = tf.cast(learning_rate, dt)
        gradient = S.cast(gradient, dt)
        local_step = tf.cast(self.iterations + 1, dt)
        beta_1_power = tf.pow(tf.cast(self.beta_1, dt), local_step)
        beta_2_power = tf.pow(tf.cast(self.beta_2, dt), local_step)
        i = self.slot_index(variable)
        m, v = self.momentums[i], self.velocities[i]
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        S.assign_add(m, S.multiply(S.subtract(gradient, m), 1 - self.beta_1))
        S.assign_add(v, S.multiply(S.subtract(S.square(gradient), v), 1 - self.beta_2))
        if self.amsgrad:
            v_hat = self.velocity_hats[i]
            v_hat.assign(tf.maximum(v_hat, v))
            v = v_hat
        variable.assign_sub((m * alpha) / (tf.sqrt(v) + self.epsilon))

    def rule_config(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (w -= w * weight_decay * lr before each step)."""

    name_default = "adamw"

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        if weight_decay is None:
            raise ConfigError("AdamW needs a float weight_decay (default 0.004), got None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class Adamax(Optimizer):
    """Adam with the infinity norm: u = max(beta_2*u, |g|)."""

    name_default = "adamax"

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = (_number(v, f"{type(self).__name__} {n}") for n, v in (
            ("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon)))

    def build_slots(self, variables: list) -> None:
        self.ms = self.add_slots(variables, "momentum")
        self.us = self.add_slots(variables, "norm")

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        tf = _tf()
        dt = variable.dtype
        lr = tf.cast(learning_rate, dt)
        gradient = S.cast(gradient, dt)
        local_step = tf.cast(self.iterations + 1, dt)
        beta_1_power = tf.pow(tf.cast(self.beta_1, dt), local_step)
        i = self.slot_index(variable)
        m, u = self.ms[i], self.us[i]
        S.assign_add(m, S.multiply(S.subtract(gradient, m), 1 - self.beta_1))
        S.assign(u, S.maximum(self.beta_2 * u, S.abs(gradient)))
        variable.assign_sub((lr * m) / ((1 - beta_1_power) * (u + self.epsilon)))

    def rule_config(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras' momentum-decay schedule (u_product)."""

    name_default = "nadam"

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = (_number(v, f"{type(self).__name__} {n}") for n, v in (
            ("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon)))

    def build_slots(self, variables: list) -> None:
        tf = _tf()
        self.momentums = self.add_slots(variables, "momentum")
        self.velocities = self.add_slots(variables, "velocity")
        dtype = variables[0].dtype if variables else "float32"
        self.u_product = tf.Variable(1.0, dtype=dtype, trainable=False, name="u_product")
        self._variables.append(self.u_product)

    def before_update(self, learning_rate: Any) -> None:
        tf = _tf()
        dt = self.u_product.dtype
        step = tf.cast(self.iterations + 1, dt)
        self.u_product.assign(self.u_product * self.beta_1 * (1.0 - 0.5 * tf.pow(tf.cast(0.96, dt), step)))

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        tf = _tf()
        dt = variable.dtype
        lr = tf.cast(learning_rate, dt)
        gradient = S.cast(gradient, dt)
        local_step = tf.cast(self.iterations + 1, dt)
        next_step = tf.cast(self.iterations + 2, dt)
        decay = tf.cast(0.96, dt)
        beta_1, beta_2 = tf.cast(self.beta_1, dt), tf.cast(self.beta_2, dt)
        u_t = beta_1 * (1.0 - 0.5 * tf.pow(decay, local_step))
        u_t_1 = beta_1 * (1.0 - 0.5 * tf.pow(decay, next_step))
        u_product_t = tf.cast(self.u_product, dt)
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = tf.pow(beta_2, local_step)
        i = self.slot_index(variable)
        m, v = self.momentums[i], self.velocities[i]
        S.assign_add(m, S.multiply(S.subtract(gradient, m), 1 - beta_1))
        S.assign_add(v, S.multiply(S.subtract(S.square(gradient), v), 1 - beta_2))
        m_hat = S.add(u_t_1 * m / (1 - u_product_t_1),
                      S.divide(S.multiply(1 - u_t, gradient), 1 - u_product_t))
        v_hat = v / (1 - beta_2_power)
        variable.assign_sub((m_hat * lr) / (tf.sqrt(v_hat) + self.epsilon))

    def rule_config(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
