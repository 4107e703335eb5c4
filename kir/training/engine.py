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
from kir.backends.feeds import check_ids
from kir.backends.tensorflow.program import Program
from kir.errors import ConfigError, FeedError, ShapeError
from kir.training.compile import CompileConfig
from kir.training.data import Arrays, check_sparse_labels
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
        self.strategy = cfg.strategy
        with strategy_scope(self.strategy):
            # summed across replicas: every replica adds the statistics of its part of the batch
            self.acc = tf.Variable(tf.zeros([self.size], "float64"), trainable=False, name="log_accumulator",
                                   aggregation=tf.VariableAggregation.SUM)
        self._batch_fns: dict[str, Any] = {}
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
            # Keras' categorical crossentropy needs y of the output's shape; other losses broadcast a 1
            one_ok = not getattr(lo, "name", "").startswith("categorical_")
            if len(ys) == len(yp) and ys[-1] != yp[-1] and (ys[-1] != 1 or not one_ok) and yp[-1] not in (None, 1):
                raise ShapeError(
                    f"target for output '{self.cfg.output_names[i]}' has shape (n, {', '.join(map(str, ys[1:]))}) "
                    f"but the output is {tuple(yp)}; for integer class labels use "
                    f"loss='sparse_categorical_crossentropy' or one-hot encode them with kir.utils.to_categorical"
                )
            if len(ys) == len(yp) - 1 and len(ys) >= 1 and yp[-1] not in (None, 1):
                raise ShapeError(
                    f"target for output '{self.cfg.output_names[i]}' has shape (n{', ' if len(ys) > 1 else ','}"
                    f"{', '.join(map(str, ys[1:]))}) but the output is {tuple(yp)}: y needs the output's rank; "
                    f"reshape y to (n, ..., {yp[-1]}) or, for integer class labels, use a sparse_* loss"
                )

    # ------------------------------------------------------------------ traced pieces
    def _losses_and_stats(self, ys, outs, sws, batch: Any):
        cfg = self.cfg
        total = tf.constant(0.0, "float32")
        per_loss = []
        for i, loss in enumerate(cfg.losses):
            if loss is None:
                continue
            value = tf.cast(loss(ys[i], outs[i], self._masked_weight(i, outs, sws[i], "sum_over_batch_size", loss)),
                            "float32")
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
                parts = m.batch_state(ys[i], outs[i], self._masked_weight(i, outs, sws[i] if weighted else None, "sum"))
                vals.extend(tf.reshape(tf.cast(p, "float64"), [-1]) for p in parts)
        return total, tf.concat(vals, 0)

    def _masked_weight(self, i: int, outs, sample_weight, reduction: str, loss: Any = None):
        """Keras 3's `apply_mask`: output i's mask (if it carries one) folded into its sample weights.
        For a mean reduction a real step weighs total/valid (so the loss is the mean over real
        steps), for a sum 1; masked steps weigh 0."""
        masks = self.extra.masks
        if i >= len(masks) or masks[i] is None:
            return sample_weight
        mask = outs[masks[i]]
        reduction = getattr(loss, "reduction", reduction)
        if reduction in ("mean", "sum_over_batch_size"):
            total = tf.cast(tf.size(mask), "float32")
            valid = tf.reduce_sum(tf.cast(mask, "float32"))
            weight = tf.where(mask, tf.math.divide_no_nan(total, valid), 0.0)
        else:
            weight = tf.cast(mask, "float32")
        if sample_weight is None:
            return weight
        sample_weight = tf.cast(sample_weight, "float32")
        while len(sample_weight.shape) < len(weight.shape):
            sample_weight = sample_weight[..., tf.newaxis]
        return sample_weight * weight

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
        return self._train_batch(self._gather(xs, idx), self._gather(ys, idx), self._gather(sws, idx))

    def _train_batch(self, xb, yb, wb):
        """One optimizer step on a batch. Under a tf.distribute strategy this runs per replica: the
        loss is scaled to (sum over the replica's samples) / (global batch), as Keras does, and the
        gradients are summed across replicas before every replica applies the same update."""
        prog = self.prog
        variables = prog.trainable_variables
        batch = tf.shape(xb[0])[0]
        replica = tf.distribute.get_replica_context() if self.strategy is not None else None
        with tf.GradientTape() as tape:
            outs = self._forward(xb, training=True)
            total, stats = self._losses_and_stats(yb, outs, wb, batch)
            scaled = total
            if replica is not None:
                local = tf.cast(batch, "float32")
                scaled = total * (local / replica.all_reduce(tf.distribute.ReduceOp.SUM, local))
            scale_loss = getattr(self.cfg.optimizer, "scale_loss", None)
            if scale_loss is not None:  # LossScaleOptimizer (mixed_float16): apply() unscales and checks
                scaled = scale_loss(scaled)
        grads = tape.gradient(scaled, variables)
        # An Embedding's gradient stays a tf.IndexedSlices: Keras' optimizers square/abs its
        # slices before summing repeated rows (kir.optimizers.sparse), so densifying here drifts.
        if replica is not None:
            grads = replica.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        self._apply(grads, variables)
        prog.step_seed.assign_add(1)
        self.acc.assign_add(stats)
        return total

    def _apply(self, grads, variables) -> None:
        """The optimizer step; it also projects the constrained variables (Keras 3's optimizer
        assigns `variable.constraint(variable)` inside `apply`), so a step that a
        LossScaleOptimizer skips or a variable without a gradient is not projected, as in Keras."""
        self.cfg.optimizer.apply(grads, variables, self._constraints(variables))

    def _constraints(self, variables) -> list | None:
        """One constraint (or None) per trainable variable, from `ExtraLosses.constraints`."""
        if not self.extra.constraints:
            return None
        by_ref = {self.prog.variables[key].ref(): c for key, c in self.extra.constraints}
        return [by_ref.get(v.ref()) for v in variables]

    def _forward(self, xb, training: bool):
        """The outputs, computed in the compile policy's compute dtype and cast to float32 for the
        losses and metrics (Keras computes losses in float32 under a mixed policy)."""
        compute = getattr(self.cfg.policy, "compute_dtype", "float32")
        outs = self.prog.forward(xb, training=training, compute_dtype=compute)
        if compute == "float32":
            return outs
        return [tf.cast(o, "float32") if o.dtype.is_floating and o.dtype != tf.float32 else o for o in outs]

    def batch_function(self, training: bool):
        """A traced step over a batch given as tensors (streamed input: generators, tf.data, ...);
        under a strategy, a function of per-replica values run with `strategy.run`."""
        key = "train" if training else "test"
        fn = self._batch_fns.get(key)
        if fn is None:
            if training:
                self.build_optimizer()
            step = self._train_batch if training else self._test_batch
            if self.strategy is not None:
                strategy = self.strategy

                def step_fn(xb, yb, wb, _step=step):
                    return strategy.run(_step, args=(xb, yb, wb))
            else:
                step_fn = step
            fn = tf.function(step_fn, jit_compile=self._jit and self.strategy is None, reduce_retracing=True,
                             autograph=False)
            self._batch_fns[key] = fn
        return fn

    def _test_batch(self, xb, yb, wb):
        outs = self._forward(xb, training=False)
        _, stats = self._losses_and_stats(yb, outs, wb, tf.shape(xb[0])[0])
        self.acc.assign_add(stats)
        return stats[0]

    def train_function(self):
        """One optimizer step on the batch `idx` of the device-resident data."""
        if self._train_fn is None:
            self.build_optimizer()
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
            self.build_optimizer()

            def chunk(xs, ys, sws, idx):
                total = None
                for i in range(k):
                    total = self._train_step(xs, ys, sws, idx[i])
                return total

            fn = tf.function(chunk, jit_compile=self._jit, reduce_retracing=True, autograph=False)
            self._chunk_fns[k] = fn
        return fn

    def iterator_function_for(self, k: int, to_lists: Any, training: bool = True):
        """`k` optimizer steps (test steps with `training=False`: evaluate, validation) in one call,
        each on the next element of a tf.data iterator read inside the traced function
        (`to_lists(element, i)` maps step i's element to model-ordered lists, checked in-graph), so
        streamed datasets skip the per-step Python round trip as the device path does; one trace
        per (k, mode)."""
        key = ("iterator" if training else "test-iterator", k)
        fn = self._chunk_fns.get(key)
        if fn is None:
            if training:
                self.build_optimizer()
            step = self._train_batch if training else self._test_batch

            def chunk(iterator):
                total = None
                for i in range(k):
                    total = step(*to_lists(next(iterator), i))
                return total

            fn = tf.function(chunk, jit_compile=self._jit, reduce_retracing=True, autograph=False)
            self._chunk_fns[key] = fn
        return fn

    def test_function(self):
        if self._test_fn is None:
            def step(xs, ys, sws, idx):
                return self._test_batch(self._gather(xs, idx), self._gather(ys, idx), self._gather(sws, idx))

            self._test_fn = tf.function(step, jit_compile=self._jit, reduce_retracing=True, autograph=False)
        return self._test_fn

    def build_optimizer(self) -> None:
        """The optimizer's slots, created (once) under the strategy like the model's variables."""
        with strategy_scope(self.strategy):
            self.cfg.optimizer.build(self.prog.trainable_variables)

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
    if cfg.strategy is None:
        prog = backends.get("tensorflow").program(graph)
    else:
        prog = _distributed_program(cfg, graph)
    y_shapes = None if data.y is None else [tuple(a.shape) for a in data.y]
    key = ("engine", None if y_shapes is None else tuple((len(s), s[-1] if s else None) for s in y_shapes),
           tuple(w is not None for w in data.sw), extra)
    eng = prog.cache.get(key)
    if eng is None or eng.cfg is not cfg:
        eng = Engine(model, prog, cfg, y_shapes, extra)
        prog.cache[key] = eng
    eng.store = graph.store
    check_values(eng, data)
    return eng


def check_values(eng: Engine, data: Arrays) -> None:
    """Token ids and sparse class labels in range, or a FeedError naming the input or output
    (TensorFlow would fail deep inside a step with a raw InvalidArgumentError)."""
    from kir.backends.tensorflow import id_bounds

    check_ids(id_bounds(eng.prog), data.x, eng.model.name)
    if data.y is not None:
        outputs = [eng.prog.graph.spec(r) for r in eng.prog.graph.outputs]
        check_sparse_labels(eng.cfg.losses, outputs, data.y, eng.cfg.output_names, eng.model.name)


def _first_replica(next_creator, **kwargs):
    """Variables made under a strategy for kir's programs: every replica applies the same update
    (gradients are all-reduced first), so any replica's value is the value."""
    if kwargs.get("aggregation") in (None, tf.VariableAggregation.NONE):
        kwargs["aggregation"] = tf.VariableAggregation.ONLY_FIRST_REPLICA
    return next_creator(**kwargs)


class strategy_scope:
    """`strategy.scope()` plus kir's variable aggregation, or nothing without a strategy."""

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy
        self._scopes: list = []

    def __enter__(self) -> None:
        if self.strategy is not None:
            self._scopes = [self.strategy.scope(), tf.variable_creator_scope(_first_replica)]
            for scope in self._scopes:
                scope.__enter__()

    def __exit__(self, *exc: Any) -> None:
        for scope in reversed(self._scopes):
            scope.__exit__(*exc)
        self._scopes = []


def _distributed_program(cfg: CompileConfig, graph: Any) -> Program:
    """A program whose variables are mirrored by the compile's strategy: one per graph structure and
    trainable set, kept with the compile config (the backend's cache holds single-device ones)."""
    key = (graph.structure_key(), graph.store.trainable_keys(), frozenset(graph.attrs.get("frozen_layers", ())))
    prog = cfg.programs.get(key)
    if prog is None:
        with strategy_scope(cfg.strategy):
            prog = Program(graph)
        cfg.programs[key] = prog
    else:
        prog.sync(graph.store)
    return prog
