"""Keras files in and out: `.keras` archives, legacy `.h5` models and `.weights.h5` files.

- `load(path)`: a kir model from a Keras 3 `.keras` archive or a tf.keras 2 / Keras 3 legacy `.h5`
  file, read with json, zipfile and h5py only (never TensorFlow or Keras);
- `save_keras(model, path)`: a `.keras` archive that `keras.models.load_model` opens;
- `save_h5(model, path)`: Keras' legacy `.h5` (what Keras 3's `model.save("m.h5")` writes);
- `save_weights` / `load_weights`: Keras 3's `.weights.h5` layout (and legacy weights files in);
- `from_keras(keras_model)`: a live Keras model converted through the same mapping.

Modules: `safety` (limits and checked reads), `values` (dtypes, initializers, activations),
`layer_map` (one layer's config), `model_config` (configs -> models), `config_writer` (models ->
configs), `layout` (where each weight lives), `reader`, `writer`, `legacy_writer`, `extras` (kir-only facts
Keras ignores: input dim names), `live`. What is supported and why:
docs/keras_files.md.
"""

from kir.models.keras_files.legacy_writer import save_h5
from kir.models.keras_files.live import from_keras
from kir.models.keras_files.model_config import UnsupportedLayersError
from kir.models.keras_files.reader import load, load_weights, read_model_config, sniff
from kir.models.keras_files.writer import save_keras, save_weights

__all__ = ["UnsupportedLayersError", "from_keras", "load", "load_weights", "read_model_config", "save_h5",
           "save_keras", "save_weights", "sniff"]
