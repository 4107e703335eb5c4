"""A zoo of Keras-style models, each written once and built by `kir` or by `keras` (`lib=`).

- `kir.zoo.guide`: the getting-started guide's models, at the guide's sizes by default;
- `kir.zoo.keras_examples`: models of Keras' example scripts, and a small CNN for tests;
- `kir.zoo.bench`: which of them the ONNX benchmark runs, with input samplers and FLOP counts;
- `kir.zoo.library`: `library("kir" | "keras")` and the naming switch the factories share.

Only `kir` and numpy are imported here; Keras is imported when a factory is asked for `lib="keras"`.
`import kir` does not import the zoo.
"""

from kir.zoo import bench, guide, keras_examples
from kir.zoo.library import library

__all__ = ["bench", "guide", "keras_examples", "library"]
