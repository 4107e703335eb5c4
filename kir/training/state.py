"""What a running fit shows its callbacks through `model.training_state`: where training is
(epoch, step), the TensorFlow state a checkpoint must hold, and the lazy write-back of trained
values.

Trained values live in the program's variables during an epoch; copying them to the layers after
every step would cost a device-to-host copy per step. Instead each step marks the state stale and
the model syncs on demand (`get_weights`, `save`, `save_weights`, `to_graph`, and any layer's weight
read: the state is a `kir.ir.live` source while the fit runs), so a callback reading weights
mid-epoch sees the current values and a fit nobody looks into pays nothing. The other way, a weight
set from outside (a callback's `set_weights`) marks the state dirty and `push` loads it into the
variables before the next step, all weights of that call together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kir.ir import live

if TYPE_CHECKING:
    from kir.training.engine import Engine


class TrainingState:
    """One fit's live state: `epoch`, `step` (steps done in the epoch), `seed` (shuffle orders),
    `feed` ('device': arrays on the device; 'stream': batches from the host), `is_chief`."""

    def __init__(self, engine: Engine, seed: int, feed: str) -> None:
        self.engine = engine
        self.seed, self.feed = seed, feed
        self.epoch = 0
        self.step = 0
        self.stale = False
        self.dirty = False
        """A weight was set from outside since the last step: `push` before the next one."""
        self.resume: tuple[int, int] | None = None
        """(epoch, step) to continue from, set when a checkpoint was restored before the first epoch."""
        self._progress: Any = None
        self.is_chief = is_chief(engine.strategy)

    def flush(self) -> None:
        """Copy trained values to the layers if a step ran since the last copy."""
        if self.stale:
            self.stale = False
            with live.writing_back():
                self.engine.write_back()

    def assigned(self) -> None:
        """A layer weight was replaced (kir.ir.live): the next step must start from it."""
        self.dirty = True

    def push(self) -> None:
        """Load weights set since the last step into the program's variables (a fresh graph of the
        model, built under the weights lock, holds all of one `set_weights` call or none of it)."""
        if not self.dirty:
            return
        self.dirty = False
        from kir.training.engine import training_graph

        eng = self.engine
        graph, _ = training_graph(eng.model)
        with eng.prog.guard.write():
            eng.prog.sync(graph.store)
        eng.store = graph.store

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_items(self) -> dict[str, Any]:
        """Everything that decides the rest of the run: model variables, optimizer state, dropout
        step seed, the epoch's log accumulator and progress (epoch, step, shuffle seed)."""
        import tensorflow as tf

        from kir.training.engine import strategy_scope

        eng = self.engine
        eng.build_optimizer()
        if self._progress is None:
            with strategy_scope(eng.strategy):
                self._progress = tf.Variable([0, 0, self.seed], dtype="int64", trainable=False,
                                             name="training_progress")
        items: dict[str, Any] = {f"var_{i}": v for i, v in enumerate(eng.prog.variables[k] for k in eng.prog.keys)}
        items.update({f"opt_{i}": v for i, v in enumerate(eng.cfg.optimizer.variables)})
        items.update(step_seed=eng.prog.step_seed, log_accumulator=eng.acc, progress=self._progress)
        return items

    def record_progress(self, epoch: int, step: int) -> None:
        """Mark where a checkpoint taken now resumes: `step` steps into `epoch`."""
        self.checkpoint_items()
        self._progress.assign([epoch, step, self.seed])

    def restored(self) -> None:
        """A checkpoint was just restored into the variables: resume where it was taken."""
        epoch, step, seed = (int(v) for v in self._progress.numpy())
        self.resume, self.seed, self.stale = (epoch, step), seed, True


def is_chief(strategy: Any) -> bool:
    """Keras' rule: the 'chief' task, or worker 0 when the cluster has no chief; single-process
    strategies are their own chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task = getattr(resolver, "task_type", None)
    if task in (None, "chief"):
        return True
    return task == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
