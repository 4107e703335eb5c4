"""What a numpy lowering sees besides its inputs: the vertex being run (for error messages)."""

from __future__ import annotations

from kir.backends.context import LoweringContext


class NumpyContext(LoweringContext):
    """The numpy backend's lowering context; numpy lowerings are pure, so it holds no more than
    every backend's context."""
