"""`Model.compile`: resolve optimizer, per-output losses, loss weights and metrics (Keras 3 rules).

Compile only records what to train with; the TensorFlow
program is built on the first fit/evaluate and reused.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kir import losses as losses_module
from kir import metrics as metrics_module
from kir import mixed_precision
from kir import optimizers as optimizers_module
from kir.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from kir.training.protocol import TrainableModel


@dataclass
class CompileConfig:
    """What `compile` resolved; metrics stay identifiers until the label shapes are known."""

    optimizer: optimizers_module.Optimizer
    losses: list[losses_module.Loss | None]
    loss_weights: list[float]
    metrics: list[list[Any]]
    weighted_metrics: list[list[Any]]
    output_names: list[str]
    jit_compile: bool
    steps_per_execution: int | None = None  # None: kir picks (several steps per call)
    resolved: dict = field(default_factory=dict)  # (output, y_true shape) -> metric objects
    strategy: Any = None
    """The tf.distribute strategy fit runs under (the scope compile was called in, or `distribute=`)."""
    programs: dict = field(default_factory=dict)  # programs with the strategy's mirrored variables
    policy: Any = None
    """The kir.mixed_precision policy in force at compile time."""


def _per_output(what: str, value: Any, names: list[str], model_name: str) -> list[Any]:
    """A list/dict-by-output-name argument as one entry per output (None where absent)."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ConfigError(
                f"compile({what}=...) names output '{unknown[0]}', which model '{model_name}' does not have."
                f"{did_you_mean(unknown[0], names)} Its outputs are: {', '.join(names)}"
            )
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ConfigError(
                f"compile({what}=...) got a list of {len(value)} for model '{model_name}', which has "
                f"{len(names)} output(s) ({', '.join(names)}); pass one entry per output or a dict by name"
            )
        return list(value)
    return [value] * len(names)


def compile_model(
    model: TrainableModel,
    optimizer: Any = "rmsprop",
    loss: Any = None,
    metrics: Any = None,
    loss_weights: Any = None,
    weighted_metrics: Any = None,
    run_eagerly: bool = False,
    jit_compile: Any = "auto",
    steps_per_execution: Any = "auto",
    distribute: Any = None,
    auto_scale_loss: bool = True,
    **kwargs: Any,
) -> None:
    """Configure `model` for training: optimizer, loss(es), metrics, loss weights. Under the
    "mixed_float16" policy the optimizer is wrapped in a LossScaleOptimizer (Keras' auto_scale_loss)."""
    if kwargs:
        raise ConfigError(f"compile() got unexpected argument(s) {sorted(kwargs)}")
    check = getattr(model, "_require_compilable", None) or model._require_built
    check()
    names = list(model.output_names)
    opt = optimizers_module.get(optimizer)
    if isinstance(loss, (list, tuple)) and len(names) == 1 and len(loss) == 1:
        loss = loss[0]
    # loss=None is Keras 3's compile for a model trained on its add_loss/regularization losses;
    # fit refuses it if the model has none
    per_loss = _per_output("loss", loss, names, model.name)
    resolved_losses = [None if lo is None else losses_module.get(lo) for lo in per_loss]
    if loss is not None and all(lo is None for lo in resolved_losses):
        raise ConfigError(f"compile() of model '{model.name}': no output has a loss")
    if loss_weights is None:
        weights = [1.0] * len(names)
    else:
        if not isinstance(loss_weights, (list, tuple, dict)) and len(names) == 1:
            loss_weights = [loss_weights]
        weights = [1.0 if w is None else float(w)
                   for w in _per_output("loss_weights", loss_weights, names, model.name)]
    per_metrics = _metric_lists("metrics", metrics, names, model.name)
    per_weighted = _metric_lists("weighted_metrics", weighted_metrics, names, model.name)
    for group in per_metrics + per_weighted:
        for m in group:  # validate names now, resolve 'accuracy' at fit time
            if isinstance(m, str) and m.lower() not in metrics_module.ACCURACY_NAMES:
                metrics_module.get(m)
            elif not isinstance(m, str) and not callable(m) and not isinstance(m, metrics_module.Metric):
                raise ConfigError(f"metric {m!r} is neither a metric name nor a function f(y_true, y_pred)")
    if run_eagerly:
        jit = False
    elif jit_compile == "auto":
        jit = _accelerator_present()
    else:
        jit = bool(jit_compile)
    if steps_per_execution == "auto":
        spe = None
    elif (isinstance(steps_per_execution, numbers.Integral) and not isinstance(steps_per_execution, bool)
          and steps_per_execution >= 1):
        spe = int(steps_per_execution)
    else:
        raise ConfigError(f"steps_per_execution must be 'auto' or a positive int, got {steps_per_execution!r}")
    strategy = _strategy(distribute)
    policy = mixed_precision.global_policy()
    if jit and _runs_cudnn(model, policy.compute_dtype):
        # cuDNN's fused LSTM/GRU do not compile under XLA: Keras 3 sets such a layer's
        # supports_jit = False, so "auto" turns XLA off and jit_compile=True warns and does too
        if jit_compile is True:
            import warnings

            warnings.warn("Model doesn't support `jit_compile=True` (an LSTM/GRU runs on cuDNN; pass "
                          "use_cudnn=False to it to compile with XLA). Proceeding with `jit_compile=False`.",
                          UserWarning, stacklevel=3)
        jit = False
    if auto_scale_loss and policy.name == "mixed_float16" and not isinstance(opt, optimizers_module.LossScaleOptimizer):
        opt = optimizers_module.LossScaleOptimizer(opt, name="loss_scale_optimizer")
    if policy.compute_dtype == "float16" and not _accelerator_present():
        import warnings

        # as tf.keras 2's device compatibility check: TensorFlow's float16 CPU kernels are slow
        # (bfloat16 ones are not: mixed_bfloat16 measured as fast as float32 here)
        warnings.warn(f"model '{model.name}': dtype policy '{policy.name}' on a host without a GPU/TPU; "
                      f"TensorFlow's {policy.compute_dtype} kernels on CPU are much slower than float32 (Dense "
                      f"training measured ~300x slower): use the 'float32' policy on CPU", UserWarning, stacklevel=3)
    model.compiled = CompileConfig(opt, resolved_losses, weights, per_metrics, per_weighted, names, jit, spe,
                                   strategy=strategy, policy=policy)
    model.optimizer = opt
    model.loss = loss
    model.stop_training = False


def _strategy(distribute: Any) -> Any:
    """Keras' rule: the tf.distribute strategy whose scope compile runs in (or `distribute=`); None for
    the default single-device strategy, so that plain fits keep their single-device fast path."""
    import sys

    if distribute is not None:
        if not (hasattr(distribute, "run") and hasattr(distribute, "scope")):
            raise ConfigError(f"compile(distribute=...) takes a tf.distribute strategy, got "
                              f"{type(distribute).__name__}")
        return distribute
    tf = sys.modules.get("tensorflow")
    if tf is None or not tf.distribute.has_strategy():
        return None
    return tf.distribute.get_strategy()


def _runs_cudnn(model: TrainableModel, compute_dtype: str) -> bool:
    """Whether some LSTM/GRU of the model would train on TensorFlow's fused cuDNN kernel."""
    from kir.backends.tensorflow.cudnn_rnn import model_uses_cudnn

    return model_uses_cudnn(model.to_graph(), compute_dtype)


def _accelerator_present() -> bool:
    """'auto' XLA policy, as Keras 3: on when TensorFlow sees a GPU/TPU, off on CPU-only hosts
    (measured: XLA on CPU is slower for Dense, Conv and LSTM training alike)."""
    import tensorflow as tf

    return any(d.device_type != "CPU" for d in tf.config.list_physical_devices())


def _metric_lists(what: str, metrics: Any, names: list[str], model_name: str) -> list[list[Any]]:
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        per = _per_output(what, metrics, names, model_name)
        return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m]) for m in per]
    if not isinstance(metrics, (list, tuple)):
        raise ConfigError(f"compile({what}=...) expects a list (or a dict by output name), got {metrics!r}")
    if len(names) > 1 and len(metrics) == len(names) and all(
        isinstance(m, (list, tuple)) or m is None for m in metrics
    ):
        return [[] if m is None else list(m) for m in metrics]
    return [list(metrics) for _ in names]  # the same metrics for every output (Keras 2 style)


def require_compiled(model: TrainableModel, what: str) -> CompileConfig:
    cfg = getattr(model, "compiled", None)
    if not isinstance(cfg, CompileConfig):
        raise ConfigError(
            f"model '{model.name}' must be compiled before {what}(); call "
            f"model.compile(optimizer=..., loss=...) first"
        )
    return cfg
