"""A .kir file stores traced code as its trace (IR primitives + JSON attrs): loading it runs none of
the user's code, which need not be importable, and a tampered trace is a LoadError."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import kir
import kir.backend as K
from kir import layers as L
from kir.errors import LoadError
from kir.models import clone_model, load_model

USER_CODE = '''
import kir.backend as K
from kir import layers as L


def distance(pair):
    x, y = pair
    return K.sqrt(K.maximum(K.sum(K.square(x - y), axis=1, keepdims=True), K.epsilon()))


class Block(L.Layer):
    """A subclassed layer with its own weight and a kir layer inside."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = L.Dense(units, activation="tanh")

    def build(self, input_shape):
        self.gate = self.add_weight(shape=(self.units,), initializer="ones", name="gate")

    def call(self, x):
        h = self.inner(x) * self.gate
        return K.concatenate([h, K.l2_normalize(h, axis=-1)[:, ::-1]], axis=-1)


def sample(args):
    z_mean, z_log_var = args
    return z_mean + K.exp(0.5 * z_log_var) * K.random_normal(shape=(K.shape(z_mean)[0], 2), seed=7)
'''


@pytest.fixture
def user_module(tmp_path):
    """The user's code as a module of a temporary folder; the test removes it before loading."""
    folder = tmp_path / "usercode"
    folder.mkdir()
    (folder / "my_layers.py").write_text(textwrap.dedent(USER_CODE))
    sys.path.insert(0, str(folder))
    module = importlib.import_module("my_layers")
    yield module, folder
    sys.modules.pop("my_layers", None)
    if str(folder) in sys.path:
        sys.path.remove(str(folder))


def forget(module, folder) -> None:
    sys.modules.pop(module.__name__, None)
    sys.path.remove(str(folder))
    (folder / "my_layers.py").unlink()
    with pytest.raises(ImportError):
        importlib.import_module("my_layers")


def build(module):
    a, b = L.Input((5,), name="a"), L.Input((5,), name="b")
    block = module.Block(4, name="block")
    ha, hb = block(a), block(b)
    dist = L.Lambda(module.distance, name="distance")([ha, hb])
    zm, zv = L.Dense(2, name="z_mean")(ha), L.Dense(2, name="z_log_var")(hb)
    z = L.Lambda(module.sample, name="z")([zm, zv])
    extra = K.reshape(ha, (K.shape(ha)[0], 2, 4))[:, 0] + 1.0
    return kir.Model([a, b], [dist, z, extra], name="traced")


def test_saved_traced_model_loads_and_predicts_without_the_users_code(user_module, tmp_path):
    module, folder = user_module
    model = build(module)
    x = [np.random.default_rng(0).normal(size=(6, 5)).astype("float32") for _ in range(2)]
    want = model.predict(x)
    path = tmp_path / "traced.kir"
    model.save(str(path))
    forget(module, folder)
    loaded = load_model(str(path))
    got = loaded.predict(x)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)  # the seeded draw included
    block = loaded.get_layer("block")
    assert type(block).__name__ == "TracedLayer" and block.traced_class == "Block"
    assert [lay.name for lay in block.sublayers()] == [model.get_layer("block").inner.name]
    assert [w.shape for w in block.get_weights()] == [(4,), (5, 4), (4,)]
    for backend in ("tensorflow", "onnx"):  # a seed gives each backend's generator its own draws
        dist, z, extra = loaded.predict(x, backend=backend)
        np.testing.assert_allclose(dist, want[0], atol=1e-5)
        np.testing.assert_allclose(extra, want[2], atol=1e-5)
        assert z.shape == want[1].shape
    path2 = tmp_path / "again.kir"
    loaded.save(str(path2))  # a loaded model saves again, the same traces
    for g, w in zip(load_model(str(path2)).predict(x), want):
        np.testing.assert_array_equal(g, w)


def test_the_file_holds_traces_and_no_code(user_module, tmp_path):
    module, _ = user_module
    path = tmp_path / "traced.kir"
    build(module).save(str(path))
    with zipfile.ZipFile(path) as zf:
        text = zf.read("model.json").decode()
    doc = json.loads(text)
    assert doc["format_version"] == 2
    assert "my_layers" not in text and "distance(" not in text and "lambda" not in text.replace('"lambda', "")
    entries = {e["config"]["name"]: e for e in doc["model"]["config"]["layers"] if "config" in e}
    assert entries["distance"]["class_name"] == "TracedLayer"
    (call,) = entries["distance"]["config"]["calls"]
    assert [s["op"] for s in call["steps"]] == ["Binary", "Unary", "Reduce", "Constant", "Binary", "Unary"]


def test_a_traced_sequential_and_a_clone(tmp_path):
    model = kir.Sequential([L.Dense(6, input_shape=(3,)), L.Lambda(lambda t: K.softmax(t) * 2),
                            L.Lambda(lambda t: K.reshape(t, (-1, 2, 3))), L.TimeDistributed(L.Lambda(K.tanh))])
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    want = model.predict(x)
    model.save(str(tmp_path / "s.kir"))
    np.testing.assert_array_equal(load_model(str(tmp_path / "s.kir")).predict(x), want)
    np.testing.assert_array_equal(clone_model(model).predict(x), want)
    saved = json.loads(zipfile.ZipFile(tmp_path / "s.kir").read("model.json"))
    assert saved["model"]["class_name"] == "Sequential"


def test_files_without_traced_layers_stay_version_1(tmp_path):
    x = L.Input((3,))
    kir.Model(x, L.Dense(2)(x)).save(str(tmp_path / "plain.kir"))
    assert json.loads(zipfile.ZipFile(tmp_path / "plain.kir").read("model.json"))["format_version"] == 1


def _tampered(tmp_path, edit) -> str:
    x = L.Input((3,), name="x")
    model = kir.Model(x, L.Lambda(lambda t: K.exp(t) + 1.0, name="lam")(x))
    good = tmp_path / "good.kir"
    model.save(str(good))
    with zipfile.ZipFile(good) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(files["model.json"])
    (lam,) = [e for e in doc["model"]["config"]["layers"] if e.get("class_name") == "TracedLayer"]
    edit(lam["config"])
    files["model.json"] = json.dumps(doc).encode()
    bad = tmp_path / "bad.kir"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return str(bad)


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["calls"][0]["steps"][0].update(op="os.system"), "unknown op 'os.system'"),
    (lambda c: c["calls"][0]["steps"][0].update(op="Call"), "unknown op 'Call'"),
    (lambda c: c["calls"][0]["steps"][1].update(inputs=[[9, 0]]), "names no earlier value"),
    (lambda c: c["calls"][0]["steps"][0].update(attrs={"fn": "system"}), "fn must be one of"),
    (lambda c: c["calls"][0]["steps"][0].update(op="Param", params={"value": [-1, "secret"]}), "does not have"),
    (lambda c: c["calls"][0]["steps"].append({"op": "Layer", "layer": 3, "inputs": [[0, 0]], "outputs": 1}),
     "names no sub-layer"),
    (lambda c: c.update(calls="import os"), "'calls' must be a list"),
    (lambda c: c["calls"][0].update(outputs=[]), "bad traced call"),
])
def test_a_tampered_trace_is_a_load_error(tmp_path, edit, message):
    with pytest.raises(LoadError, match=message):
        load_model(_tampered(tmp_path, edit))
