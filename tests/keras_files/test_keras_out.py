"""Keras files out: `model.save("m.keras")` opens in Keras 3 with equal outputs, its weights file has
exactly the layout Keras writes for the same model, and `save_weights`/`load_weights` exchange
weights with Keras in both directions."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

import kir  # noqa: E402
from kir.errors import ConfigError, ExportError, LoadError  # noqa: E402
from kir.models import keras_files, load_model  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.keras_files import models  # noqa: E402


def _kir_model(case: str):
    model = models.build(case, kir)
    models.randomize_kir(model)
    return model


def _layout(h5) -> dict[str, tuple]:
    """Every group and dataset of an HDF5 file: attributes, shape, dtype."""
    found: dict[str, tuple] = {}
    h5.visititems(lambda name, obj: found.__setitem__(
        name, ({k: str(v) for k, v in obj.attrs.items()}, getattr(obj, "shape", None), str(getattr(obj, "dtype", "")))))
    return found


def _assert_outputs(got, expected) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert_close(a, b, rtol=1e-5)


@pytest.mark.parametrize("case", models.IDS)
def test_saved_keras_file_opens_in_keras_with_equal_outputs_and_keras_layout(case, tmp_path):
    model = _kir_model(case)
    path = tmp_path / "m.keras"
    model.save(str(path))
    keras_model = keras.models.load_model(path)
    assert [lay.name for lay in keras_model.layers] == [lay.name for lay in model.layers]
    assert [t.name for t in keras_model.inputs] == model.input_names
    xs = models.inputs(model)
    _assert_outputs(models.keras_outputs(keras_model, xs), models.kir_outputs(model, xs))
    twin = models.build(case, keras)  # what Keras itself writes for this architecture
    twin.save_weights(tmp_path / "keras.weights.h5")
    with zipfile.ZipFile(path) as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as ours, \
            h5py.File(tmp_path / "keras.weights.h5") as theirs:
        assert _layout(ours) == _layout(theirs)
        assert [i.compress_type for i in zf.infolist()] == [zipfile.ZIP_STORED] * 3
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]


def test_config_json_has_keras_3_structure(tmp_path):
    model = _kir_model("shared_vision")
    model.save(str(tmp_path / "m.keras"))
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        config = json.loads(zf.read("config.json"))
        metadata = json.loads(zf.read("metadata.json"))
    assert metadata["keras_version"].startswith("3.")
    assert {k: config[k] for k in ("module", "class_name", "registered_name")} == \
        {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional"}
    layers = {entry["name"]: entry for entry in config["config"]["layers"]}
    vision = layers["vision_model"]
    assert [node["args"][0]["config"]["keras_history"] for node in vision["inbound_nodes"]] == \
        [["digit_a", 0, 0], ["digit_b", 0, 0]]
    assert [t["config"]["keras_history"] for t in layers["merge"]["inbound_nodes"][0]["args"][0]] == \
        [["vision_model", 0, 0], ["vision_model", 1, 0]]
    dense = layers["same_digit"]["config"]
    assert dense["dtype"]["class_name"] == "DTypePolicy" and dense["activation"] == "sigmoid"
    assert config["config"]["output_layers"] == ["same_digit", 0, 0]


@pytest.mark.parametrize("case", ["video_qa", "recurrent", "tour"])
def test_kir_keras_kir_round_trip_is_exact(case, tmp_path):
    model = _kir_model(case)
    model.save(str(tmp_path / "m.keras"))
    again = load_model(str(tmp_path / "m.keras"))
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    xs = models.inputs(model)
    _assert_outputs(models.kir_outputs(again, xs), models.kir_outputs(model, xs))


@pytest.mark.parametrize("case", ["multi_io", "video_qa", "recurrent", "tour"])
def test_save_weights_and_load_weights_both_ways(case, tmp_path):
    model = _kir_model(case)
    twin = models.build(case, keras)
    model.save_weights(str(tmp_path / "kir.weights.h5"))
    twin.load_weights(tmp_path / "kir.weights.h5")
    xs = models.inputs(model)
    expected = models.kir_outputs(model, xs)
    _assert_outputs(models.keras_outputs(twin, xs), expected)

    models.randomize(twin, seed=5)
    twin.save_weights(tmp_path / "keras.weights.h5")
    twin.save(tmp_path / "keras.keras")
    twin.save(tmp_path / "keras.h5")
    expected = models.keras_outputs(twin, xs)
    for source in ("keras.weights.h5", "keras.keras", "keras.h5"):
        fresh = models.build(case, kir)
        fresh.load_weights(str(tmp_path / source))
        _assert_outputs(models.kir_outputs(fresh, xs), expected)


def test_load_weights_reads_everything_or_nothing(tmp_path):
    model = _kir_model("functional_mlp")
    model.save_weights(str(tmp_path / "w.weights.h5"))
    with h5py.File(tmp_path / "w.weights.h5", "a") as h5:
        del h5["layers/dense_1/vars/1"]
    other = _kir_model("functional_mlp")
    before = other.get_weights()
    with pytest.raises(LoadError, match="holds 1 weight"):
        other.load_weights(str(tmp_path / "w.weights.h5"))
    for a, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    wrong = models.build("mnist_mlp", kir)
    with pytest.raises(LoadError, match="cannot load weights from|cannot load"):
        wrong.load_weights(str(tmp_path / "w.weights.h5"))


def test_save_weights_needs_keras_file_name_and_writes_atomically(tmp_path, monkeypatch):
    model = _kir_model("mlp_binary")
    with pytest.raises(ConfigError, match=r"\.weights\.h5"):
        model.save_weights(str(tmp_path / "w.h5"))
    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"old")

    def fail(h5, root):
        h5.create_group("partial")
        raise OSError("disk full")

    monkeypatch.setattr(keras_files.layout, "write_layout", fail)
    with pytest.raises(ExportError, match="disk full"):
        model.save_weights(str(path))
    with pytest.raises(ExportError, match="disk full"):
        model.save(str(tmp_path / "m.keras"))
    assert sorted(os.listdir(tmp_path)) == ["w.weights.h5"] and path.read_bytes() == b"old"
    monkeypatch.undo()
    with pytest.raises(ExportError, match="overwrite=False"):
        model.save_weights(str(path), overwrite=False)
    model.save_weights(str(path))
    assert h5py.is_hdf5(path)


def test_model_checkpoint_saves_weights_keras_reads(tmp_path):
    pytest.importorskip("tensorflow")
    from kir.callbacks import ModelCheckpoint

    model = _kir_model("mlp_binary")
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    x = np.random.default_rng(0).normal(size=(8, 6)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    pattern = str(tmp_path / "w{epoch}.weights.h5")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[ModelCheckpoint(pattern, save_weights_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["w1.weights.h5", "w2.weights.h5"]
    twin = models.build("mlp_binary", keras)
    twin.load_weights(tmp_path / "w2.weights.h5")
    _assert_outputs(models.keras_outputs(twin, [x]), models.kir_outputs(model, [x]))


def test_only_kir_classes_and_built_models_are_written(tmp_path):
    class MyDense(kir.layers.Dense):
        op_type = "Dense"

    x = kir.Input(shape=(3,))
    with pytest.raises(ConfigError, match="not one of kir's own layer classes"):
        kir.Model(x, MyDense(2)(x)).save(str(tmp_path / "m.keras"))
    with pytest.raises(ConfigError, match="not built"):
        kir.models.Sequential([kir.layers.Dense(2)]).save(str(tmp_path / "m.keras"))
    assert os.listdir(tmp_path) == []


def test_initializers_and_regularizers_cross_in_both_directions(tmp_path):
    """They do not change a loaded model's numbers, but training it again from scratch needs them."""
    L = kir.layers
    x = kir.Input(shape=(3,), name="x")
    y = L.Dense(2, kernel_initializer="he_normal", bias_initializer="ones", kernel_regularizer="l2",
                name="dense")(x)
    kir.Model(x, y, name="m").save(str(tmp_path / "m.keras"))
    dense = keras.models.load_model(tmp_path / "m.keras").get_layer("dense")
    assert type(dense.kernel_initializer).__name__ == "HeNormal"
    assert type(dense.bias_initializer).__name__ == "Ones"
    assert type(dense.kernel_regularizer).__name__ == "L2"

    k = keras.Input(shape=(3,), name="x")
    out = keras.layers.Dense(2, kernel_initializer=keras.initializers.Orthogonal(), bias_regularizer="l1",
                             name="dense")(k)
    keras.Model(k, out).save(tmp_path / "k.keras")
    dense = load_model(str(tmp_path / "k.keras")).get_layer("dense")
    assert "orthogonal" in str(dense.get_config()["kernel_initializer"]).lower()
    assert "L1" in str(dense.get_config().get("bias_regularizer"))


def test_save_refuses_a_weights_file_name(tmp_path):
    with pytest.raises(ConfigError, match="save_weights"):
        _kir_model("mlp_binary").save(str(tmp_path / "m.weights.h5"))
    assert os.listdir(tmp_path) == []
