"""fit / evaluate / train_on_batch / test_on_batch: the epoch and batch loops around the engine."""

from __future__ import annotations

import numbers
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from kir import callbacks as callbacks_module
from kir.errors import ConfigError, FeedError, check_positive_int
from kir.ir import live
from kir.training.compile import require_compiled
from kir.training.data import Arrays, prepare, split_validation, unpack_validation
from kir.training.distributed import distribute_batch
from kir.training.engine import Engine, check_values, device_arrays, engine_for
from kir.training.state import TrainingState
from kir.training.streaming import (
    ArrayStream,
    IteratorStream,
    Stream,
    device_budget,
    epoch_order,
    fit_seed,
    is_stream,
    nbytes,
    stream_for,
)

#: optimizer steps per traced call when no callback watches single batches.
CHUNK_STEPS = 8

IN_GRAPH_EVALUATE = True
"""evaluate / validation read a tf.data dataset of known length inside traced calls (as fit does);
False: one host-fed call per batch (the path for generators and PyDatasets), for comparisons."""

if TYPE_CHECKING:
    from kir.training.protocol import TrainableModel


def _batch_size(batch_size: Any, what: str) -> int:
    return 32 if batch_size is None else check_positive_int(batch_size, f"{what}: batch_size", FeedError)


def _epoch_count(value: Any, what: str) -> int:
    """A non-negative int (Keras runs `range(initial_epoch, epochs)`; a negative or a string would
    silently train nothing or fail inside range())."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ConfigError(f"fit(): {what} must be an int >= 0, got {value!r}")
    return int(value)


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
               cbs, progbar, hook: str, model: TrainableModel | None, start: int = 0,
               state: TrainingState | None = None) -> int:
    """Runs one pass over the data from step `start`; returns the number of completed steps."""
    xs, ys, sws = tensors
    steps = -(-n // batch_size)
    index = order if order is not None else np.arange(n, dtype=np.int32)
    batches = ((fn, (xs, ys, sws, tf.constant(index[s * batch_size:(s + 1) * batch_size], dtype=tf.int32)))
               for s in range(start, steps))
    return _drive(eng, batches, steps, start, cbs, progbar, hook, model, state)


def _drive(eng: Engine, calls, steps: int | None, start: int, cbs, progbar, hook: str,
           model: TrainableModel | None, state: TrainingState | None) -> int:
    """Runs each (function, args) of `calls` as step start, start + 1, ... with the batch hooks;
    returns the number of completed steps of the epoch."""
    begin_hook = f"{hook}_begin"
    end_hook = f"{hook}_end"
    want_begin = cbs.has_batch_hooks(begin_hook)
    user_end = [cb for cb in cbs._batch_hooks[end_hook] if cb is not progbar]
    done = reported = start
    for step, (fn, args) in enumerate(calls, start):
        if want_begin:
            getattr(cbs, begin_hook)(step, {})
        if state is not None and state.dirty:
            state.push()  # a callback set weights: this step starts from them
        fn(*args)
        done = step + 1
        if state is not None:
            state.step, state.stale = done, True
        if user_end:
            logs = eng.logs()
            for cb in user_end:
                getattr(cb, end_hook)(step, logs)
            if progbar is not None and hook == "on_train_batch":
                progbar.on_train_batch_end(step, logs)
        elif progbar is not None and progbar.bar is not None and _due(progbar.bar, done == steps):
            getattr(progbar, end_hook)(step, eng.logs())
            reported = done
        if model is not None and model.stop_training:
            break
    if steps is None and progbar is not None and progbar.bar is not None and reported != done:
        getattr(progbar, end_hook)(done - 1, eng.logs())  # streamed input of unknown length: its last step
    return done


def _stream_calls(eng: Engine, stream: Stream, epoch: int, skip: int, training: bool):
    """(function, args) per batch of a stream; under a strategy each global batch is split across
    the replicas (contiguous parts, as `tf.distribute` splits a global batch)."""
    fn = eng.batch_function(training)
    for xs, ys, sws in stream.batches(epoch, skip):
        if eng.strategy is not None:
            yield fn, distribute_batch(eng.strategy, xs, ys, sws)
        else:
            yield fn, (xs, ys, sws)


def _run_train_chunks(eng: Engine, tensors, n: int, batch_size: int, order: np.ndarray | None,
                      progbar, model: TrainableModel, state: TrainingState) -> None:
    """One epoch with several steps per call (used when no callback watches single batches)."""
    xs, ys, sws = tensors
    index = order if order is not None else np.arange(n, dtype=np.int32)
    full, rem = divmod(n, batch_size)
    steps = full + (1 if rem else 0)
    k = max(1, min(full, eng.cfg.steps_per_execution or CHUNK_STEPS))
    rows = index[: full * batch_size].reshape(full, batch_size)
    done = 0
    while done < steps:
        if state.dirty:
            state.push()
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


def _run_iterator_chunks(eng: Engine, source: IteratorStream, steps: int, progbar, model: TrainableModel,
                         state: TrainingState) -> None:
    """One epoch over a tf.data dataset of known length with several steps per call, the batches read
    by the traced function itself (used when no callback watches single batches)."""
    first, iterator = source.start_in_graph()
    done = 0
    if first is not None:  # the batch fit looked at to size the engine (checked on the host)
        state.push()
        eng.batch_function(True)(*source.to_lists(first))
        done = 1
    k = max(1, min(steps, eng.cfg.steps_per_execution or CHUNK_STEPS))
    while done < steps:
        if state.dirty:
            state.push()
        n = k if done + k <= steps else 1
        _checked(source, done, eng.iterator_function_for(n, source.graph_lists), iterator)
        done += n
        state.step, state.stale = done, True
        if progbar is not None and progbar.bar is not None and _due(progbar.bar, done == steps):
            progbar.on_train_batch_end(done - 1, eng.logs())
        if model.stop_training:
            return


def _run_test_iterator(eng: Engine, source: IteratorStream, steps: int, progbar) -> None:
    """evaluate / validation over a tf.data dataset of known length as fit reads it: the batches read
    inside traced calls of several steps each, checked by the same in-graph asserts (ids, sparse
    labels, NaN/inf) that become FeedErrors naming the batch."""
    first, iterator = source.start_in_graph()
    done = 0
    if first is not None:  # the batch first() looked at (checked on the host)
        eng.batch_function(False)(*source.to_lists(first))
        done = 1
    k = max(1, min(steps, eng.cfg.steps_per_execution or CHUNK_STEPS))
    while done < steps:
        n = k if done + k <= steps else 1
        _checked(source, done, eng.iterator_function_for(n, source.graph_lists, training=False), iterator)
        done += n
        if progbar is not None and progbar.bar is not None and _due(progbar.bar, done == steps):
            progbar.on_test_batch_end(done - 1, eng.logs())


def _checked(source: IteratorStream, done: int, fn: Any, *args: Any) -> None:
    """Runs `fn(*args)` (steps from batch `done` on); an in-graph check's InvalidArgumentError becomes
    the FeedError naming the batch and the input or output."""
    try:
        fn(*args)
    except tf.errors.InvalidArgumentError as exc:
        error = source.check_error(exc, done)
        if error is None:
            raise
        raise error from None


def _due(bar: callbacks_module.Progbar, last: bool) -> bool:
    import time

    return last or time.time() - bar._last_update >= bar.interval


def fit(model: TrainableModel, x: Any = None, y: Any = None, batch_size: Any = None, epochs: int = 1,
        verbose: Any = "auto", callbacks: Any = None, validation_split: float = 0.0,
        validation_data: Any = None, shuffle: bool = True, class_weight: dict | None = None,
        sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: Any = None,
        validation_steps: Any = None, validation_batch_size: Any = None, validation_freq: int = 1,
        **kwargs: Any) -> callbacks_module.History:
    """Trains the model with TensorFlow on arrays (on the device whole when they fit the device budget)
    or streamed input (generators, PyDataset, tf.data); trained weights end up in the layers."""
    if kwargs:
        raise ConfigError(f"fit() got unexpected argument(s) {sorted(kwargs)}")
    epochs = _epoch_count(epochs, "epochs")
    initial_epoch = _epoch_count(initial_epoch, "initial_epoch")
    steps_per_epoch = _steps(steps_per_epoch, "fit: steps_per_epoch")
    validation_steps = _steps(validation_steps, "fit: validation_steps")
    cfg = require_compiled(model, "fit")
    batch_size = _batch_size(batch_size, "fit")
    verbose = _verbose(verbose)
    seed = fit_seed()
    need_y = _needs_y(cfg)
    source: Arrays | Stream | None = None
    val: Arrays | Stream | None = None
    state: TrainingState | None = None
    try:  # worker processes and threads of streamed input end if fit fails before its loop
        if is_stream(x):
            if validation_split:
                raise ConfigError(f"fit(validation_split=) needs arrays; x is a {type(x).__name__}: pass "
                                  f"validation_data instead")
            source = stream_for(model, x, y, sample_weight, class_weight, steps_per_epoch, shuffle, seed, need_y,
                                "fit")
            sample = source.first()
        else:
            if steps_per_epoch is not None:
                raise ConfigError("fit(steps_per_epoch=) applies to generators, PyDatasets and tf.data datasets; "
                                  "with arrays, their size and batch_size set the steps")
            _built_for(model, x, "fit")
            data = prepare(model, x, y, sample_weight, class_weight, need_y=need_y)
            if data.n == 0:
                raise FeedError(f"fit() of model '{model.name}' got no samples")
            source = sample = data
        if validation_data is not None:
            val = _validation_source(model, validation_data, validation_steps, need_y, seed)
        elif validation_split:
            source, val = split_validation(source, validation_split)
            sample = source
        eng = engine_for(model, cfg, sample)
        if isinstance(val, Arrays):
            check_values(eng, val)  # ids and sparse labels in range, as engine_for checked the training data
        if isinstance(source, Arrays) and (eng.strategy is not None or nbytes(source) > device_budget()):
            source = ArrayStream(model, source, batch_size, shuffle, seed, "fit")
        if isinstance(val, Arrays) and (eng.strategy is not None or nbytes(val) > device_budget()):
            val = ArrayStream(model, val, _batch_size(validation_batch_size or batch_size, "fit"), False, seed, "fit")
        on_device = isinstance(source, Arrays)
        tensors = device_arrays(source) if on_device else None
        val_tensors = device_arrays(val) if isinstance(val, Arrays) else None
        steps = -(-source.n // batch_size) if on_device else source.steps
        if steps is None and isinstance(source, IteratorStream):
            steps = source.in_graph_steps()  # a dataset of known cardinality
        params = {"epochs": epochs, "steps": steps, "verbose": verbose, "mode": "fit",
                  "batch_size": batch_size, "samples": source.n if on_device else None}
        cbs, history, progbar = _callback_list(callbacks, model, verbose, params, history=True)
        state = TrainingState(eng, seed, "device" if on_device else "stream")
        model.history = history
        model.stop_training = False
        model.training_state = state
        train_fn = eng.train_function()
        watched = cbs.has_batch_hooks("on_train_batch_begin") or any(
            cb is not progbar for cb in cbs._batch_hooks["on_train_batch_end"])
        live.register(state)  # any layer's weight read syncs, any weight write is pushed (kir.ir.live)
        cbs.on_train_begin({})
        first, skip = initial_epoch, 0
        if state.resume is not None:
            first, skip = state.resume
            seed = state.seed
            if not on_device:
                source.seed = seed
        epoch = first
    except BaseException:
        live.unregister(state)
        _close(source, val)
        raise
    try:
        for epoch in range(first, epochs):
            state.epoch, state.step = epoch, skip
            if not skip:
                eng.reset()
            cbs.on_epoch_begin(epoch, {})
            if on_device:
                order = epoch_order(seed, epoch, source.n) if shuffle else None
                if watched or skip:
                    _run_steps(eng, train_fn, tensors, source.n, batch_size, order, cbs, progbar, "on_train_batch",
                               model, skip, state)
                else:
                    _run_train_chunks(eng, tensors, source.n, batch_size, order, progbar, model, state)
                    state.stale = True
            else:
                in_graph = None
                if not watched and not skip and eng.strategy is None and isinstance(source, IteratorStream):
                    in_graph = source.in_graph_steps(xla=eng.cfg.jit_compile)
                if in_graph:
                    _run_iterator_chunks(eng, source, in_graph, progbar, model, state)
                else:
                    _drive(eng, _stream_calls(eng, source, epoch, skip, True), steps, skip, cbs, progbar,
                           "on_train_batch", model, state)
                source.end_epoch()
            skip = 0
            logs = eng.logs()
            if val is not None and (epoch + 1) % max(1, validation_freq) == 0:
                state.push()
                logs.update(_evaluate_source(model, eng, val, val_tensors,
                                             _batch_size(validation_batch_size or batch_size, "fit"),
                                             cbs, None, prefix="val_"))
            state.flush()
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training or (not on_device and getattr(source, "exhausted", False)):
                break
    except KeyboardInterrupt:
        state.stale = True
        state.flush()
        sys.stderr.write(f"\nkir: training interrupted during epoch {epoch + 1}; the model keeps the weights "
                         f"of the last completed step.\n")
        cbs.on_train_end({})
        return history
    finally:
        live.unregister(state)
        _close(source, val)
    state.stale = True
    state.flush()
    cbs.on_train_end({})
    return history


def _close(*sources: Any) -> None:
    """Release the worker threads/processes of streamed sources."""
    for source in sources:
        if isinstance(source, Stream):
            source.close()


def _steps(value: Any, what: str) -> int | None:
    return None if value is None else check_positive_int(value, what, ConfigError)


def _validation_source(model: TrainableModel, validation_data: Any, steps: int | None, need_y: bool,
                       seed: int) -> Arrays | Stream:
    if is_stream(validation_data):
        val = stream_for(model, validation_data, None, None, None, steps, False, seed, need_y, "fit")
        val.first()
        return val
    return unpack_validation(model, validation_data, need_y=need_y)


def _evaluate_source(model: TrainableModel, eng: Engine, data: Arrays | Stream, tensors, batch_size: int, cbs,
                     progbar, prefix: str = "") -> dict[str, float]:
    saved = eng.acc.numpy()
    eng.reset()
    cbs.on_test_begin({})
    watched = cbs.has_batch_hooks("on_test_batch_begin") or any(
        cb is not progbar for cb in cbs._batch_hooks["on_test_batch_end"])
    in_graph = None
    if not watched and eng.strategy is None and isinstance(data, IteratorStream) and IN_GRAPH_EVALUATE:
        in_graph = data.in_graph_steps(xla=eng.cfg.jit_compile)
    if isinstance(data, Arrays):
        _run_steps(eng, eng.test_function(), tensors, data.n, batch_size, None, cbs, progbar, "on_test_batch", None)
    elif in_graph:
        _run_test_iterator(eng, data, in_graph, progbar)
        data.end_epoch()
    else:
        _drive(eng, _stream_calls(eng, data, 0, 0, False), data.steps, 0, cbs, progbar, "on_test_batch", None, None)
        data.end_epoch()
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
    steps = _steps(steps, "evaluate: steps")
    cfg = require_compiled(model, "evaluate")
    batch_size = _batch_size(batch_size, "evaluate")
    verbose = _verbose(verbose)
    if is_stream(x):
        source: Arrays | Stream = stream_for(model, x, y, sample_weight, None, steps, False, 0, _needs_y(cfg),
                                             "evaluate")
        sample = source.first()
    else:
        _built_for(model, x, "evaluate")
        source = sample = prepare(model, x, y, sample_weight, need_y=_needs_y(cfg))
    try:
        eng = engine_for(model, cfg, sample)
        if isinstance(source, Arrays) and (eng.strategy is not None or nbytes(source) > device_budget()):
            source = ArrayStream(model, source, batch_size, False, 0, "evaluate")
        on_device = isinstance(source, Arrays)
        count = source.steps if not on_device else -(-source.n // batch_size)
        if count is None and isinstance(source, IteratorStream):
            count = source.in_graph_steps()  # a dataset of known cardinality
        params = {"steps": count, "verbose": verbose, "mode": "evaluate"}
        cbs, _, progbar = _callback_list(callbacks, model, verbose, params)
        logs = _evaluate_source(model, eng, source, device_arrays(source) if on_device else None, batch_size, cbs,
                                progbar)
    finally:
        _close(source)
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
    _one_batch(eng, data, training=True)
    eng.write_back()
    return _results(eng, eng.logs(), return_dict)


def test_on_batch(model: TrainableModel, x: Any, y: Any = None, sample_weight: Any = None,
                  return_dict: bool = False) -> Any:
    """Loss (and metrics) of this batch in inference mode."""
    cfg = _built_for(model, x, "test_on_batch")
    data = prepare(model, x, y, sample_weight, need_y=_needs_y(cfg))
    eng = engine_for(model, cfg, data)
    eng.reset()
    _one_batch(eng, data, training=False)
    return _results(eng, eng.logs(), return_dict)


def _one_batch(eng: Engine, data: Arrays, training: bool) -> None:
    """train_on_batch / test_on_batch: the whole of `data` as one (global) batch."""
    if eng.strategy is not None:
        eng.batch_function(training)(*distribute_batch(eng.strategy, *device_arrays(data)))
        return
    fn = eng.train_function() if training else eng.test_function()
    fn(*device_arrays(data), tf.range(data.n, dtype=tf.int32))
