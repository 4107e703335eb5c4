"""`set_weights` while other threads predict: every prediction comes from all old or all new
weights, on every backend (issue 11: 3-96% of racing calls used a half-updated model)."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import kir
from kir import layers
from kir.models import Model

K_VALUES = (1.0, 2.0)  # the writer alternates all-1 and all-2 weights
CALLS = 80  # predictions that race with the writer
DEPTH = 8


def _model() -> Model:
    x = kir.Input(shape=(2,))
    h = x
    for _ in range(DEPTH):
        h = layers.Dense(2)(h)
    return Model(x, h)


def _weights(model: Model, k: int) -> list[np.ndarray]:
    return [np.full(w.shape, float(k), "float32") for w in model.get_weights()]


def _answer(k: float) -> float:
    """The output on ones(2) when every weight is k (each layer: k * (sum of its 2 inputs) + k)."""
    h = 1.0
    for _ in range(DEPTH):
        h = 2 * k * h + k
    return h


@pytest.mark.parametrize("backend", ["numpy", "onnx", "tensorflow"])
def test_set_weights_is_atomic_for_concurrent_predict(backend: str) -> None:
    model = _model()
    model.set_weights(_weights(model, 1))
    x = np.ones((2, 2), "float32")
    model.predict(x, backend=backend)  # warm: sessions / programs exist before the race
    valid = {_answer(k) for k in K_VALUES}
    seen: list[np.ndarray] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                seen.append(model.predict(x, backend=backend))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often so that a non-atomic update shows
    try:
        for t in threads:
            t.start()
        updates = 0
        while (updates < 30 or len(seen) < CALLS) and not errors:
            model.set_weights(_weights(model, K_VALUES[updates % 2]))
            updates += 1
            time.sleep(0.0005)  # let the readers run
    finally:
        done.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(interval)
    assert not errors, errors[0]
    assert seen
    mixed = [y for y in seen if len(set(y.ravel().tolist())) != 1 or float(y.ravel()[0]) not in valid]
    assert not mixed, f"{len(mixed)} of {len(seen)} predictions mixed old and new weights, e.g. {mixed[0]}"
    final = model.predict(x, backend=backend)
    assert np.all(final == _answer(K_VALUES[(updates - 1) % 2])), (final, updates, model.get_weights()[0])
