"""Soak: many predicts per backend and many fit epochs on a small model, with RSS over time.

Run: PYTHONPATH=. python tools/bench/soak.py [--predicts 10000] [--epochs 200] [--every 1000]

Why: a leak of a few KB per call (a cache keyed by something new each call, sessions or
tf.functions rebuilt, arrays kept alive) is invisible in a test but grows without bound in a
server. The script prints the resident set size (RSS, from /proc or getrusage) every `--every`
calls and each backend's growth after its warm-up (the first tenth of the calls), so "no growth"
is a number. A benchmark, not a test: the figures go to docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np


def rss_mib() -> float:
    """The current resident set size in MiB (/proc on Linux, else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def small_model():
    from kir.layers import Dense, Dropout, Input
    from kir.models import Model

    x = Input(shape=(32,), name="x")
    h = Dense(64, activation="relu", name="h1")(x)
    h = Dropout(0.1, name="drop")(h)
    y = Dense(10, activation="softmax", name="y")(Dense(64, activation="relu", name="h2")(h))
    return Model(x, y, name="soak")


def soak_predict(model, backend: str, calls: int, every: int) -> list[tuple[int, float]]:
    """`calls` predicts of a fresh batch each (batch 8) on `backend`; (call, RSS MiB) samples."""
    rng = np.random.default_rng(0)
    samples = [(0, rss_mib())]
    for i in range(1, calls + 1):
        model.predict(rng.normal(size=(8, 32)).astype("float32"), backend=backend, verbose=0)
        if i % every == 0 or i == calls:
            samples.append((i, rss_mib()))
    return samples


def soak_fit(model, epochs: int, every: int) -> list[tuple[int, float]]:
    """`epochs` one-epoch fits (4 batches of 32) on the TensorFlow backend; (epoch, RSS MiB) samples."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 32)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 128)]
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    samples = [(0, rss_mib())]
    for epoch in range(1, epochs + 1):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        if epoch % every == 0 or epoch == epochs:
            samples.append((epoch, rss_mib()))
    return samples


def growth(samples: list[tuple[int, float]]) -> tuple[float, float]:
    """(RSS after the warm-up tenth, growth from there to the end) in MiB."""
    total = samples[-1][0]
    base = next(rss for n, rss in samples if n >= total // 10)
    return base, samples[-1][1] - base


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--predicts", type=int, default=10_000, help="predicts per backend (default 10000)")
    p.add_argument("--epochs", type=int, default=200, help="fit epochs (default 200)")
    p.add_argument("--every", type=int, default=1000, help="print RSS every N predicts (epochs: every N/50)")
    p.add_argument("--backends", default="numpy,onnx,tensorflow", help="comma-separated (default all three)")
    args = p.parse_args(argv)
    model = small_model()
    print(f"start: RSS {rss_mib():.1f} MiB, model {model.count_params():,} params")
    rows = []
    for backend in [b for b in args.backends.split(",") if b]:
        start = time.perf_counter()
        samples = soak_predict(model, backend, args.predicts, args.every)
        seconds = time.perf_counter() - start
        print(f"predict[{backend}]: " + ", ".join(f"{n}: {rss:.1f}" for n, rss in samples) + " (call: RSS MiB)")
        rows.append((f"predict x{args.predicts} ({backend})", seconds, *growth(samples)))
    if args.epochs:
        start = time.perf_counter()
        samples = soak_fit(model, args.epochs, max(1, args.every // 50))
        seconds = time.perf_counter() - start
        print("fit: " + ", ".join(f"{n}: {rss:.1f}" for n, rss in samples) + " (epoch: RSS MiB)")
        rows.append((f"fit x{args.epochs} epochs (tensorflow)", seconds, *growth(samples)))
    print("\n| run | seconds | RSS after warm-up (MiB) | growth after warm-up (MiB) |\n| --- | ---: | ---: | ---: |")
    for name, seconds, base, grew in rows:
        print(f"| {name} | {seconds:.1f} | {base:.1f} | {grew:+.1f} |")
    print(f"end: RSS {rss_mib():.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
