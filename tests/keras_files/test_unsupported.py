"""What kir cannot run is refused before anything is built: every layer kir lacks in one error (and in
one line from kir-export), arguments and calls that would change the numbers with a reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")

from kir.errors import KirError, LoadError  # noqa: E402
from kir.models import from_keras, load_model  # noqa: E402
from kir.models.keras_files import UnsupportedLayersError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@keras.saving.register_keras_serializable(package="kir_tests")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return 2 * x


def _unsupported_model():
    L = keras.layers
    x = keras.Input(shape=(8, 8, 3), name="image")
    y = L.Lambda(lambda t: t * 0.5, name="halve")(x)
    y = L.CenterCrop(4, 4, name="crop")(y)
    inner = keras.Sequential([keras.Input(shape=(4, 4, 3)), L.Conv2D(2, 3, name="conv"), Doubler(name="double")],
                             name="inner")
    y = L.Flatten(name="flat")(inner(y))
    return keras.Model(x, L.Dense(1, name="out")(y), name="unsupported")


EXPECTED = [("halve", "Lambda"), ("crop", "CenterCrop"), ("double", "Doubler")]


def test_every_unsupported_layer_is_named_in_one_error(tmp_path):
    model = _unsupported_model()
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        with pytest.raises(UnsupportedLayersError) as info:
            load_model(path)
        assert [(name, cls) for name, cls, _ in info.value.layers] == EXPECTED
        message = str(info.value)
        assert message.startswith(f"cannot load '{path}': 3 layer(s) have no kir equivalent: 'halve' (Lambda), "
                                  f"'crop' (CenterCrop), 'double' (Doubler)")
        assert "bytecode" in message and "\n" not in message
        assert isinstance(info.value, LoadError)
    with pytest.raises(UnsupportedLayersError, match="3 layer"):
        from_keras(model)


def test_kir_export_prints_one_line_and_writes_nothing(tmp_path):
    _unsupported_model().save(tmp_path / "m.keras")
    out = tmp_path / "m.onnx"
    proc = subprocess.run([sys.executable, "-m", "kir.cli.export", str(tmp_path / "m.keras"), str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kir-export: error: cannot load")
    assert all(f"'{name}' ({cls})" in lines[0] for name, cls in EXPECTED)
    assert not out.exists()


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("build,match", [
    (lambda L, x: L.LayerNormalization(rms_scaling=True, name="rms")(L.Embedding(10, 3)(x)), "rms.*rms_scaling"),
    (lambda L, x: L.Dropout(0.5, name="mc")(L.Embedding(10, 3)(x), training=True), "'mc'.*training=True"),
    (lambda L, x: L.Dense(2, dtype="float64", name="wide")(L.Embedding(10, 3)(x)), "wide.*float64"),
], ids=["rms_scaling", "training_call", "float64"])
def test_what_would_change_the_numbers_is_refused_with_the_reason(build, match, tmp_path):
    x = keras.Input(shape=(4,), dtype="int32", name="ids")
    keras.Model(x, build(keras.layers, x)).save(tmp_path / "m.keras")
    with pytest.raises(LoadError, match=match):
        load_model(tmp_path / "m.keras")


def test_training_only_arguments_are_dropped(tmp_path):
    L = keras.layers
    x = keras.Input(shape=(3,), name="x")
    y = L.Dense(2, kernel_regularizer="l2", kernel_constraint="max_norm", activity_regularizer="l1",
                name="dense")(x)
    keras.Model(x, L.BatchNormalization(synchronized=True, name="bn")(y)).save(tmp_path / "m.keras")
    model = load_model(tmp_path / "m.keras")
    assert [lay.name for lay in model.layers] == ["x", "dense", "bn"]


def test_subclassed_models_are_refused_by_from_keras():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(KirError, match="subclassed"):
        from_keras(Net())
