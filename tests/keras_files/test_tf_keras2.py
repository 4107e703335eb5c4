"""tf.keras 2 files (written by tf_keras 2.21, see fixtures/make_tf_keras2.py): legacy `.h5` models,
tf.keras' own `.keras` archives and legacy `save_weights` files load with tf.keras' outputs. Needs
neither TensorFlow nor Keras."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

import kir
from kir.errors import LoadError
from kir.models import load_model
from tests.helpers import assert_close
from tests.keras_files import models

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED = np.load(FIXTURES / "expected.npz")
CASES = sorted({key.split("/")[0] for key in EXPECTED.files})
FILES = sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".h5", ".keras") and "legacy_weights" not in p.name)


def _io(case: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    def take(kind: str) -> list[np.ndarray]:
        return [EXPECTED[f"{case}/{kind}{i}"] for i in range(sum(k.startswith(f"{case}/{kind}") for k in EXPECTED))]

    return take("in"), take("out")


def _check(model, case: str) -> None:
    xs, expected = _io(case)
    got = models.kir_outputs(model, xs)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert_close(a, b, rtol=1e-5)


def test_every_case_has_a_model_file():
    assert {name.split(".")[0] for name in FILES} == set(CASES)


@pytest.mark.parametrize("name", FILES)
def test_tf_keras2_model_files_give_tf_keras_outputs(name):
    case = name.split(".")[0]
    model = load_model(FIXTURES / name)
    twin = models.build(case, kir)
    assert [lay.name for lay in model.layers] == [lay.name for lay in twin.layers]
    assert model.input_names == twin.input_names
    _check(model, case)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.legacy_weights.h5")))
def test_legacy_save_weights_files_load_by_layer_order(name):
    case = name.split(".")[0]
    model = models.build(case, kir)
    model.load_weights(str(FIXTURES / name))
    _check(model, case)


def _config(name: str) -> dict:
    from kir.models.keras_files import read_model_config

    return read_model_config(str(FIXTURES / name))


def test_keras2_nested_model_references_count_its_own_node():
    """tf.keras 2 numbers a nested model's calls from 1 (its own node is 0), in inbound nodes too."""
    config = _config("shared_vision.h5")
    merge = next(entry for entry in config["config"]["layers"] if entry["name"] == "merge")
    assert [ref[:3] for ref in merge["inbound_nodes"][0]] == [["vision_model", 1, 0], ["vision_model", 2, 0]]
    _check(load_model(FIXTURES / "shared_vision.h5"), "shared_vision")


def test_keras2_hard_sigmoid_is_refused(tmp_path):
    """hard_sigmoid is 0.2 x + 0.5 in Keras 2 but relu6(x + 3) / 6 in Keras 3 and kir."""
    path = tmp_path / "hs.h5"
    with h5py.File(FIXTURES / "sequential_mlp.h5") as src, h5py.File(path, "w") as dst:
        for key in src:
            src.copy(src[key], dst, key)
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        dst.attrs["model_config"] = src.attrs["model_config"].replace('"activation": "relu"',
                                                                      '"activation": "hard_sigmoid"')
    with pytest.raises(LoadError, match="hard_sigmoid.*Keras 2"):
        load_model(path)
