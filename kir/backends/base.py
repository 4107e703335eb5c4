"""What a backend is: a name, the pass pipeline it wants, and predict over ordered arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from kir.models.functional import Model


class Backend:
    """Base for execution backends (built-in or registered under the `kir.backends` entry points)."""

    name: ClassVar[str] = ""
    pipeline: ClassVar[str] = "inference"
    """Which pass pipeline the backend runs before lowering: 'inference' or 'training'."""

    def predict(self, model: Model, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        """Model outputs for input arrays already in model input order and dtype."""
        raise NotImplementedError
