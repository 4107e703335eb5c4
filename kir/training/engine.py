"""The training engine: traced train/test/predict steps over a model's TensorFlow program.

Whole data sets live on the device as tensors; each step gathers its batch by index inside
the traced function, so a step costs one function call. Losses and metrics accumulate in a
device-side vector that is read only when someone looks (progress bar, callbacks, epoch end),
so the host rarely waits on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from kir import backends
from kir import metrics as metrics_module
from kir.backends.tensorflow.program import Program
from kir.errors import ConfigError, FeedError, ShapeError
from kir.training.compile import CompileConfig
from kir.training.data import Arrays
from kir.training.protocol import ExtraLosses


@dataclass
class Stat:
    """One logged value read from the accumulator: a mean (sum at `total` / sum at `count`), or with
    `metric`, that metric's result from its `size` slots starting at `total`."""

    name: str
    total: int
    count: int = -1
    size: int = 0
    metric: Any = None

    def value(self, values: np.ndarray) -> Any:
        if self.metric is not None:
            return self.metric.result_from(values[self.total:self.total + self.size])
        count = values[self.count]
        return float(values[self.total] / count) if count else 0.0


class Engine:
    """Traced steps and the accumulator for one (program, compile config, label shapes)."""

    def __init__(self, model: Any, prog: Program, cfg: CompileConfig, y_shapes: list[tuple] | None,
                 extra: ExtraLosses | None = None) -> None:
        self.model, self.prog, self.cfg = model, prog, cfg
        self.store = prog.graph.store
        """The store of the graph being trained: trained values go back through it."""
        names = cfg.output_names
        self.extra = extra if extra is not None else ExtraLosses(len(prog.graph.outputs))
        out_specs = [prog.graph.spec(r) for r in prog.graph.outputs[:self.extra.outputs]]
        if all(lo is None for lo in cfg.losses) and not self.extra:
            raise ConfigError(f"model '{model.name}' has no loss to train on: compile() got no loss and the model "
                              f"has no add_loss() or regularization losses; pass compile(loss=...)")
        if y_shapes is None and any(cfg.metrics[i] or cfg.weighted_metrics[i] for i in range(len(names))):
            raise FeedError(f"model '{model.name}' was compiled with metrics, which need targets y; pass y to "
                            f"fit/evaluate or compile without metrics")
        self.metrics: list[list[metrics_module.Metric]] = []
        self.weighted: list[list[metrics_module.Metric]] = []
        for i, spec in enumerate(out_specs):
            ys = None if y_shapes is None else y_shapes[i]
            self.metrics.append([metrics_module.get(m, ys, spec.shape) for m in cfg.metrics[i]])
            self.weighted.append([metrics_module.get(m, ys, spec.shape) for m in cfg.weighted_metrics[i]])
        if y_shapes is not None:
            self._check_targets(y_shapes, out_specs)
        # accumulator layout: [loss total, sample count, per-output loss totals..., metric slots...]
        self.stats: list[Stat] = [Stat("loss", 0, 1)]
        slot = 2
        with_loss = [i for i, lo in enumerate(cfg.losses) if lo is not None]
        self.per_output_loss = len(with_loss) > 1
        if self.per_output_loss:
            for i in with_loss:
                self.stats.append(Stat(f"{names[i]}_loss", slot, 1))
                slot += 1
        multi = len(names) > 1
        for i in range(len(names)):
            for m in self.metrics[i] + self.weighted[i]:
                size = m.state_size()
                self.stats.append(Stat(f"{names[i]}_{m.name}" if multi else m.name, slot, size=size, metric=m))
                slot += size
        self.size = slot
        self.acc = tf.Variable(tf.zeros([self.size], "float64"), trainable=False, name="log_accumulator")
        self._train_fn = None
        self._chunk_fns: dict[int, Any] = {}
        self._test_fn = None
        self._jit = cfg.jit_compile

    def _check_targets(self, y_shapes: list[tuple], out_specs: list) -> None:
        for i, (ys, spec) in enumerate(zip(y_shapes, out_specs)):
            lo = self.cfg.losses[i]
            if lo is None or "sparse" in getattr(lo, "name", ""):
                continue
            yp = spec.shape
            if len(ys) == len(yp) and ys[-1] != yp[-1] and ys[-1] != 1 and yp[-1] not in (None, 1):
                raise ShapeError(
                    f"target for output '{self.cfg.output_names[i]}' has shape (n, {', '.join(map(str, ys[1:]))}) "
                    f"but the output is {tuple(yp)}; for integer class labels use "
                    f"loss='sparse_categorical_crossentropy' or one-hot encode them with kir.utils.to_categorical"
                )

    # ------------------------------------------------------------------ traced pieces
    def _losses_and_stats(self, ys, outs, sws, batch: Any):
        cfg = self.cfg
        total = tf.constant(0.0, "float32")
        per_loss = []
        for i, loss in enumerate(cfg.losses):
            if loss is None:
                continue
            value = tf.cast(loss(ys[i], outs[i], sws[i]), "float32")
            per_loss.append(value)
            total = total + value * cfg.loss_weights[i]
        if self.extra:
            total = total + self._penalties(outs)
        b = tf.cast(batch, "float64")
        vals = [tf.cast(total, "float64") * b, b]
        if self.per_output_loss:
            vals.extend(tf.cast(v, "float64") * b for v in per_loss)
        vals = [tf.reshape(v, [1]) for v in vals]
        for i in range(len(cfg.output_names)):
            for m, weighted in [(m, False) for m in self.metrics[i]] + [(m, True) for m in self.weighted[i]]:
                parts = m.batch_state(ys[i], outs[i], sws[i] if weighted else None)
                vals.extend(tf.reshape(tf.cast(p, "float64"), [-1]) for p in parts)
        return total, tf.concat(vals, 0)

    def _penalties(self, outs):
        """Keras' `model.losses` for this step: weight regularizers on the variables, activity
        regularizers on layer outputs (divided by the batch size) and add_loss tensors (summed)."""
        extra, variables = self.extra, self.prog.variables
        terms = [tf.cast(reg(variables[key]), "float32") for key, reg in extra.weights]
        for index, reg in extra.activity:
            out = outs[index]
            value = tf.cast(reg(out), "float32")
            if out.shape.rank:
                value = tf.math.divide_no_nan(value, tf.cast(tf.shape(out)[0], "float32"))
            terms.append(value)
        terms.extend(tf.reduce_sum(tf.cast(outs[index], "float32")) for index in extra.added)
        return tf.add_n(terms)

    def _gather(self, arrays, idx):
        return [None if a is None else tf.gather(a, idx) for a in arrays]

    def _train_step(self, xs, ys, sws, idx):
        prog, opt = self.prog, self.cfg.optimizer
        variables = prog.trainable_variables
        xb, yb, wb = self._gather(xs, idx), self._gather(ys, idx), self._gather(sws, idx)
        with tf.GradientTape() as tape:
            outs = prog.forward(xb, training=True)
            total, stats = self._losses_and_stats(yb, outs, wb, tf.shape(idx)[0])
        grads = tape.gradient(total, variables)
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        opt.apply(grads, variables)
        prog.step_seed.assign_add(1)
        self.acc.assign_add(stats)
        return total

    def train_function(self):
        """One optimizer step on the batch `idx` of the device-resident data."""
        if self._train_fn is None:
            self.cfg.optimizer.build(self.prog.trainable_variables)
            self._train_fn = tf.function(self._train_step, jit_compile=self._jit, reduce_retracing=True,
                                         autograph=False)
        return self._train_fn

    def chunk_function_for(self, k: int):
        """`k` optimizer steps in one call, unrolled: row i of `idx` (k, batch) is step i's batch.

        Several steps per call remove the per-step Python and dispatch cost. The steps are
        unrolled rather than put in a while loop because TensorFlow's graph optimizer (conv +
        bias + activation fusion and friends) does not reach into loop bodies; one trace per k.
        """
        fn = self._chunk_fns.get(k)
        if fn is None:
            self.cfg.optimizer.build(self.prog.trainable_variables)

            def chunk(xs, ys, sws, idx):
                total = None
                for i in range(k):
                    total = self._train_step(xs, ys, sws, idx[i])
                return total

            fn = tf.function(chunk, jit_compile=self._jit, reduce_retracing=True, autograph=False)
            self._chunk_fns[k] = fn
        return fn

    def test_function(self):
        if self._test_fn is None:
            prog = self.prog

            def step(xs, ys, sws, idx):
                xb, yb, wb = self._gather(xs, idx), self._gather(ys, idx), self._gather(sws, idx)
                outs = prog.forward(xb, training=False)
                _, stats = self._losses_and_stats(yb, outs, wb, tf.shape(idx)[0])
                self.acc.assign_add(stats)
                return stats[0]

            self._test_fn = tf.function(step, jit_compile=self._jit, reduce_retracing=True, autograph=False)
        return self._test_fn

    def write_back(self) -> None:
        """Hand the trained values to the model's layers (through the graph's store)."""
        self.prog.write_back(self.store)

    # ------------------------------------------------------------------ logs
    def reset(self) -> None:
        self.acc.assign(tf.zeros([self.size], "float64"))

    def logs(self, prefix: str = "") -> dict[str, Any]:
        """Loss and metric values so far: floats (a metric with several thresholds: an array)."""
        values = self.acc.numpy()
        return dict(sorted((prefix + s.name, s.value(values)) for s in self.stats))

    def result_list(self, logs: dict[str, float]) -> list[float]:
        """Keras' evaluate order: loss, per-output losses, then metrics."""
        return [logs[s.name] for s in self.stats]


def device_arrays(data: Arrays) -> tuple[list, list, list]:
    """The data set as device tensors (sample weights None where absent)."""
    xs = [tf.convert_to_tensor(a) for a in data.x]
    ys = [tf.convert_to_tensor(a) for a in data.y] if data.y is not None else []
    sws = [None if w is None else tf.convert_to_tensor(w) for w in data.sw]
    return xs, ys, sws


def training_graph(model: Any) -> tuple[Any, ExtraLosses]:
    """The graph training runs for `model` and the penalties it adds (none for a model that has no
    regularizers or add_loss; such a model trains its own graph, shared with predict)."""
    make = getattr(model, "training_graph", None)
    if make is not None:
        return make()
    graph = model.to_graph()
    return graph, ExtraLosses(len(graph.outputs))


def engine_for(model: Any, cfg: CompileConfig, data: Arrays) -> Engine:
    """The engine for this compile and these label shapes over the model's current graph: the
    TensorFlow backend keeps one program per graph structure and trainable set (so freezing a
    layer and compiling again trains without it, as in Keras 3), the program one engine."""
    graph, extra = training_graph(model)
    prog = backends.get("tensorflow").program(graph)
    y_shapes = None if data.y is None else [tuple(a.shape) for a in data.y]
    key = ("engine", None if y_shapes is None else tuple((len(s), s[-1] if s else None) for s in y_shapes),
           tuple(w is not None for w in data.sw), extra)
    eng = prog.cache.get(key)
    if eng is None or eng.cfg is not cfg:
        eng = Engine(model, prog, cfg, y_shapes, extra)
        prog.cache[key] = eng
    eng.store = graph.store
    return eng
