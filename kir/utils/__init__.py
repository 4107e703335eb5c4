"""Utilities users reach as `kir.utils.*` (Keras names)."""

from __future__ import annotations

from kir.utils.categorical import to_categorical
from kir.utils.datasets import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array
from kir.utils.plotting import model_to_dot, plot_model
from kir.utils.py_dataset import PyDataset, Sequence
from kir.utils.sequence import pad_sequences


def set_random_seed(seed: int) -> None:
    """Seed kir's initializers (and numpy/TensorFlow global generators, like Keras)."""
    import random
    import sys

    import numpy as np

    from kir import initializers

    initializers.set_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf.random.set_seed(seed)


__all__ = ["PyDataset", "Sequence", "model_to_dot", "pad_sequences", "plot_model", "set_random_seed", "to_categorical",
           "image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array"]
