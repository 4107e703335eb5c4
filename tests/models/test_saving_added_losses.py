"""Model-level `add_loss` tensors survive a `.kir` round trip (top level, nested, Sequential), so a
reloaded model trains on the same loss; Keras' own `.keras` drops them, kir's format keeps them."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir.errors import LoadError  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

RNG = np.random.default_rng(5)
X = RNG.normal(size=(32, 6)).astype("float32")
Y = RNG.normal(size=(32, 3)).astype("float32")


def functional_with_loss():
    inp = kir.Input(shape=(6,), name="x")
    hidden = kir.layers.Dense(4, activation="tanh", name="hidden")(inp)
    out = kir.layers.Dense(3, name="out")(hidden)
    model = kir.models.Model(inp, out, name="with_loss")
    side = kir.layers.Dense(2, name="loss_only")(hidden)  # a call only the loss uses
    model.add_loss(kir.backend.mean(kir.backend.square(side)) * 0.1)
    return model


def nested_with_loss():
    inner = functional_with_loss()
    inp = kir.Input(shape=(6,), name="outer_x")
    return kir.models.Model(inp, kir.layers.Dense(3, name="head")(inner(inp)), name="outer")


def sequential_with_loss():
    model = kir.models.Sequential([kir.Input(shape=(6,)), kir.layers.Dense(3, name="dense")], name="seq")
    model.add_loss(kir.backend.mean(kir.backend.abs(model.outputs[0])) * 0.5)
    return model


@pytest.mark.parametrize("build", [functional_with_loss, nested_with_loss, sequential_with_loss])
def test_added_losses_survive_save_and_load(build, tmp_path):
    model = build()
    model.compile(optimizer="sgd", loss="mse")
    path = str(tmp_path / "m.kir")
    model.save(path)
    loaded = kir.models.load_model(path)
    loaded.compile(optimizer="sgd", loss="mse")
    assert len(loaded.losses) == len(model.losses) == 1
    assert_close(loaded.evaluate(X, Y, verbose=0), model.evaluate(X, Y, verbose=0), rtol=1e-6)
    assert_close(loaded.predict(X), model.predict(X), rtol=1e-6)
    model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for got, want in zip(loaded.get_weights(), model.get_weights(), strict=True):
        assert_close(got, want, rtol=1e-6)


def test_a_model_without_added_losses_is_written_as_before(tmp_path):
    model = kir.models.Sequential([kir.Input(shape=(6,)), kir.layers.Dense(3)], name="plain")
    model.save(str(tmp_path / "m.kir"))
    with zipfile.ZipFile(tmp_path / "m.kir") as archive:
        doc = json.loads(archive.read("model.json"))
    assert doc["model"]["class_name"] == "Sequential" and "added_losses" not in json.dumps(doc)


def test_added_losses_that_do_not_fit_the_model_are_a_load_error(tmp_path):
    model = functional_with_loss()
    model.save(str(tmp_path / "m.kir"))
    with zipfile.ZipFile(tmp_path / "m.kir") as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    doc = json.loads(entries["model.json"])
    doc["model"]["config"]["added_losses"] = [["nowhere", 0, 0]]
    entries["model.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(tmp_path / "bad.kir", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(LoadError, match="links to nowhere"):
        kir.models.load_model(str(tmp_path / "bad.kir"))
