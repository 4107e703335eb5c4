"""A writer for tests/reliability/test_kill.py: writes one file over and over until it is killed.

    python kill_writer.py MODE FOLDER     MODE: save | export | export_ext | checkpoint

Every weight of version k is the constant k, so a reader can tell a whole file from a mix. Prints
"ready" once the first file is complete (the "previous file" a kill must leave intact)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from kir.layers import Dense, Input
from kir.models import Model

TARGETS = {"save": "m.kir", "export": "m.onnx", "export_ext": "m.onnx", "checkpoint": "ckpt.kir"}


def model() -> Model:
    x = Input(shape=(16,), name="x")
    return Model(x, Dense(8, name="out")(Dense(256, name="d2")(Dense(256, name="d1")(x))), name="victim")


def fill(m: Model, k: int) -> None:
    m.set_weights([np.full(w.shape, k, w.dtype) for w in m.get_weights()])


def main(mode: str, folder: Path) -> None:
    m = model()
    target = folder / TARGETS[mode]
    if mode == "checkpoint":
        from kir.callbacks import LambdaCallback, ModelCheckpoint

        m.compile(optimizer="sgd", loss="mse")
        ready = LambdaCallback(on_epoch_end=lambda epoch, logs: epoch == 0 and print("ready", flush=True))
        data = np.ones((32, 16), "float32"), np.zeros((32, 8), "float32")
        m.fit(*data, epochs=100_000, batch_size=32, verbose=0, callbacks=[ModelCheckpoint(str(target)), ready])
        return
    from kir.backends.onnx import export

    k = 0
    while True:
        k += 1
        fill(m, k)
        if mode == "save":
            m.save(str(target))
        else:
            export(m, target, external_data_threshold=1000 if mode == "export_ext" else 2**31)
        if k == 1:
            print("ready", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
