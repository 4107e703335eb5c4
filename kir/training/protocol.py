"""What training needs of a model, as a Protocol: training sits below the frontend (like Keras'
Trainer below its Model) and sees a model only through its graph and these few members."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from kir.ir.graph import Graph


@dataclass(frozen=True)
class ExtraLosses:
    """What training adds to the compiled losses (Keras' `model.losses`), in terms of the training
    graph: its first `outputs` outputs are the model's, the others feed these penalties.

    - `weights`: (parameter key, regularizer) -- `regularizer(variable)` each step, trainable keys only;
    - `activity`: (graph output index, regularizer) -- `regularizer(output) / batch size` (Keras 3);
    - `added`: graph output indices of `add_loss` tensors, each summed;
    - `masks`: per model output, the graph output index of the mask it carries (None: no mask);
      the loss and metrics weight its steps by it as Keras 3 does (docs/ops.md, "Masks");
    - `constraints`: (parameter key, constraint) -- the optimizer step assigns the variable
      `constraint(variable)` after its update, trainable keys only, as Keras 3's optimizer does in
      `apply` (not on a step a LossScaleOptimizer skips). They add no loss, so they do not count
      in `bool(extra)`.
    """

    outputs: int
    weights: tuple[tuple[str, Callable[[Any], Any]], ...] = ()
    activity: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
    added: tuple[int, ...] = ()
    masks: tuple[int | None, ...] = ()
    constraints: tuple[tuple[str, Callable[[Any], Any]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.weights or self.activity or self.added)


class TrainableModel(Protocol):
    """kir.models.Model satisfies this; compile/fit set `compiled`, `optimizer`, `loss`,
    `stop_training` and `history` on it, as Keras does."""

    name: str
    input_names: list[str]
    output_names: list[str]
    inputs: list[Any]
    """Symbolic inputs; training reads each one's `.spec` to check feeds."""
    compiled: Any
    optimizer: Any
    loss: Any
    stop_training: bool
    history: Any
    training_state: Any
    """Set by fit (kir.training.state.TrainingState): progress, checkpoint state, lazy weight sync."""

    def to_graph(self) -> Graph: ...

    def training_graph(self) -> tuple[Graph, ExtraLosses]:
        """The graph to train (the model's, plus outputs that regularizers and add_loss read)."""
        ...

    def _ensure_built_for(self, x: Any) -> None:
        """Build a model declared without input shapes from the first data (Keras' deferred build)."""
        ...

    def _require_compilable(self) -> None:
        """Raise if compile() cannot be called yet."""
        ...

    def get_weights(self) -> list[np.ndarray]: ...

    def set_weights(self, weights: Sequence[np.ndarray]) -> None: ...

    def save(self, filepath: str, overwrite: bool = True) -> None: ...
