"""kir.mixed_precision: Keras' policy API; variables and exports stay float32 (issue 14)."""

import warnings

import numpy as np
import onnx
import pytest

import kir
from kir import layers
from kir.errors import ConfigError
from kir.training.compile import _accelerator_present


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    kir.mixed_precision.set_global_policy(None)


def test_policy_api_follows_keras():
    mp = kir.mixed_precision
    assert mp.global_policy().name == "float32"
    mp.set_global_policy("mixed_float16")
    p = mp.global_policy()
    assert (p.name, p.compute_dtype, p.variable_dtype) == ("mixed_float16", "float16", "float32")
    mp.set_global_policy(mp.Policy("mixed_bfloat16"))
    assert mp.global_policy().compute_dtype == "bfloat16"
    with pytest.raises(ConfigError, match="unknown dtype policy 'float8'"):
        mp.set_global_policy("float8")


def test_mixed_policy_model_trains_with_float32_weights_and_exports_float32(tmp_path):
    kir.mixed_precision.set_global_policy("mixed_float16")
    inp = layers.Input((4,))
    m = kir.models.Model(inp, layers.Dense(2)(inp))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.compile("adam", "mse")  # computes in float16 (tests/training/test_mixed_precision.py)
    slow = [w for w in caught if "on a host without a GPU/TPU" in str(w.message)]
    assert len(slow) == (0 if _accelerator_present() else 1)  # float16 CPU kernels are slow: say so
    m.fit(np.ones((8, 4), "float32"), np.ones((8, 2), "float32"), verbose=0)
    assert all(w.dtype == np.float32 for w in m.get_weights())
    m.export(str(tmp_path / "m.onnx"))
    inits = onnx.load(str(tmp_path / "m.onnx")).graph.initializer
    assert {i.data_type for i in inits} == {onnx.TensorProto.FLOAT}
