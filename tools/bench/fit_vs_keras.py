"""Training throughput of kir's TensorFlow backend against Keras 3 on the same TensorFlow.

Identical models (same layers, same initial weights), same data, same optimizer; each epoch is
timed in turns kir / Keras / a second kir copy after one warm-up epoch each (tracing + XLA
compilation), and the median samples/second of each is compared. The A/A column (second kir copy
/ first) is the noise floor of a ratio on this machine.

    PYTHONPATH=. python tools/bench/fit_vs_keras.py [--repeats 5] [--models mlp,cnn,lstm]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kir  # noqa: E402
from kir.zoo import keras_examples  # noqa: E402


def _pair(factory, **sizes):
    """The same zoo model in kir and in Keras (the weights are copied in `run`)."""
    return factory(**sizes, lib=kir), factory(**sizes, lib=keras)


def mlp():
    ours, theirs = _pair(keras_examples.mnist_mlp)
    rng = np.random.default_rng(0)
    x = rng.random((8192, 784), dtype=np.float32)
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, len(x))]
    return ours, theirs, x, y, "categorical_crossentropy"


def cnn():
    ours, theirs = _pair(keras_examples.mnist_cnn)
    rng = np.random.default_rng(1)
    x = rng.random((1024, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, len(x))]
    return ours, theirs, x, y, "categorical_crossentropy"


def lstm():
    ours, theirs = _pair(keras_examples.imdb_lstm)
    rng = np.random.default_rng(2)
    x = rng.integers(1, 20000, (1024, 80)).astype("int32")
    y = rng.integers(0, 2, (len(x), 1)).astype("float32")
    return ours, theirs, x, y, "binary_crossentropy"


MODELS = {"mlp": mlp, "cnn": cnn, "lstm": lstm}


def run(name: str, batch_size: int, repeats: int) -> tuple[float, float, float]:
    """Samples/s of kir, Keras and a second kir copy (the A/A reference), epochs timed in turns."""
    ours, theirs, x, y, loss = MODELS[name]()
    twin = MODELS[name]()[0]
    theirs.set_weights(ours.get_weights())
    twin.set_weights(ours.get_weights())
    models = (ours, theirs, twin)
    for model, opt in zip(models, (kir.optimizers.RMSprop(), keras.optimizers.RMSprop(), kir.optimizers.RMSprop())):
        model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up: trace + compile
    times: list[list[float]] = [[], [], []]
    for _ in range(repeats):
        for model, timed in zip(models, times):
            t = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
            timed.append(time.perf_counter() - t)
    n = len(x)
    return tuple(n / statistics.median(timed) for timed in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="mlp,cnn,lstm")
    parser.add_argument("--batch-sizes", default="32,128")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    device = "GPU: " + ", ".join(d.name for d in gpus) if gpus else f"CPU ({os.cpu_count()} cores)"
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {device}, {platform.processor() or 'cpu'}")
    print("| model | batch | kir samples/s | Keras samples/s | kir/Keras | A/A |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            ours, theirs, twin = run(name, bs, args.repeats)
            print(f"| {name} | {bs} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} | {twin / ours:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
