"""Keras-style training callbacks and the per-epoch progress bar.

The trainer calls the hooks with Keras' names and arguments (``on_epoch_end(epoch, logs)``,
``on_train_batch_end(batch, logs)``, ...). Callbacks see the kir model as ``self.model``:
``stop_training``, ``optimizer``, ``get_weights``/``set_weights`` and ``save`` (the trainer
writes trained values back to the layers before any epoch-end hook runs, and mid-epoch whenever
``get_weights``/``save``/``save_weights`` read them, so callbacks see the current values), and
``training_state`` (epoch, step, chief or not, what a backup holds). The TensorFlow-backed
callbacks (TensorBoard, BackupAndRestore) import TensorFlow only when training starts.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from kir.errors import ConfigError


class Callback:
    """Base class: override the hooks you need. `self.model` and `self.params` are set by fit."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


_HOOKS = [
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
    "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
]


class CallbackList(Callback):
    """Fans every hook out to a list of callbacks, in order."""

    def __init__(self, callbacks: Iterable[Callback] | None = None, model: Any = None,
                 params: dict | None = None) -> None:
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(
                    f"callbacks must be kir.callbacks.Callback instances, got {type(cb).__name__}"
                )
        if model is not None:
            self.set_model(model)
        if params is not None:
            self.set_params(params)
        # Skip batch hooks nobody overrides: calling them per step costs time.
        self._batch_hooks = {
            name: [cb for cb in self.callbacks if _overrides(cb, name)]
            for name in _HOOKS if "batch" in name
        }

    def append(self, cb: Callback) -> None:
        self.callbacks.append(cb)
        for name in self._batch_hooks:
            if _overrides(cb, name):
                self._batch_hooks[name].append(cb)

    def set_model(self, model: Any) -> None:
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def has_batch_hooks(self, name: str) -> bool:
        return bool(self._batch_hooks.get(name))


def _overrides(cb: Callback, name: str) -> bool:
    """Whether `cb` does something in hook `name` (so a no-op hook is never called per step)."""
    names = [name]
    if name in ("on_train_batch_begin", "on_train_batch_end"):
        names.append(name.replace("train_", ""))
    for n in names:
        inst = cb.__dict__.get(n)
        if inst is not None:
            if inst is not _noop:
                return True
        elif getattr(type(cb), n) is not getattr(Callback, n):
            return True
    return False


def _fanout(name: str) -> Callable:
    batch = "batch" in name

    def hook(self: CallbackList, *args: Any) -> None:
        for cb in (self._batch_hooks[name] if batch else self.callbacks):
            getattr(cb, name)(*args)

    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(CallbackList, _name, _fanout(_name))


class History(Callback):
    """Records the logs of every epoch: ``history.history['loss'] == [...]``."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


# ----------------------------------------------------------------------------- progress bar


class Progbar:
    """Keras' progress bar: ``32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - accuracy: 0.5 - loss: 0.69``."""

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1, interval: float = 0.05,
                 unit_name: str = "step", stream: Any = None) -> None:
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        self.stream = stream
        out = self.stream or sys.stdout
        self._dynamic = (hasattr(out, "isatty") and out.isatty()) or "ipykernel" in sys.modules
        self._values: dict[str, float] = {}
        self._order: list[str] = []
        self._start = time.time()
        self._last_update = 0.0
        self._after_first: float | None = None
        self._prev_width = 0

    def _write(self, msg: str) -> None:
        out = self.stream or sys.stdout
        out.write(msg)
        out.flush()

    def _step_time(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        if self._after_first is not None and current > 1:
            t = (now - self._after_first) / (current - 1)
        else:
            t = (now - self._start) / current
        if current == 1:
            self._after_first = now
        return t

    @staticmethod
    def _fmt_time(t: float, unit: str) -> str:
        if t >= 1 or t == 0:
            return f" {t:.0f}s/{unit}"
        if t >= 1e-3:
            return f" {t * 1e3:.0f}ms/{unit}"
        return f" {t * 1e6:.0f}us/{unit}"

    @staticmethod
    def _fmt_values(order: list[str], values: dict[str, float]) -> str:
        out = ""
        for k in order:
            v = values[k]
            out += f" - {k}: {v:.4f}" if abs(v) > 1e-3 else f" - {k}: {v:.4e}"
        return out

    def update(self, current: int, values: dict[str, float] | None = None, finalize: bool | None = None) -> None:
        """Shows progress at step `current`; `values` are running (already averaged) metrics."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in (values or {}).items():
            if k not in self._order:
                self._order.append(k)
            self._values[k] = float(np.mean(v))  # a metric over several thresholds shows its mean, as Keras
        now = time.time()
        per_step = self._step_time(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            msg = ("\b" * self._prev_width + "\r") if self._dynamic else "\n"
            if self.target:
                digits = int(math.log10(self.target)) + 1
                count = f"%{digits}d/%d" % (current, self.target)
                done = int(self.width * current / self.target)
                bar = f"{count} {'━' * done}{'━' * (self.width - done)}" if not self._dynamic else (
                    f"\x1b[1m{count}\x1b[0m \33[32m{'━' * done}\x1b[0m\33[37m{'━' * (self.width - done)}\x1b[0m"
                )
                plain = len(count) + 1 + self.width
            else:
                bar = f"{current:7d}/Unknown"
                plain = len(bar)
            if self.target and not finalize:
                eta = per_step * (self.target - current)
                if eta > 3600:
                    eta_s = f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
                elif eta > 60:
                    eta_s = f"{int(eta // 60)}:{int(eta % 60):02d}"
                else:
                    eta_s = f"{int(eta)}s"
                info = f" {eta_s}"
            else:
                info = f" {now - self._start:.0f}s"
            info += self._fmt_time(per_step, self.unit_name)
            info += self._fmt_values(self._order, self._values)
            width = plain + len(info)
            if self._prev_width > width:
                info += " " * (self._prev_width - width)
            if finalize:
                info += "\n"
            self._write(msg + bar + info if self._dynamic else bar + info + ("" if finalize else "\n"))
            self._prev_width = width
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"%{digits}d/%d" % (current, self.target)
            info = f"{count} - {now - self._start:.0f}s -{self._fmt_time(per_step, self.unit_name)}"
            info += self._fmt_values(self._order, self._values)
            self._write(info + "\n")
        self._last_update = now


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a progress bar per epoch (verbose=1) or one line per epoch (2)."""

    def __init__(self, verbose: int = 1, stream: Any = None) -> None:
        super().__init__()
        self.verbose = verbose
        self.stream = stream
        self.bar: Progbar | None = None
        self.epochs = 1
        self.steps: int | None = None
        self._seen = 0  # batches done in this epoch/evaluation (the total when steps are unknown)

    def _print(self, msg: str) -> None:
        out = self.stream or sys.stdout
        out.write(msg + "\n")
        out.flush()

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.verbose = params.get("verbose", self.verbose)
        self.epochs = params.get("epochs", 1)
        self.steps = params.get("steps")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.verbose:
            if self.epochs > 1:
                self._print(f"Epoch {epoch + 1}/{self.epochs}")
            self.bar = Progbar(self.steps, verbose=self.verbose, stream=self.stream)
            self._seen = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._seen = batch + 1
        if self.bar is not None and self.verbose == 1:
            self.bar.update(batch + 1, logs, finalize=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.bar is not None:
            if self.steps is None:  # streamed input of unknown length: the first epoch tells (Keras)
                self.bar.target = self._seen
                self.steps = self._seen or None
            self.bar.update(self.steps or self._seen, logs, finalize=True)
            self.bar = None

    # evaluate / predict bars
    def on_test_begin(self, logs: dict | None = None) -> None:
        if self.verbose and self.params.get("mode") in ("evaluate", "predict"):
            self.bar = Progbar(self.params.get("steps"), verbose=self.verbose, stream=self.stream)
            self._seen = 0

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._seen = batch + 1
        if self.bar is not None and self.verbose == 1 and self.params.get("mode") == "evaluate":
            self.bar.update(batch + 1, logs, finalize=False)

    def on_test_end(self, logs: dict | None = None) -> None:
        if self.bar is not None and self.params.get("mode") in ("evaluate", "predict"):
            steps = self.params.get("steps")
            if steps is None:
                self.bar.target = self._seen
            self.bar.update(steps or self._seen, logs, finalize=True)
            self.bar = None


# ----------------------------------------------------------------------------- monitoring


_MAXIMIZE = ("acc", "accuracy", "auc", "precision", "recall")


class _Monitor(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0, baseline: float | None = None) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                          stacklevel=3)
            mode = "auto"
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(min_delta)
        self.best: float | None = baseline
        self._sign: int | None = None  # +1: larger is better, -1: smaller is better

    def _set_direction(self) -> None:
        if self.mode == "max":
            self._sign = 1
        elif self.mode == "min":
            self._sign = -1
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss" or name.endswith("_loss") or name in (
                "mse", "mae", "mape", "msle", "mean_squared_error", "mean_absolute_error",
                "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "hinge",
                "squared_hinge", "kld", "kl_divergence", "poisson", "log_cosh", "logcosh",
                "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
            ):
                self._sign = -1
            elif name in _MAXIMIZE or name.endswith("accuracy") or name.endswith("_acc"):
                self._sign = 1
            else:
                raise ConfigError(
                    f"{type(self).__name__} cannot tell whether monitor='{self.monitor}' should be "
                    "maximized or minimized; pass mode='max' or mode='min'"
                )

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._sign == 1:
            return value - self.min_delta > reference
        return value + self.min_delta < reference


class EarlyStopping(_Monitor):
    """Stops training when `monitor` stops improving for `patience` epochs (Keras 3 logic)."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: list | None = None
        self.best_epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._sign is None:
            self._set_direction()
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs or {})}", stacklevel=2,
            )
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves the model (``model.save``, a .kir file) every epoch or when `monitor` improves.

    `filepath` may hold ``{epoch:02d}`` and log keys (``{val_loss:.2f}``).
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ConfigError(f"ModelCheckpoint(save_weights_only=True) writes Keras' weights format, so the "
                              f"filepath must end in '.weights.h5'; got '{self.filepath}'")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ConfigError(f"ModelCheckpoint save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        self.save_freq = save_freq
        self._batches_seen = 0
        self._epoch = 0

    def _path(self, epoch: int, logs: dict) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise ConfigError(
                f"ModelCheckpoint filepath '{self.filepath}' names {e} which is not in the logs "
                f"({', '.join(logs)})"
            ) from None

    def _save(self, epoch: int, logs: dict | None) -> None:
        if not _chief(self.model):  # on a multi-worker strategy the chief writes the checkpoints
            return
        logs = dict(logs or {})
        path = self._path(epoch, logs)
        if self.save_best_only:
            if self._sign is None:
                self._set_direction()
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.",
                              stacklevel=2)
                return
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                prev = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {prev} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        dirname = os.path.dirname(path)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            save = getattr(self.model, "save_weights", None)
            if save is None:
                raise ConfigError("ModelCheckpoint(save_weights_only=True) needs model.save_weights")
            save(path)
        else:
            self.model.save(path)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self.model.sync_weights() if hasattr(self.model, "sync_weights") else None
            self._save(self._epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, logs)


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at each epoch start to ``schedule(epoch, lr)``."""

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        opt = self.model.optimizer
        lr = float(np.asarray(_value(opt.learning_rate)))
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # schedule(epoch) only
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, int, np.floating, np.integer)):
            raise ConfigError(
                f"LearningRateScheduler schedule must return a float, got {type(lr).__name__}"
            )
        opt.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(np.asarray(_value(self.model.optimizer.learning_rate)))


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by `factor` after `patience` epochs without improvement."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ConfigError(f"ReduceLROnPlateau does not support a factor >= 1.0, got factor={factor}")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._sign is None:
            self._set_direction()
        logs = logs if logs is not None else {}
        opt = self.model.optimizer
        logs["learning_rate"] = float(np.asarray(_value(opt.learning_rate)))
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}.", stacklevel=2,
            )
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif not self.cooldown_counter > 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = logs["learning_rate"]
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    opt.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Streams epoch results to a CSV file: one row per epoch, header from the first epoch's keys."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self._file: Any = None
        self._writer: Any = None
        self._append_header = True

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self._append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        self._file = open(self.filename, mode, newline="")  # noqa: SIM115 - closed in on_train_end
        self.keys, self._writer = None, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys], delimiter=self.sep)
            if self._append_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: logs.get(k, "NA") for k in self.keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None, on_train_batch_end: Callable | None = None,
                 **kwargs: Callable) -> None:
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        if "on_batch_begin" in given:
            given["on_train_batch_begin"] = given.pop("on_batch_begin")
        if "on_batch_end" in given:
            given["on_train_batch_end"] = given.pop("on_batch_end")
        for name, fn in given.items():
            if name not in _HOOKS:
                raise ConfigError(f"LambdaCallback got unknown hook '{name}'; hooks are {', '.join(_HOOKS)}")
            if fn is not None:
                setattr(self, name, fn)
            elif "batch" in name:
                setattr(self, name, _noop)


class TerminateOnNaN(Callback):
    """Stops training when the loss becomes NaN or infinite, naming the batch (Keras' callback)."""

    def __init__(self) -> None:
        super().__init__()
        self._epoch = 0
        self.stopped_at: tuple[int, int] | None = None
        """(epoch, batch) where the loss became invalid, or None."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.stopped_at = (self._epoch, batch)
            print(f"Batch {batch}: Invalid loss, terminating training (epoch {self._epoch + 1}, loss {loss})")
            self.model.stop_training = True


def _chief(model: Any) -> bool:
    """Whether this process writes shared files (the chief of a multi-worker strategy, else yes)."""
    state = getattr(model, "training_state", None)
    return getattr(state, "is_chief", True)


class TensorBoard(Callback):
    """Writes `tf.summary` event files for TensorBoard: epoch scalars (`epoch_<name>`) under
    `log_dir/train` and `log_dir/validation`, batch scalars (`batch_<name>`) every `update_freq`
    batches when it is an int, and kir's IR graph as the graph (one node per op, named by layer).
    On a multi-worker strategy only the chief writes."""

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int = 0, embeddings_freq: int = 0, embeddings_metadata: Any = None) -> None:
        super().__init__()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ConfigError(f"TensorBoard update_freq must be 'epoch', 'batch' or a positive int, got "
                              f"{update_freq!r}")
        for name, value in (("histogram_freq", histogram_freq), ("write_images", write_images),
                            ("profile_batch", profile_batch), ("embeddings_freq", embeddings_freq)):
            if value:
                raise ConfigError(f"TensorBoard({name}={value!r}) is not supported by kir; it writes scalars and "
                                  f"the graph")
        self.log_dir, self.write_graph, self.update_freq = os.fspath(log_dir), write_graph, update_freq
        self.write_steps_per_second = write_steps_per_second
        self._writers: dict[str, Any] = {}
        self._dir = self.log_dir
        self._step = 0
        self._epoch_start = 0.0

    def _writer(self, kind: str) -> Any:
        import tensorflow as tf

        if kind not in self._writers:
            self._writers[kind] = tf.summary.create_file_writer(os.path.join(self._dir, kind))
        return self._writers[kind]

    def on_train_begin(self, logs: dict | None = None) -> None:
        import tensorflow as tf

        self._step = 0
        self._dir = self.log_dir if _chief(self.model) else os.path.join(self.log_dir, f"workertemp_{os.getpid()}")
        if self.write_graph:
            with self._writer("train").as_default():
                tf.summary.graph(ir_graph_def(self.model.to_graph()))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.time()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.update_freq == "epoch":
            return
        self._step += 1
        if self._step % self.update_freq == 0:
            self._scalars("train", "batch_", logs or {}, self._step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        if self.write_steps_per_second and self.params.get("steps"):
            train["steps_per_second"] = self.params["steps"] / max(time.time() - self._epoch_start, 1e-9)
        self._scalars("train", "epoch_", train, epoch)
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if val:
            self._scalars("validation", "epoch_", val, epoch)

    def _scalars(self, kind: str, prefix: str, logs: dict, step: int) -> None:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        # tf.summary.scalar lives in the tensorboard package; the core op with the scalars plugin's
        # metadata writes the same event
        meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
        with self._writer(kind).as_default():
            for name, value in logs.items():
                if np.ndim(value) == 0:
                    tf.summary.write(prefix + name, tf.constant(float(value), "float32"), step=step, metadata=meta)

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
        if self._dir != self.log_dir:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)


def ir_graph_def(graph: Any) -> Any:
    """kir's IR as a TensorFlow GraphDef for TensorBoard's graph view: one node per vertex, its op
    type as the node's op, grouped by layer (`layer/op`), edges from the graph's inputs."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    names: dict[int, str] = {}
    for vid in graph.topological_order():
        v = graph.vertex(vid)
        name = f"{v.layer}/{v.name}" if v.layer and v.layer != v.name else v.name
        names[vid] = name.replace(":", "_")
        node = graph_def.node.add()
        node.name, node.op = names[vid], v.op
        for ref in graph.input_refs(vid):
            src, index = ref[0], ref[1]
            node.input.append(names[src] + (f":{index}" if index else ""))
        if v.outputs:
            spec = v.outputs[0]
            node.attr["shape"].s = str(tuple(spec.shape)).encode()
            node.attr["dtype"].s = str(spec.dtype).encode()
    return graph_def


class BackupAndRestore(Callback):
    """Fault tolerance (Keras' callback over `tf.train.CheckpointManager`): backs up the whole
    training state (weights, optimizer, dropout seed, epoch logs, epoch/step and shuffle seed) every
    epoch or every `save_freq` batches; a fit started again after the process died restores it and
    continues from that step, ending with the weights an uninterrupted run would have. The backup is
    deleted when fit completes (unless `delete_checkpoint=False`). Only the chief writes `backup_dir`."""

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ConfigError("BackupAndRestore needs a backup_dir")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ConfigError(f"BackupAndRestore save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        self.backup_dir, self.save_freq = os.fspath(backup_dir), save_freq
        self.double_checkpoint, self.delete_checkpoint = double_checkpoint, delete_checkpoint
        self._manager: Any = None
        self._dir = self.backup_dir
        self._epoch = 0
        self._batches = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        import tensorflow as tf

        state = getattr(self.model, "training_state", None)
        if state is None:
            raise ConfigError("BackupAndRestore works inside model.fit (it needs the training state)")
        # every worker restores the chief's backup; the others write theirs to a private temporary
        # folder (outside backup_dir, which the chief deletes at the end while they may still write)
        if state.is_chief:
            self._dir = self.backup_dir
        else:
            import tempfile

            self._dir = tempfile.mkdtemp(prefix="kir_backup_worker_")
        ckpt = tf.train.Checkpoint(**state.checkpoint_items())
        self._manager = tf.train.CheckpointManager(ckpt, self._dir, max_to_keep=2 if self.double_checkpoint else 1)
        latest = tf.train.latest_checkpoint(self.backup_dir)
        if latest:
            ckpt.restore(latest).assert_existing_objects_matched()
            state.restored()
        self._batches = 0

    def _backup(self, epoch: int, step: int) -> None:
        self.model.training_state.record_progress(epoch, step)
        self._manager.save()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._backup(self._epoch, batch + 1)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_freq == "epoch" or not self.model.stop_training:
            self._backup(epoch + 1, 0)

    def on_train_end(self, logs: dict | None = None) -> None:
        import shutil

        state = self.model.training_state
        if self.delete_checkpoint or not state.is_chief:
            shutil.rmtree(self._dir, ignore_errors=True)


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _value(x: Any) -> Any:
    return x.numpy() if hasattr(x, "numpy") else x


__all__ = [
    "Callback", "CallbackList", "History", "Progbar", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger", "LambdaCallback", "TerminateOnNaN", "TensorBoard",
    "BackupAndRestore",
]
