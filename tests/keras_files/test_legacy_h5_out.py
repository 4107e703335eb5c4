"""Legacy HDF5 out: `model.save("m.h5")` writes what Keras 3's `model.save("m.h5")` writes for the
same model (root attributes, `model_weights` groups, `layer_names`, `weight_names`, datasets), Keras
loads it with equal outputs, kir loads it back exactly, and models Keras' format cannot describe are
refused before any file is written."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

import kir  # noqa: E402
from kir.errors import ConfigError, ExportError  # noqa: E402
from kir.models import keras_files, load_model  # noqa: E402
from kir.models.keras_files import legacy_writer, safety  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.keras_files import models  # noqa: E402

# Sequential; Sequential with BatchNormalization; shared nested Functional with two inputs; a shared
# LSTM with two inputs; Bidirectional GRU/LSTM, TimeDistributed, BatchNormalization and a frozen layer
CASES = ["sequential_mlp", "mlp_categorical", "shared_vision", "shared_lstm", "recurrent"]


def _kir_model(case: str):
    model = models.build(case, kir)
    models.randomize_kir(model)
    return model


def _save_h5(model, path) -> None:
    with pytest.warns(UserWarning, match="This file format is considered legacy"):
        model.save(str(path))


def _structure(path) -> dict:
    """Root attribute names, the parsed model config's top keys, and every group/dataset under
    model_weights with its attributes (names lists as lists), shape and dtype."""
    found: dict = {}
    with h5py.File(path) as h5:
        found["/"] = sorted(h5.attrs)
        found["/config"] = sorted(json.loads(h5.attrs["model_config"])["config"])

        def visit(name, obj):
            attrs = {k: [str(x) for x in np.asarray(v).reshape(-1)] for k, v in obj.attrs.items()}
            found[name] = (attrs, getattr(obj, "shape", None), str(getattr(obj, "dtype", "")))

        h5["model_weights"].visititems(visit)
        found["model_weights"] = {k: str(v) for k, v in h5["model_weights"].attrs.items()}
    return found


@pytest.mark.parametrize("case", CASES)
def test_h5_opens_in_keras_equal_and_matches_keras_own_file(case, tmp_path):
    model = _kir_model(case)
    _save_h5(model, tmp_path / "kir.h5")
    keras_model = keras.saving.load_model(tmp_path / "kir.h5")
    assert [lay.name for lay in keras_model.layers] == [lay.name for lay in model.layers]
    xs = models.inputs(model)
    expected = models.kir_outputs(model, xs)
    got = models.keras_outputs(keras_model, xs)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert_close(a, b, rtol=1e-6)

    again = load_model(str(tmp_path / "kir.h5"))  # kir reads its own .h5 back, bit for bit
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)

    twin = models.build(case, keras)
    twin.save(tmp_path / "keras.h5")
    assert _structure(tmp_path / "kir.h5") == _structure(tmp_path / "keras.h5")


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_seq2seq_initial_state_is_written_as_keras_calls_it(tmp_path, suffix):
    """kir records `decoder(x, initial_state=[h, c])` as the call [x, h, c]; Keras' config needs the keyword."""
    L = kir.layers
    enc_in, dec_in = kir.Input(shape=(None, 5), name="enc_in"), kir.Input(shape=(None, 6), name="dec_in")
    _, h, c = L.LSTM(4, return_state=True, name="encoder")(enc_in)
    seq = L.LSTM(4, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    model = kir.Model([enc_in, dec_in], L.Dense(6, activation="softmax", name="probs")(seq), name="s2s")
    models.randomize_kir(model)
    if suffix == ".h5":
        _save_h5(model, tmp_path / "m.h5")
    else:
        model.save(str(tmp_path / "m.keras"))
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(2, 3, 5)).astype("float32"), rng.normal(size=(2, 4, 6)).astype("float32")]
    keras_model = keras.saving.load_model(tmp_path / f"m{suffix}")
    assert_close(np.asarray(keras_model(xs)), model.predict(xs), rtol=1e-6)
    assert_close(load_model(str(tmp_path / f"m{suffix}")).predict(xs), model.predict(xs), rtol=1e-6)


def _two_outputs(lib):
    x = lib.Input(shape=(3,), name="x")
    return lib.Model(x, [lib.layers.Dense(2, name="a")(x), lib.layers.Dense(1, name="b")(x)], name="two")


def test_compiled_model_gets_a_training_config_keras_compiles_from(tmp_path):
    model = _two_outputs(kir)
    model.compile(optimizer=kir.optimizers.SGD(0.1, momentum=0.9), loss_weights=[1.0, 0.5],
                  loss=["mse", kir.losses.BinaryCrossentropy(from_logits=True)], metrics=[["mae"], ["accuracy"]])
    _save_h5(model, tmp_path / "kir.h5")
    twin = _two_outputs(keras)
    twin.compile(optimizer="sgd", loss=["mean_squared_error", "binary_crossentropy"])
    twin.save(tmp_path / "keras.h5")
    with h5py.File(tmp_path / "kir.h5") as ours, h5py.File(tmp_path / "keras.h5") as theirs:
        assert sorted(ours.attrs) == sorted(theirs.attrs)
        config = json.loads(ours.attrs["training_config"])
        assert sorted(config) == sorted(json.loads(theirs.attrs["training_config"]))
    # Keras 3.15 cannot load its own file with loss "mse": kir writes the canonical name
    assert config["loss"][0] == "mean_squared_error" and config["loss_weights"] == [1.0, 0.5]
    loaded = keras.saving.load_model(tmp_path / "kir.h5")
    assert loaded.compiled
    opt = loaded.optimizer.get_config()
    assert type(loaded.optimizer).__name__ == "SGD" and opt["momentum"] == 0.9
    assert opt["learning_rate"] == pytest.approx(0.1)
    assert loaded.loss[1].get_config()["from_logits"] is True
    assert len(load_model(str(tmp_path / "kir.h5")).get_weights()) == 4  # kir ignores training_config


def test_training_config_keras_cannot_rebuild_is_left_out_with_a_warning(tmp_path):
    model = _two_outputs(kir)
    model.compile(optimizer="adam", loss=lambda t, p: (t - p) ** 2)
    with pytest.warns(UserWarning) as record:
        model.save(str(tmp_path / "m.h5"))
    assert [str(w.message)[:60] for w in record] == [legacy_writer.LEGACY_WARNING[:60],
                                                     "model 'two': no training_config written (loss '<lambda>' is "]
    assert all(w.filename == __file__ for w in record)  # both point at the caller's line
    with h5py.File(tmp_path / "m.h5") as h5:
        assert "training_config" not in h5.attrs
    assert not keras.saving.load_model(tmp_path / "m.h5").compiled


def test_hdf5_suffix_and_warning_text_are_keras(tmp_path, caplog):
    model = _kir_model("functional_mlp")
    with pytest.warns(UserWarning) as record:
        model.save(str(tmp_path / "m.HDF5"))
    assert [str(w.message) for w in record] == [legacy_writer.LEGACY_WARNING]
    assert record[0].filename == __file__  # points at the caller's line
    assert h5py.is_hdf5(tmp_path / "m.HDF5")
    twin = models.build("functional_mlp", keras)
    with caplog.at_level("WARNING"):
        twin.save(tmp_path / "k.h5")
    assert legacy_writer.LEGACY_WARNING in caplog.text  # word for word what Keras logs
    xs = models.inputs(model)
    assert_close(models.kir_outputs(load_model(str(tmp_path / "m.HDF5")), xs)[0], models.kir_outputs(model, xs)[0])


def test_h5_write_is_atomic_and_honours_overwrite(tmp_path, monkeypatch):
    model = _kir_model("mlp_binary")
    path = tmp_path / "m.h5"
    path.write_bytes(b"old")

    def fail(group, layer, paths):
        raise OSError("disk full")

    monkeypatch.setattr(legacy_writer, "_layer_weights", fail)
    with pytest.raises(ExportError, match="disk full"), pytest.warns(UserWarning):
        model.save(str(path))
    assert os.listdir(tmp_path) == ["m.h5"] and path.read_bytes() == b"old"
    monkeypatch.undo()
    with pytest.raises(ExportError, match="overwrite=False"), pytest.warns(UserWarning):
        model.save(str(path), overwrite=False)
    assert path.read_bytes() == b"old"
    _save_h5(model, path)
    assert h5py.is_hdf5(path)


def test_subclassed_and_unbuilt_models_are_refused_naming_the_model(tmp_path):
    class Scorer(kir.Model):
        def __init__(self):
            super().__init__(name="scorer")
            self.dense = kir.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Scorer()
    model.predict(np.ones((1, 3), "float32"))
    with pytest.raises(ConfigError, match=r"model 'scorer' is a subclassed model \(Scorer.*save\('net\.kir'\)"):
        model.save(str(tmp_path / "net.h5"))
    with pytest.raises(ConfigError, match="not built"):
        kir.models.Sequential([kir.layers.Dense(2)], name="lazy").save(str(tmp_path / "lazy.h5"))
    assert os.listdir(tmp_path) == []


def test_long_name_lists_are_chunked_as_keras_reads_them():
    from keras.src.legacy.saving.legacy_h5_format import load_attributes_from_hdf5_group

    names = [f"layer_{i:05d}_" + "x" * 200 for i in range(400)]  # ~84 KB: over HDF5's 64 KB header limit
    with h5py.File(io.BytesIO(), "w") as h5:
        legacy_writer._text_list(h5, "layer_names", names)
        assert "layer_names" not in h5.attrs and {"layer_names0", "layer_names1"} <= set(h5.attrs)
        assert load_attributes_from_hdf5_group(h5, "layer_names") == names
        assert safety.text_list_attr(h5, "layer_names", "test") == names
        legacy_writer._text_list(h5, "weight_names", [])
        assert load_attributes_from_hdf5_group(h5, "weight_names") == []


def test_save_h5_is_exported():
    assert keras_files.save_h5 is legacy_writer.save_h5
