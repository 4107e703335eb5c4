"""Input dim names (kir's own `Input(dim_names=...)`) in Keras files: the file still loads in Keras 3
unchanged (Keras' InputLayer takes no `dim_names`), and kir reads the names back from where Keras
ignores them (metadata.json of a `.keras`, the root attribute `kir_extras` of an `.h5`)."""

from __future__ import annotations

import contextlib
import json
import zipfile

import numpy as np
import onnx
import pytest

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

import kir  # noqa: E402
from kir.errors import LoadError  # noqa: E402
from kir.models import load_model  # noqa: E402
from tests.helpers import assert_close  # noqa: E402


def _token_model():
    tokens = kir.Input(shape=(None, 8), name="tokens", dim_names=("seq", None))
    events = kir.Input(shape=(None, 3), name="events", dim_names=("steps", None))
    h = kir.layers.Dense(4, activation="tanh", name="proj")(tokens)
    gate = kir.layers.Dense(4, name="gate")(kir.layers.GlobalMaxPooling1D(name="last")(events))
    out = kir.layers.Multiply(name="scale")([kir.layers.GlobalAveragePooling1D(name="pool")(h), gate])
    return kir.Model([tokens, events], out, name="named")


def _dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_loads_the_file_and_kir_keeps_the_dim_names(tmp_path, suffix):
    model = _token_model()
    path = tmp_path / f"m{suffix}"
    with pytest.warns(UserWarning, match="legacy") if suffix == ".h5" else contextlib.nullcontext():
        model.save(str(path))
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(2, 5, 8)).astype("float32"), rng.normal(size=(2, 6, 3)).astype("float32")]
    keras_model = keras.saving.load_model(path)  # Keras' InputLayer would refuse a dim_names key
    assert [tuple(t.shape) for t in keras_model.inputs] == [(None, None, 8), (None, None, 3)]
    assert_close(np.asarray(keras_model(xs)), model.predict(xs), rtol=1e-6)

    again = load_model(str(path))
    assert [again.get_layer(n).dim_names for n in ("tokens", "events")] == [("seq", None), ("steps", None)]
    assert_close(again.predict(xs), model.predict(xs), rtol=1e-6)
    again.export(tmp_path / "m.onnx")
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert [_dims(v) for v in graph.input] == [["batch", "seq", 8], ["batch", "steps", 3]]


def test_where_the_names_live(tmp_path):
    model = _token_model()
    model.save(str(tmp_path / "m.keras"))
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        config, metadata = zf.read("config.json").decode(), json.loads(zf.read("metadata.json"))
    assert "dim_names" not in config
    assert metadata["kir"] == {"dim_names": {"tokens": ["seq", None], "events": ["steps", None]}}
    with pytest.warns(UserWarning):
        model.save(str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5") as h5:
        assert "dim_names" not in h5.attrs["model_config"]
        assert json.loads(h5.attrs["kir_extras"]) == metadata["kir"]
    plain = kir.Input(shape=(3,), name="x")
    kir.Model(plain, kir.layers.Dense(2)(plain)).save(str(tmp_path / "plain.keras"))
    with zipfile.ZipFile(tmp_path / "plain.keras") as zf:
        assert "kir" not in json.loads(zf.read("metadata.json"))


def _rewrite_metadata(src, dst, extras) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "metadata.json":
                data = json.dumps({**json.loads(data), "kir": extras}).encode()
            zout.writestr(name, data)


@pytest.mark.parametrize("extras, message", [
    ({"dim_names": {"nope": ["seq", None]}}, r"input\(s\) nope, which model 'named' does not have"),
    ({"dim_names": {"tokens": ["seq"]}}, r"input 'tokens': Input 'tokens': dim_names has 1 entries"),
    ({"dim_names": {"tokens": ["seq", "width"]}}, r"dim name 'width' names a static dim \(8\)"),
    ({"dim_names": ["seq"]}, r"'dim_names' must map input names to lists"),
    ("seq", r"kir's extras must be a JSON object"),
])
def test_bad_recorded_names_are_a_load_error_naming_the_file(tmp_path, extras, message):
    _token_model().save(str(tmp_path / "m.keras"))
    _rewrite_metadata(tmp_path / "m.keras", tmp_path / "bad.keras", extras)
    with pytest.raises(LoadError, match=r"cannot load '.*bad\.keras': .*" + message):
        load_model(str(tmp_path / "bad.keras"))

