"""fit / evaluate / train_on_batch / test_on_batch: the epoch and batch loops around the engine."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from kir import callbacks as callbacks_module
from kir.errors import ConfigError, FeedError, check_positive_int
from kir.training.compile import require_compiled
from kir.training.data import Arrays, prepare, split_validation, unpack_validation
from kir.training.engine import Engine, device_arrays, engine_for

#: optimizer steps per traced call when no callback watches single batches.
CHUNK_STEPS = 8

if TYPE_CHECKING:
    from kir.training.protocol import TrainableModel


def _batch_size(batch_size: Any, what: str) -> int:
    return 32 if batch_size is None else check_positive_int(batch_size, f"{what}: batch_size", FeedError)


def _verbose(verbose: Any) -> int:
    return 1 if verbose == "auto" else int(verbose)


def _built_for(model: TrainableModel, x: Any, what: str) -> Any:
    """The compile config, after building a model declared without an input shape from `x` (Keras 3)."""
    cfg = require_compiled(model, what)
    build = getattr(model, "_ensure_built_for", None)
    if build is not None:
        build(x)
    return cfg


def _needs_y(cfg: Any) -> bool:
    """Targets are needed unless no output has a compiled loss (a model trained on add_loss losses)."""
    return any(lo is not None for lo in cfg.losses)


def _callback_list(callbacks: Any, model: TrainableModel, verbose: int, params: dict, history: bool = False):
    user = list(callbacks or [])
    extra: list = []
    if verbose:
        extra.append(callbacks_module.ProgbarLogger())
    hist = callbacks_module.History() if history else None
    if hist is not None:
        extra.append(hist)
    cbs = callbacks_module.CallbackList(user + extra, model=model, params=params)
    progbar = extra[0] if verbose else None
    return cbs, hist, progbar


def _run_steps(eng: Engine, fn, tensors, n: int, batch_size: int, order: np.ndarray | None,
               cbs, progbar, hook: str, model: TrainableModel | None) -> int:
    """Runs one pass over the data; returns the number of completed steps."""
    xs, ys, sws = tensors
    steps = -(-n // batch_size)
    begin_hook = f"{hook}_begin"
    end_hook = f"{hook}_end"
    want_begin = cbs.has_batch_hooks(begin_hook)
    user_end = [cb for cb in cbs._batch_hooks[end_hook] if cb is not progbar]
    index = order if order is not None else np.arange(n, dtype=np.int32)
    done = 0
    for step in range(steps):
        if want_begin:
            getattr(cbs, begin_hook)(step, {})
        idx = tf.constant(index[step * batch_size:(step + 1) * batch_size], dtype=tf.int32)
        fn(xs, ys, sws, idx)
        done = step + 1
        if user_end:
            logs = eng.logs()
            for cb in user_end:
                getattr(cb, end_hook)(step, logs)
            if progbar is not None and hook == "on_train_batch":
                progbar.on_train_batch_end(step, logs)
        elif progbar is not None and progbar.bar is not None and _due(progbar.bar, step + 1 == steps):
            getattr(progbar, end_hook)(step, eng.logs())
        if model is not None and model.stop_training:
            break
    return done


def _run_train_chunks(eng: Engine, tensors, n: int, batch_size: int, order: np.ndarray | None,
                      progbar, model: TrainableModel) -> None:
    """One epoch with several steps per call (used when no callback watches single batches)."""
    xs, ys, sws = tensors
    index = order if order is not None else np.arange(n, dtype=np.int32)
    full, rem = divmod(n, batch_size)
    steps = full + (1 if rem else 0)
    k = max(1, min(full, eng.cfg.steps_per_execution or CHUNK_STEPS))
    rows = index[: full * batch_size].reshape(full, batch_size)
    done = 0
    while done < steps:
        if done + k <= full:
            eng.chunk_function_for(k)(xs, ys, sws, tf.constant(rows[done:done + k], tf.int32))
            done += k
        else:
            part = index[done * batch_size:(done + 1) * batch_size]  # a leftover full batch or the last one
            eng.train_function()(xs, ys, sws, tf.constant(part, tf.int32))
            done += 1
        if progbar is not None and progbar.bar is not None and _due(progbar.bar, done == steps):
            progbar.on_train_batch_end(done - 1, eng.logs())
        if model.stop_training:
            return


def _due(bar: callbacks_module.Progbar, last: bool) -> bool:
    import time

    return last or time.time() - bar._last_update >= bar.interval


def fit(model: TrainableModel, x: Any = None, y: Any = None, batch_size: Any = None, epochs: int = 1,
        verbose: Any = "auto", callbacks: Any = None, validation_split: float = 0.0,
        validation_data: Any = None, shuffle: bool = True, class_weight: dict | None = None,
        sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: Any = None,
        validation_steps: Any = None, validation_batch_size: Any = None, validation_freq: int = 1,
        **kwargs: Any) -> callbacks_module.History:
    """Trains the model on numpy data with TensorFlow; trained weights end up in the layers."""
    if kwargs:
        raise ConfigError(f"fit() got unexpected argument(s) {sorted(kwargs)}")
    if steps_per_epoch is not None or validation_steps is not None:
        raise ConfigError("fit(steps_per_epoch=/validation_steps=) apply to generators; kir trains on arrays, "
                          "whose size and batch_size set the steps")
    cfg = _built_for(model, x, "fit")
    batch_size = _batch_size(batch_size, "fit")
    verbose = _verbose(verbose)
    data = prepare(model, x, y, sample_weight, class_weight, need_y=_needs_y(cfg))
    val = None
    if validation_data is not None:
        val = unpack_validation(model, validation_data, need_y=_needs_y(cfg))
    elif validation_split:
        data, val = split_validation(data, validation_split)
    if data.n == 0:
        raise FeedError(f"fit() of model '{model.name}' got no samples")
    eng = engine_for(model, cfg, data)
    tensors = device_arrays(data)
    val_tensors = device_arrays(val) if val is not None else None
    steps = -(-data.n // batch_size)
    params = {"epochs": epochs, "steps": steps, "verbose": verbose, "mode": "fit",
              "batch_size": batch_size, "samples": data.n}
    cbs, history, progbar = _callback_list(callbacks, model, verbose, params, history=True)
    model.history = history
    model.stop_training = False
    train_fn = eng.train_function()
    watched = cbs.has_batch_hooks("on_train_batch_begin") or any(
        cb is not progbar for cb in cbs._batch_hooks["on_train_batch_end"])
    rng = np.random.default_rng(None)
    cbs.on_train_begin({})
    epoch = initial_epoch
    try:
        for epoch in range(initial_epoch, epochs):
            eng.reset()
            cbs.on_epoch_begin(epoch, {})
            order = rng.permutation(data.n).astype(np.int32) if shuffle else None
            if watched:
                _run_steps(eng, train_fn, tensors, data.n, batch_size, order, cbs, progbar, "on_train_batch", model)
            else:
                _run_train_chunks(eng, tensors, data.n, batch_size, order, progbar, model)
            logs = eng.logs()
            if val is not None and (epoch + 1) % max(1, validation_freq) == 0:
                logs.update(_evaluate_arrays(model, eng, val, val_tensors,
                                             _batch_size(validation_batch_size or batch_size, "fit"),
                                             cbs, None, prefix="val_"))
            eng.write_back()
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    except KeyboardInterrupt:
        eng.write_back()
        sys.stderr.write(f"\nkir: training interrupted during epoch {epoch + 1}; the model keeps the weights "
                         f"of the last completed step.\n")
        cbs.on_train_end({})
        return history
    eng.write_back()
    cbs.on_train_end({})
    return history


def _evaluate_arrays(model: TrainableModel, eng: Engine, data: Arrays, tensors, batch_size: int, cbs, progbar,
                     prefix: str = "") -> dict[str, float]:
    saved = eng.acc.numpy()
    eng.reset()
    cbs.on_test_begin({})
    _run_steps(eng, eng.test_function(), tensors, data.n, batch_size, None, cbs, progbar, "on_test_batch", None)
    logs = eng.logs(prefix)
    cbs.on_test_end(logs)
    eng.acc.assign(saved)
    return logs


def evaluate(model: TrainableModel, x: Any = None, y: Any = None, batch_size: Any = None, verbose: Any = "auto",
             sample_weight: Any = None, steps: Any = None, callbacks: Any = None, return_dict: bool = False,
             **kwargs: Any) -> Any:
    """Loss and metrics on data: a float (loss only), a list [loss, ..., metrics], or a dict."""
    if kwargs:
        raise ConfigError(f"evaluate() got unexpected argument(s) {sorted(kwargs)}")
    cfg = _built_for(model, x, "evaluate")
    batch_size = _batch_size(batch_size, "evaluate")
    verbose = _verbose(verbose)
    data = prepare(model, x, y, sample_weight, need_y=_needs_y(cfg))
    eng = engine_for(model, cfg, data)
    params = {"steps": -(-data.n // batch_size), "verbose": verbose, "mode": "evaluate"}
    cbs, _, progbar = _callback_list(callbacks, model, verbose, params)
    logs = _evaluate_arrays(model, eng, data, device_arrays(data), batch_size, cbs, progbar)
    return _results(eng, logs, return_dict)


def _results(eng: Engine, logs: dict[str, float], return_dict: bool) -> Any:
    if return_dict:
        return logs
    values = eng.result_list(logs)
    return values[0] if len(values) == 1 else values


def train_on_batch(model: TrainableModel, x: Any, y: Any = None, sample_weight: Any = None,
                   class_weight: dict | None = None, return_dict: bool = False) -> Any:
    """One optimizer step on exactly this batch; returns its loss (and metrics)."""
    cfg = _built_for(model, x, "train_on_batch")
    data = prepare(model, x, y, sample_weight, class_weight, need_y=_needs_y(cfg))
    eng = engine_for(model, cfg, data)
    eng.reset()
    eng.train_function()(*device_arrays(data), tf.range(data.n, dtype=tf.int32))
    eng.write_back()
    return _results(eng, eng.logs(), return_dict)


def test_on_batch(model: TrainableModel, x: Any, y: Any = None, sample_weight: Any = None,
                  return_dict: bool = False) -> Any:
    """Loss (and metrics) of this batch in inference mode."""
    cfg = _built_for(model, x, "test_on_batch")
    data = prepare(model, x, y, sample_weight, need_y=_needs_y(cfg))
    eng = engine_for(model, cfg, data)
    eng.reset()
    eng.test_function()(*device_arrays(data), tf.range(data.n, dtype=tf.int32))
    return _results(eng, eng.logs(), return_dict)
