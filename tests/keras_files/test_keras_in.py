"""Keras 3 files in: `.keras` and `.h5` of the guide's models (and every layer kir has) load into kir
with Keras' names and weights; numpy predictions, `kir-export`'s ONNX file in a plain onnxruntime
session and `from_keras` all give Keras' outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from kir.cli.export import main as kir_export  # noqa: E402
from kir.models import from_keras, load_model  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.keras_files import models  # noqa: E402
from tests.zoo.test_zoo import _names  # noqa: E402  (every layer name, through nesting)

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("keras", "h5")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """case -> (Keras model, inputs, Keras outputs, {format: path}), each built once per module."""
    folder = tmp_path_factory.mktemp("keras_in")
    cache: dict[str, tuple] = {}

    def get(case: str) -> tuple:
        if case not in cache:
            keras_model = models.build(case, keras)
            models.randomize(keras_model)
            xs = models.inputs(keras_model)
            paths = {}
            for fmt in FORMATS:
                paths[fmt] = str(folder / f"{case}.{fmt}")
                keras_model.save(paths[fmt])
            cache[case] = (keras_model, xs, models.keras_outputs(keras_model, xs), paths)
        return cache[case]

    return get


def _assert_outputs(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert_close(a, b, rtol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", models.IDS)
def test_load_gives_keras_names_weights_and_outputs(saved, case, fmt):
    keras_model, xs, expected, paths = saved(case)
    model = load_model(paths[fmt])
    assert model.name == keras_model.name
    assert _names(model, []) == _names(keras_model, [])
    assert model.input_names == [t.name for t in keras_model.inputs]
    assert model.count_params() == keras_model.count_params()
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    _assert_outputs(models.kir_outputs(model, xs), expected)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", models.IDS)
def test_kir_export_runs_in_plain_onnxruntime_with_keras_input_names(saved, case, fmt, tmp_path, capsys):
    import onnxruntime as ort

    keras_model, xs, expected, paths = saved(case)
    out = str(tmp_path / "model.onnx")
    assert kir_export([paths[fmt], out, "-q"]) == 0, capsys.readouterr().err
    session = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == [t.name for t in keras_model.inputs]
    _assert_outputs(session.run(None, dict(zip(names, xs))), expected)


@pytest.mark.parametrize("case", models.IDS)
def test_from_keras_converts_a_live_model(saved, case):
    keras_model, xs, expected, _ = saved(case)
    model = from_keras(keras_model)
    assert _names(model, []) == _names(keras_model, [])
    _assert_outputs(models.kir_outputs(model, xs), expected)


def test_frozen_layers_stay_frozen(saved):
    model = load_model(saved("recurrent")[3]["keras"])
    assert model.get_layer("frozen_dense").trainable is False
    assert model.get_layer("bn").trainable is True


def test_loading_imports_neither_tensorflow_nor_keras(saved):
    paths = [saved(case)[3][fmt] for case in ("recurrent", "video_qa") for fmt in FORMATS]
    code = ("import json, sys\nfrom kir.models import load_model\n"
            f"models = [load_model(p) for p in {paths!r}]\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
            "print(json.dumps([len(models), heavy]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [4, []]


def test_compiled_and_trained_models_load(tmp_path):
    """The optimizer's state and compile config in the file are ignored."""
    keras_model = models.build("mlp_categorical", keras)  # with BatchNormalization and Dropout
    keras_model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    xs = models.inputs(keras_model, batch=4)
    keras_model.fit(xs[0], np.eye(3, dtype="float32")[[0, 1, 2, 0]], epochs=1, verbose=0)
    for fmt in FORMATS:
        keras_model.save(tmp_path / f"m.{fmt}")
        _assert_outputs(models.kir_outputs(load_model(tmp_path / f"m.{fmt}"), xs),
                        models.keras_outputs(keras_model, xs))
