"""Streaming and distributed training throughput: kir vs Keras 3 `fit` on the same TensorFlow.

Rows (MNIST MLP of the Keras examples, same initial weights, RMSprop, accuracy metric):
- `stream`: a tf.data pipeline reading batches from a memory-mapped .npy file (`tf.numpy_function`
  over the memmap, prefetched), fed to both `fit`s;
- `mirrored`: arrays under `tf.distribute.MirroredStrategy` over 2 logical CPU devices (the model
  compiled in `strategy.scope()` on both sides);
- `A/A`: the kir stream fit timed against itself, the noise floor of a ratio on this machine.
Epochs are timed alternately after a warm-up epoch each; medians of samples/s.

    PYTHONPATH=. python tools/bench/stream_dist_vs_keras.py [--repeats 5] [--samples 8192]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kir  # noqa: E402
from kir.zoo import keras_examples  # noqa: E402


def memmap_dataset(path: str, labels: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches read from the memmap on demand (nothing but one batch in memory per step)."""
    data = np.load(path, mmap_mode="r")
    steps = -(-len(data) // batch_size)

    def read(i):
        sl = slice(int(i) * batch_size, (int(i) + 1) * batch_size)
        return np.ascontiguousarray(data[sl]), labels[sl]

    ds = tf.data.Dataset.range(steps).map(
        lambda i: tf.numpy_function(read, [i], (tf.float32, tf.float32)), num_parallel_calls=2)
    ds = ds.map(lambda x, y: (tf.ensure_shape(x, (None, data.shape[1])), tf.ensure_shape(y, (None, 10))))
    return ds.prefetch(4)


def time_pair(fit_a, fit_b, n: int, repeats: int) -> tuple[float, float]:
    fit_a()
    fit_b()
    ta, tb = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        fit_a()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        fit_b()
        tb.append(time.perf_counter() - t)
    return n / statistics.median(ta), n / statistics.median(tb)


def compiled(model, lib):
    model.compile(optimizer=lib.optimizers.RMSprop(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    n, bs = args.samples, args.batch_size
    rng = np.random.default_rng(0)
    x = rng.random((n, 784), dtype=np.float32)
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, n)]
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, CPU ({os.cpu_count()} cores), "
          f"{n} samples, batch {bs}")
    print("| row | kir samples/s | Keras samples/s | kir/Keras |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.npy")
        np.save(path, x)
        ds = memmap_dataset(path, y, bs)
        ours = compiled(keras_examples.mnist_mlp(lib=kir), kir)
        theirs = compiled(keras_examples.mnist_mlp(lib=keras), keras)
        theirs.set_weights(ours.get_weights())
        ka, kb = time_pair(lambda: ours.fit(ds, epochs=1, verbose=0, shuffle=False),
                           lambda: theirs.fit(ds, epochs=1, verbose=0, shuffle=False), n, args.repeats)
        print(f"| stream (tf.data from memmap) | {ka:,.0f} | {kb:,.0f} | {ka / kb:.2f} |", flush=True)
        aa, ab = time_pair(lambda: ours.fit(ds, epochs=1, verbose=0), lambda: ours.fit(ds, epochs=1, verbose=0),
                           n, args.repeats)
        print(f"| A/A: stream, kir vs kir | {aa:,.0f} | ({ab:,.0f}) | {aa / ab:.2f} |", flush=True)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    ours = keras_examples.mnist_mlp(lib=kir)
    with strategy.scope():
        compiled(ours, kir)
        theirs = compiled(keras_examples.mnist_mlp(lib=keras), keras)
    theirs.set_weights(ours.get_weights())
    ka, kb = time_pair(lambda: ours.fit(x, y, batch_size=bs, epochs=1, verbose=0),
                       lambda: theirs.fit(x, y, batch_size=bs, epochs=1, verbose=0), n, args.repeats)
    print(f"| mirrored, 2 logical CPUs (arrays) | {ka:,.0f} | {kb:,.0f} | {ka / kb:.2f} |", flush=True)


if __name__ == "__main__":
    main()
