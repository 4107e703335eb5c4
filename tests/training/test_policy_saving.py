"""A .kir file records the mixed precision policy its model trained under; the loaded model compiles
and trains under it without set_global_policy again (Keras' layers keep the policy they were built
under), and a bad policy in a file is a LoadError."""

import json
import warnings
import zipfile

import numpy as np
import pytest

import kir
from kir import layers
from kir.errors import LoadError


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    kir.mixed_precision.set_global_policy(None)


def _model():
    inp = layers.Input((4,), name="x")
    return kir.models.Model(inp, layers.Dense(2, name="out")(inp))


def test_loaded_model_trains_under_its_saved_policy(tmp_path):
    kir.mixed_precision.set_global_policy("mixed_bfloat16")
    m = _model()
    m.compile("sgd", "mse")
    m.save(tmp_path / "m.kir")
    with zipfile.ZipFile(tmp_path / "m.kir") as zf:
        assert json.loads(zf.read("model.json"))["dtype_policy"] == "mixed_bfloat16"
    kir.mixed_precision.set_global_policy(None)
    loaded = kir.models.load_model(tmp_path / "m.kir")
    assert loaded.saved_dtype_policy == "mixed_bfloat16"
    loaded.compile("sgd", "mse")
    assert loaded.compiled.policy.name == "mixed_bfloat16"
    assert kir.mixed_precision.global_policy().name == "float32"  # the global policy is left alone
    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    loaded.fit(x, x[:, :2], epochs=1, verbose=0)
    assert all(w.dtype == np.float32 for w in loaded.get_weights())


def test_mixed_float16_file_restores_loss_scaling(tmp_path):
    kir.mixed_precision.set_global_policy("mixed_float16")
    m = _model()
    m.save(tmp_path / "m.kir")  # never compiled: the policy it was built under
    kir.mixed_precision.set_global_policy(None)
    loaded = kir.models.load_model(tmp_path / "m.kir")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # float16 on a CPU-only host warns that it is slow
        loaded.compile("sgd", "mse")
    assert isinstance(loaded.compiled.optimizer, kir.optimizers.LossScaleOptimizer)


def test_float32_file_is_unchanged_and_bad_policy_is_a_load_error(tmp_path):
    _model().save(tmp_path / "m.kir")
    with zipfile.ZipFile(tmp_path / "m.kir") as zf:
        doc = json.loads(zf.read("model.json"))
        entries = {n: zf.read(n) for n in zf.namelist()}
    assert "dtype_policy" not in doc
    assert kir.models.load_model(tmp_path / "m.kir").saved_dtype_policy is None
    doc["dtype_policy"] = "float8"
    with zipfile.ZipFile(tmp_path / "bad.kir", "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, json.dumps(doc) if name == "model.json" else data)
    with pytest.raises(LoadError, match="dtype_policy 'float8' is not a policy kir knows"):
        kir.models.load_model(tmp_path / "bad.kir")
