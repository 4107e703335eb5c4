"""What training needs of a model, as a Protocol: training sits below the frontend (like Keras'
Trainer below its Model) and sees a model only through its graph and these few members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from kir.ir.graph import Graph


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

    def to_graph(self) -> Graph: ...

    def get_weights(self) -> list[np.ndarray]: ...

    def set_weights(self, weights: Sequence[np.ndarray]) -> None: ...

    def save(self, filepath: str, overwrite: bool = True) -> None: ...
