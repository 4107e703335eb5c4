"""Streamed input for fit/evaluate/predict: Python generators, PyDataset-style objects, tf.data
datasets, and numpy arrays too large to put on the device.

Arrays that fit the device budget keep the fast path (the whole set on the device, batches
gathered inside the traced step). Everything else is a `Stream`: batches come from the host, one
traced call per batch, so memory holds one batch at a time (a memory-mapped array is read a batch
at a time). The shuffle order of an epoch is a function of (fit seed, epoch), so a resumed run
(BackupAndRestore) and a streamed run see the same order as an uninterrupted array run.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from kir.backends.feeds import check_feeds, check_ids, order_feeds
from kir.errors import ConfigError, FeedError
from kir.ir.spec import format_shape
from kir.training.data import Arrays, check_finite_data, check_sparse_labels
from kir.training.data import _class_weights as class_weights

if TYPE_CHECKING:
    from kir.training.protocol import TrainableModel

DEVICE_BUDGET_BYTES: int | None = None
"""Arrays larger than this (inputs + targets + weights) stream from the host instead of being put on
the device whole. None: the environment variable KIR_DEVICE_BUDGET_BYTES, else 2 GiB."""


def device_budget() -> int:
    if DEVICE_BUDGET_BYTES is not None:
        return int(DEVICE_BUDGET_BYTES)
    return int(os.environ.get("KIR_DEVICE_BUDGET_BYTES", 2 << 30))


def nbytes(data: Arrays) -> int:
    arrays = list(data.x) + list(data.y or []) + [w for w in data.sw if w is not None]
    return sum(int(a.nbytes) for a in arrays)


def is_tf_dataset(x: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, tf.data.Dataset)


def is_py_dataset(x: Any) -> bool:
    """Keras' PyDataset protocol: `__len__` (batches per epoch), `__getitem__(i)` (batch i), `on_epoch_end`."""
    return (not isinstance(x, (np.ndarray, list, tuple, dict, str)) and hasattr(x, "__getitem__")
            and hasattr(x, "__len__") and hasattr(x, "on_epoch_end"))


def is_stream(x: Any) -> bool:
    """Whether `x` is streamed input rather than arrays (a dict/list/array of arrays)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)):
        return False
    return is_tf_dataset(x) or is_py_dataset(x) or hasattr(x, "__next__") or (
        hasattr(x, "__iter__") and not hasattr(x, "shape") and not hasattr(x, "__array__"))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffle order of `epoch`: a function of the fit seed and the epoch only (resumable)."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)


def fit_seed() -> int:
    """The seed of one fit's shuffle orders, drawn from numpy's global generator, so that
    `kir.utils.set_random_seed` (which seeds it) makes the orders reproducible."""
    return int(np.random.randint(0, 2**31 - 1))


def unpack(element: Any) -> tuple[Any, Any, Any]:
    """Keras' `unpack_x_y_sample_weight`: (x,), (x, y), (x, y, sample_weight), or x alone."""
    if isinstance(element, list):
        element = tuple(element)
    if isinstance(element, tuple):
        if len(element) == 1:
            return element[0], None, None
        if len(element) == 2:
            return element[0], element[1], None
        if len(element) == 3:
            return element
        raise FeedError(f"a streamed batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of "
                        f"{len(element)} items")
    return element, None, None


def _per_output_weights(model: TrainableModel, sw: Any) -> list[Any]:
    names = model.output_names
    if sw is None:
        return [None] * len(names)
    if isinstance(sw, dict):
        return order_feeds("output", names, {n: sw.get(n) for n in names}, model.name)
    if isinstance(sw, (list, tuple)) and len(names) > 1:
        return order_feeds("output", names, sw, model.name)
    return [sw] * len(names)


class Stream:
    """One streamed data set: batches as (inputs, targets or None, weights) in model order."""

    steps: int | None = None
    """Batches per epoch when known (`steps_per_epoch`, `len(PyDataset)`), else None (until exhausted)."""

    def __init__(self, model: TrainableModel, need_y: bool, class_weight: dict | None, what: str) -> None:
        self.model, self.need_y, self.class_weight, self.what = model, need_y, class_weight, what
        self._peeked: Any = None
        self.sample: Arrays | None = None
        self._value_rules: tuple[list, Any] | None = None

    # ------------------------------------------------------------------ to implement
    def _elements(self, epoch: int) -> Iterator[Any]:
        raise NotImplementedError

    def end_epoch(self) -> None:
        """Called after each epoch (a PyDataset's `on_epoch_end`)."""

    def close(self) -> None:
        """Releases worker threads."""

    # ------------------------------------------------------------------ batches
    def first(self) -> Arrays:
        """The first batch as checked numpy arrays (its shapes size the engine; kept for the first step)."""
        if self.sample is None:
            try:
                it = self._elements(0)
                try:
                    element = next(it)
                except StopIteration:
                    raise FeedError(f"{self.what}() of model '{self.model.name}': the data yielded no batch") from None
                self._peeked = (it, element)
                self.sample_element = element
                self.sample = self._check(element)
                self._rules()
            except BaseException:
                self.close()  # a bad first batch: no worker outlives the error
                raise
        return self.sample

    def _check(self, element: Any, i: int = 0) -> Arrays:
        model = self.model
        x, y, sw = unpack(element)
        x = _numpy(x)
        build = getattr(model, "_ensure_built_for", None)
        if build is not None:
            build(x)
        xs = check_feeds(model.input_names, [t.spec for t in model.inputs], x, model.name,
                         of=f"model '{model.name}' (batch {i} of the {self.what}() data)")
        n = xs[0].shape[0] if xs else 0
        ys = None
        if y is not None:
            ys = [np.asarray(a, dtype="float32") for a in order_feeds("output", model.output_names, _numpy(y),
                                                                      model.name)]
        elif self.need_y:
            raise FeedError(f"model '{model.name}': the {self.what}() data yields batches without targets y for "
                            f"outputs {', '.join(model.output_names)}; yield (x, y) tuples")
        sws = [None if w is None else np.asarray(w, dtype="float32") for w in _per_output_weights(model, _numpy(sw))]
        if self.class_weight is not None and ys is not None:
            sws = [np.asarray(w, "float32") if w is not None else w for w in sws]
            cw = class_weights(model, ys, self.class_weight)
            sws = [cw if w is None else w * cw for w in sws]
        return Arrays(xs, ys, sws, n)

    def _rules(self) -> tuple[list, Any]:
        """(Embedding id bounds per input, (losses, output specs) when a sparse_* loss needs integer
        labels in range, else None): what TensorFlow would refuse mid-step with a raw error."""
        if self._value_rules is None:
            from kir.backends.onnx.export import embedding_id_bounds
            from kir.training.compile import CompileConfig

            graph = self.model.to_graph()
            bounds = [(i, graph.vertex(graph.inputs[i]).name, n) for i, n in embedding_id_bounds(graph).items()]
            cfg = getattr(self.model, "compiled", None)
            sparse = None
            if isinstance(cfg, CompileConfig) and any(
                    getattr(loss, "name", "").startswith("sparse_") for loss in cfg.losses if loss is not None):
                sparse = (cfg.losses, [graph.spec(r) for r in graph.outputs], cfg.output_names)
            self._value_rules = (bounds, sparse)
        return self._value_rules

    def _check_values(self, i: int, xs: list, ys: list, sws: list, cast: bool) -> tuple[list, list, list]:
        """Every streamed batch gets the array path's checks on the host before it is fed: dtypes and
        integer wrap (`cast`: not yet done), NaN/inf, Embedding ids and sparse labels in range, so a
        bad batch is a FeedError naming it, never TensorFlow's raw InvalidArgumentError mid-epoch."""
        model = self.model
        where = f" (batch {i} of the {self.what}() data)"
        if cast:
            xs = check_feeds(model.input_names, [t.spec for t in model.inputs], _numpy(list(xs)), model.name,
                             of=f"model '{model.name}'{where}")
            ys = [np.asarray(_numpy(v), dtype="float32") for v in ys]
            sws = [None if w is None else np.asarray(_numpy(w), dtype="float32") for w in sws]
        check_finite_data(model, xs, ys, sws, where)
        bounds, sparse = self._rules()
        if bounds:
            check_ids(bounds, xs, model.name, of=f"model '{model.name}'{where}")
        if sparse is not None and ys:
            losses, outputs, names = sparse
            check_sparse_labels(losses, outputs, ys, names, model.name, where)
        return xs, ys, sws

    def batches(self, epoch: int, skip: int = 0) -> Iterator[tuple[list, list, list]]:
        """The epoch's batches as tensors (targets [] when absent), skipping the first `skip`."""
        import tensorflow as tf

        if self._peeked is not None:
            it, element = self._peeked
            self._peeked = None
            elements = _chain(element, it)
        else:
            elements = self._elements(epoch)
        mask = None if self.sample is None else [w is not None for w in self.sample.sw]
        for i, element in enumerate(elements):
            if i < skip:
                continue
            if self.class_weight is not None:
                arrays = self._check(element, i)
                xs, ys, sws = arrays.x, arrays.y or [], arrays.sw
            else:
                x, y, sw = unpack(element)
                xs = order_feeds("input", self.model.input_names, x, self.model.name)
                ys = [] if y is None else order_feeds("output", self.model.output_names, y, self.model.name)
                sws = _per_output_weights(self.model, sw)
            self._check_later(i, xs, ys, sws, mask)
            xs, ys, sws = self._check_values(i, xs, ys, sws, cast=self.class_weight is None)
            ys = [tf.cast(v, "float32") if getattr(v, "dtype", None) != tf.float32 else v for v in ys]
            if mask is not None:
                sws = [(None if not m else tf.cast(w, "float32")) for w, m in zip(sws, mask)]
            yield ([tf.convert_to_tensor(v) for v in xs], [tf.convert_to_tensor(v) for v in ys],
                   [None if w is None else tf.convert_to_tensor(w) for w in sws])


    def _check_later(self, i: int, xs: list, ys: list, sws: list, mask: list[bool] | None) -> None:
        """Batches after the first: shapes against the inputs and the first batch's structure, so a bad
        batch is a FeedError naming it rather than an error from inside the traced step (cheap: no data read)."""
        model = self.model
        where = f"(batch {i} of the {self.what}() data)"
        sizes = set()
        for t, inp, name in zip(xs, model.inputs, model.input_names):
            shape, spec = tuple(getattr(t, "shape", np.shape(t))), inp.spec
            if len(shape) != spec.rank or any(d is not None and d != a for d, a in zip(spec.shape[1:], shape[1:])):
                raise FeedError(f"input '{name}' of model '{model.name}' {where}: expected shape "
                                f"{format_shape(spec.shape)}, got {format_shape(shape)}")
            sizes.add(shape[0] if shape else None)
        for v in ys:
            shape = tuple(getattr(v, "shape", np.shape(v)))
            sizes.add(shape[0] if shape else None)
        sizes.discard(None)
        if len(sizes) > 1:
            raise FeedError(f"model '{model.name}' {where}: inputs and targets have different batch sizes "
                            f"{sorted(sizes)}; every array of a batch needs the same first dimension")
        if self.need_y and not ys:
            raise FeedError(f"model '{model.name}' {where}: the batch has no targets y; yield (x, y) tuples")
        if mask is not None and any(m and w is None for m, w in zip(mask, sws)):
            raise FeedError(f"model '{model.name}' {where}: the batch has no sample weights but the first batch "
                            f"had them; yield (x, y, sample_weight) for every batch")


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _numpy(value: Any) -> Any:
    """Tensors in a (nested) batch as numpy arrays, for checking the first batch."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_numpy(v) for v in value)
    return value.numpy() if hasattr(value, "numpy") else value


class ArrayStream(Stream):
    """Host arrays (a memory-mapped file, or any set over the device budget) read a batch at a time,
    in the same order the device path would use."""

    def __init__(self, model: TrainableModel, data: Arrays, batch_size: int, shuffle: bool, seed: int,
                 what: str) -> None:
        super().__init__(model, data.y is not None, None, what)
        self.data, self.batch_size, self.shuffle, self.seed = data, batch_size, shuffle, seed
        self.steps = -(-data.n // batch_size)
        self.sample = data.take(slice(0, min(batch_size, data.n)))

    def _elements(self, epoch: int) -> Iterator[Any]:
        d, b = self.data, self.batch_size
        order = epoch_order(self.seed, epoch, d.n) if self.shuffle else None
        for step in range(self.steps):
            if order is None:
                sel: Any = slice(step * b, (step + 1) * b)
            else:
                sel = order[step * b:(step + 1) * b]
            x = [a[sel] for a in d.x]
            y = None if d.y is None else [a[sel] for a in d.y]
            yield x, y, [None if w is None else w[sel] for w in d.sw]

    def batches(self, epoch: int, skip: int = 0) -> Iterator[tuple[list, list, list]]:
        import tensorflow as tf

        for i, (x, y, sw) in enumerate(self._elements(epoch)):
            if i >= skip:
                yield ([tf.convert_to_tensor(np.ascontiguousarray(a)) for a in x],
                       [] if y is None else [tf.convert_to_tensor(a) for a in y],
                       [None if w is None else tf.convert_to_tensor(w) for w in sw])


class BatchFetcher:
    """Fetches batches of a Keras-style PyDataset in order: in this process (`workers=1`), ahead by
    `workers` threads, or by worker processes with `use_multiprocessing=True` (kir.training.enqueuer,
    as Keras 3 does for fit, evaluate and predict). `close()` releases threads and processes."""

    def __init__(self, ds: Any, what: str) -> None:
        self.ds, self.what = ds, what
        self.workers = max(1, int(getattr(ds, "workers", 1) or 1))
        self.queue = max(1, int(getattr(ds, "max_queue_size", 10) or 10))
        self._enqueuer = None
        self._pool = None
        if getattr(ds, "use_multiprocessing", False):  # Keras: processes even for workers=1
            from kir.training.enqueuer import OrderedEnqueuer

            self._enqueuer = OrderedEnqueuer(ds, self.workers, self.queue, self._fetch_error)
        elif self.workers > 1:
            self._pool = ThreadPoolExecutor(self.workers)

    def _fetch_error(self, i: int, exc: BaseException) -> FeedError:
        """A failed `__getitem__(i)` as a FeedError naming the batch, keeping the original message."""
        where = " in a worker process" if self._enqueuer is not None else ""
        return FeedError(f"{self.what}(): {type(self.ds).__name__}.__getitem__({i}) failed{where} while fetching "
                         f"batch index {i}: {type(exc).__name__}: {exc}")

    def _get(self, i: int) -> Any:
        try:
            return self.ds[i]
        except Exception as exc:
            raise self._fetch_error(i, exc) from exc

    def elements(self, order: list[int]) -> Iterator[Any]:
        """Batches `order[0]`, `order[1]`, ... in that order."""
        if self._enqueuer is not None:
            yield from self._enqueuer.batches(order)
            return
        if self._pool is None:
            for i in order:
                yield self._get(i)
            return
        pending: list = []
        for i in order:
            pending.append((i, self._pool.submit(self._get, i)))
            if len(pending) >= self.queue:
                yield pending.pop(0)[1].result()
        for _, f in pending:
            yield f.result()

    def stop(self) -> None:
        """End the worker processes of this epoch (a cut-short epoch's too)."""
        if self._enqueuer is not None:
            self._enqueuer.stop()

    def close(self) -> None:
        self.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class PyDatasetStream(Stream):
    """A Keras-style PyDataset (`__len__`, `__getitem__`, `on_epoch_end`): batch order shuffled per
    epoch when fit's `shuffle` is True (Keras 3), batches fetched by a `BatchFetcher` (threads or
    worker processes as the dataset asks), in order either way."""

    def __init__(self, model: TrainableModel, ds: Any, shuffle: bool, seed: int, need_y: bool,
                 class_weight: dict | None, what: str, steps: int | None) -> None:
        super().__init__(model, need_y, class_weight, what)
        self.ds, self.shuffle, self.seed = ds, shuffle, seed
        self.length = py_dataset_length(ds, what)
        self.steps = self.length if steps is None else min(steps, self.length)
        self.fetcher = BatchFetcher(ds, what)

    def _elements(self, epoch: int) -> Iterator[Any]:
        order = epoch_order(self.seed, epoch, self.length) if self.shuffle else np.arange(self.length)
        yield from self.fetcher.elements([int(i) for i in order[:self.steps]])

    def end_epoch(self) -> None:
        self.fetcher.stop()  # workers of a cut-short epoch (steps, stop_training) end here too
        self.ds.on_epoch_end()

    def close(self) -> None:
        self.fetcher.close()


def py_dataset_length(ds: Any, what: str) -> int:
    """`len(ds)` (batches per epoch), or a FeedError naming the dataset."""
    try:
        return int(len(ds))
    except TypeError as exc:
        raise FeedError(f"{what}(): {type(ds).__name__}.__len__ failed: {exc}") from None


class IteratorStream(Stream):
    """A tf.data.Dataset (iterated afresh each epoch unless `steps` is given, as Keras does) or a
    Python generator/iterator (one iterator for the whole fit; give `steps_per_epoch` for an
    endless one)."""

    def __init__(self, model: TrainableModel, source: Any, steps: int | None, need_y: bool,
                 class_weight: dict | None, what: str) -> None:
        super().__init__(model, need_y, class_weight, what)
        self.source, self.steps = source, steps
        self.is_dataset = is_tf_dataset(source)
        self._it: Iterator[Any] | None = None
        self.exhausted = False

    def close(self) -> None:
        self._it = self._peeked = None  # a tf.data iterator stops its prefetch threads when freed

    def in_graph_steps(self, xla: bool = False) -> int | None:
        """Steps of the coming epoch when they may be read inside traced functions: a dataset iterated
        afresh each epoch whose cardinality is known, with no per-batch host work (class weights).
        Ids and labels are checked by in-graph asserts (`graph_lists`); XLA drops asserts, so an
        `xla` step of a model with an Embedding or a sparse_* loss reads batches on the host."""
        if not self.is_dataset or self.steps is not None or self.class_weight is not None:
            return None
        bounds, sparse = self._rules()
        if xla and (bounds or sparse is not None):
            return None
        count = int(self.source.cardinality())
        return count if count >= 0 else None

    def start_in_graph(self) -> tuple[Any, Any]:
        """(peeked first element or None, the epoch's tf.data iterator positioned after it). The
        peeked element is the host sample `first()` read: its values are checked here, on the host
        (NaN/inf, ids and sparse labels in range: a validation set's sample was not checked before)."""
        if self._peeked is not None:
            self._peeked = None
            sample = self.sample
            self._check_values(0, sample.x, sample.y or [], sample.sw, cast=False)
            return self.sample_element, self._it
        return None, iter(self.source)

    def to_lists(self, element: Any) -> tuple[list, list, list]:
        """A dataset element as model-ordered lists of tensors, inside or outside a traced function."""
        import tensorflow as tf

        x, y, sw = unpack(element)
        xs = order_feeds("input", self.model.input_names, x, self.model.name)
        ys = [] if y is None else order_feeds("output", self.model.output_names, y, self.model.name)
        ys = [tf.cast(v, "float32") for v in ys]
        mask = [w is not None for w in self.sample.sw]
        sws = [tf.cast(w, "float32") if m and w is not None else None
               for w, m in zip(_per_output_weights(self.model, sw), mask)]
        return list(xs), ys, sws

    def graph_lists(self, element: Any, step: int) -> tuple[list, list, list]:
        """`to_lists` inside the traced function, guarded by in-graph asserts (ids in Embedding range,
        sparse labels in range, finite floats) that run before the step uses the batch: what the host
        path checks, without reading the batch on the host. `step`: the step's place in its call."""
        import tensorflow as tf

        xs, ys, sws = self.to_lists(element)
        bounds, sparse = self._rules()
        checks = self._shape_checks(xs, ys, step)
        checks += [_ids_ok(xs[i], dim, f"{CHECK}:id:{i}:{step}") for i, _, dim in bounds]
        if sparse is not None and ys:
            for j, (loss, spec) in enumerate(zip(sparse[0], sparse[1])):
                if loss is not None and getattr(loss, "name", "").startswith("sparse_") and spec.shape[-1]:
                    checks.append(_labels_ok(ys[j], int(spec.shape[-1]), f"{CHECK}:label:{j}:{step}"))
        for kind, values in (("x", xs), ("y", ys), ("w", sws)):
            checks.extend(_finite_ok(v, f"{CHECK}:{kind}:{j}:{step}") for j, v in enumerate(values)
                          if v is not None and v.dtype.is_floating)
        if not checks:
            return xs, ys, sws
        with tf.control_dependencies(checks):  # the step waits for the checks
            return ([tf.identity(v) for v in xs], [tf.identity(v) for v in ys],
                    [None if w is None else tf.identity(w) for w in sws])

    def _shape_checks(self, xs: list, ys: list, step: int) -> list:
        """In-graph asserts for what the dataset's element spec leaves open: an input dimension the
        model fixes but the spec does not (e.g. `from_generator` with shape (None, None)), and inputs
        and targets of different batch sizes (the host path's `_check_later`)."""
        import tensorflow as tf

        checks = []
        for j, (v, inp) in enumerate(zip(xs, self.model.inputs)):
            spec = inp.spec
            if v.shape.rank is None:
                continue
            if v.shape.rank != spec.rank:
                continue  # caught on the host with the first batch (the spec is the same for all)
            open_dims = [d for d, want in enumerate(spec.shape) if d and want is not None and v.shape[d] is None]
            if open_dims:
                shape = tf.shape(v, out_type="int64")
                ok = tf.reduce_all([tf.equal(shape[d], spec.shape[d]) for d in open_dims])
                checks.append(_fail_unless(ok, f"{CHECK}:shape:{j}:{step}", shape))
        rows = [tf.shape(v, out_type="int64")[0] for v in list(xs) + list(ys) if v.shape.rank]
        static = {v.shape[0] for v in list(xs) + list(ys) if v.shape.rank}
        if len(rows) > 1 and (None in static or len(static) > 1):
            sizes = tf.stack(rows)
            checks.append(_fail_unless(tf.reduce_all(tf.equal(sizes, sizes[0])), f"{CHECK}:batch:0:{step}", sizes))
        return checks

    def _shape_error(self, kind: str, j: int, batch: int, values: str) -> FeedError:
        model, dims = self.model, tuple(int(v) for v in values.split())
        where = f"(batch {batch} of the {self.what}() data)"
        if kind == "shape":
            return FeedError(f"input '{model.input_names[j]}' of model '{model.name}' {where}: expected shape "
                             f"{format_shape(model.inputs[j].spec.shape)}, got {format_shape(dims)}")
        return FeedError(f"model '{model.name}' {where}: inputs and targets have different batch sizes "
                         f"{sorted(set(dims))}; every array of a batch needs the same first dimension")

    def check_error(self, exc: Exception, done: int) -> FeedError | None:
        """The FeedError for an InvalidArgumentError raised by a `graph_lists` assert in a call whose
        first step is batch `done` of the epoch; None for any other error."""
        message = str(getattr(exc, "message", exc))
        shaped = _SHAPE_RE.search(message)
        if shaped is not None:
            kind, j, step, values = shaped.groups()
            return self._shape_error(kind, int(j), done + int(step), values)
        found = _CHECK_RE.search(message)
        if found is None:
            return None
        kind, j, step, bad, at = found.groups()
        model, batch = self.model, done + int(step)
        of = f"model '{model.name}' (batch {batch} of the {self.what}() data)"
        at = f" at index ({', '.join(at.split())}{',' if len(at.split()) == 1 else ''})"
        j = int(j)
        if kind == "id":
            name, dim = next((n, d) for i, n, d in self._rules()[0] if i == j)
            return FeedError(f"input '{name}' of {of} holds token id {bad}{at}, outside [0, {dim}) (the "
                             f"Embedding's input_dim); map ids into range or raise input_dim")
        if kind == "label":
            losses, outputs, names = self._rules()[1]
            classes = outputs[j].shape[-1]
            return FeedError(f"y (target for output '{names[j]}' of {of}) holds label {float(bad):g}{at}; the "
                             f"{losses[j].name} loss needs integer class ids in [0, {classes}) for an output of "
                             f"{classes} classes")
        if kind == "x":  # (one at a time: input j need not be an output's index)
            what = f"x (input '{model.input_names[j]}' of {of})"
        elif kind == "y":
            what = f"y (target for output '{model.output_names[j]}' of {of})"
        else:
            what = f"sample_weight for output '{model.output_names[j]}' of {of}"
        return FeedError(f"{what} holds {bad}{at}; training on NaN or infinity turns the weights into NaN: "
                         f"clean or impute the data first (e.g. np.nan_to_num)")

    def _iterator(self, fresh: bool) -> Iterator[Any]:
        if self._it is None or (fresh and self.is_dataset):
            self._it = iter(self.source)
        return self._it

    def _elements(self, epoch: int) -> Iterator[Any]:
        it = self._iterator(fresh=self.steps is None)
        count = 0
        while self.steps is None or count < self.steps:
            try:
                element = next(it)
            except StopIteration:
                # Keras' rule: a dataset starts again next epoch (with a warning when it ended before
                # steps_per_epoch); a generator cannot, so training stops after this epoch
                self.exhausted = not self.is_dataset
                if self.steps is not None and count < self.steps:
                    then = "the next epoch starts it again" if self.is_dataset else "training stops after this epoch"
                    warnings.warn(f"{self.what}(): the input ran out of data after {count} of {self.steps} steps; "
                                  f"{then} (make it repeat, e.g. dataset.repeat())", UserWarning, stacklevel=2)
                self._it = None
                return
            count += 1
            yield element


CHECK = "kir-check"
"""The prefix of the in-graph asserts' messages (`IteratorStream.graph_lists`)."""
_CHECK_RE = re.compile(CHECK + r":(\w+):(\d+):(\d+)\]\s*\[([^\]]*)\]\s*\[([^\]]*)\]")
_SHAPE_RE = re.compile(CHECK + r":(shape|batch):(\d+):(\d+)\]\s*\[([^\]]*)\]")


def _fail_unless(ok: Any, message: str, values: Any) -> Any:
    """An assert that reports `values` (a shape, batch sizes) when `ok` is False."""
    import tensorflow as tf

    def fail() -> Any:
        with tf.control_dependencies([tf.debugging.Assert(False, [message, values], summarize=16)]):
            return tf.constant(False)

    return tf.cond(ok, lambda: tf.constant(True), fail)


def _checked(value: Any, ok: Any, message: str, mask: Any) -> Any:
    import tensorflow as tf

    def fail() -> Any:
        at = tf.where(mask())[0]
        first = tf.gather_nd(value, at)
        with tf.control_dependencies([tf.debugging.Assert(False, [message, first, at], summarize=8)]):
            return tf.constant(False)

    return tf.cond(ok, lambda: tf.constant(True), fail)


def _ids_ok(ids: Any, dim: int, message: str) -> Any:
    import tensorflow as tf

    inside = (ids >= tf.cast(0, ids.dtype)) & (ids < tf.cast(dim, ids.dtype))
    return _checked(ids, tf.reduce_all(inside), message, lambda: tf.logical_not(inside))


def _labels_ok(y: Any, classes: int, message: str) -> Any:
    import tensorflow as tf

    good = (y >= 0.0) & (y < float(classes)) & tf.equal(y, tf.floor(y))
    return _checked(y, tf.reduce_all(good), message, lambda: tf.logical_not(good))


def _finite_ok(v: Any, message: str) -> Any:
    import tensorflow as tf

    finite = tf.math.is_finite(v)
    return _checked(v, tf.reduce_all(finite), message, lambda: tf.logical_not(finite))


def stream_for(model: TrainableModel, x: Any, y: Any, sample_weight: Any, class_weight: dict | None,
               steps: int | None, shuffle: bool, seed: int, need_y: bool, what: str) -> Stream:
    """The Stream of streamed input `x` (y and sample_weight must come inside its batches)."""
    if y is not None or sample_weight is not None:
        raise ConfigError(f"{what}(): when x is a {type(x).__name__}, targets and sample weights come from its "
                          f"batches ((x, y) or (x, y, sample_weight)); do not pass y= or sample_weight=")
    if is_py_dataset(x):
        return PyDatasetStream(model, x, shuffle, seed, need_y, class_weight, what, steps)
    return IteratorStream(model, x, steps, need_y, class_weight, what)


def input_batches(x: Any, steps: int | None) -> Iterator[Any]:
    """The inputs of each batch of streamed `x` (for predict): numpy arrays, dicts or lists of them.
    A PyDataset's batches come from its threads or worker processes as in fit (Keras 3), which
    end when the generator is closed (close it: an error or Ctrl-C in the caller must end them too);
    its `on_epoch_end` runs after the last batch, as Keras' predict does."""
    if is_py_dataset(x):
        length = py_dataset_length(x, "predict")
        fetcher = BatchFetcher(x, "predict")
        try:
            for element in fetcher.elements(list(range(length if steps is None else min(steps, length)))):
                yield _numpy(unpack(element)[0])
        finally:
            fetcher.close()
        x.on_epoch_end()
        return
    for i, element in enumerate(iter(x)):
        if steps is not None and i >= steps:
            return
        yield _numpy(unpack(element)[0])
