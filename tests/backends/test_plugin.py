"""A third-party backend registered through the `kir.backends` entry-point group is found and used."""

from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pytest

import kir
from kir import backends
from kir.errors import ConfigError, UnsupportedOpError
from kir.layers import Activation, Dense, Input, LayerNormalization

PLUGIN_SOURCE = textwrap.dedent(
    '''
    """A float64 backend for Dense and relu, laid out like kir's own (table, context, interpreter)."""
    import numpy as np

    from kir.backends.base import Backend
    from kir.backends.context import LoweringContext, LoweringInterpreter
    from kir.backends.table import LoweringTable
    from kir.passes import run_pipeline

    LOWERINGS = LoweringTable("float64")


    @LOWERINGS.register("Dense")
    def dense(ctx, attrs, inputs, params):
        y = inputs[0] @ params["kernel"] + params.get("bias", 0.0)
        return [np.maximum(y, 0.0) if attrs.get("activation") == "relu" else y]


    @LOWERINGS.register("Activation")
    def activation(ctx, attrs, inputs, params):
        assert attrs["activation"] == "relu", ctx.path
        return [np.maximum(inputs[0], 0.0)]


    class Float64Interpreter(LoweringInterpreter):
        table = LOWERINGS

        def __init__(self):
            super().__init__(LoweringContext())

        def params(self, graph, vertex):
            return {role: graph.store[key].astype(np.float64) for role, key in vertex.params.items()}


    class Float64Backend(Backend):
        """Runs the O1-optimized graph in float64."""

        name = "float64"
        calls = 0

        def predict(self, graph, inputs, batch_size=None):
            type(self).calls += 1
            optimized, _ = run_pipeline(graph, "inference", "O1")
            return Float64Interpreter().run(optimized, [x.astype(np.float64) for x in inputs])
    '''
)


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    """Install a tiny distribution (module + dist-info with entry_points.txt) on sys.path."""
    (tmp_path / "kir_float64_plugin.py").write_text(PLUGIN_SOURCE)
    dist = tmp_path / "kir_float64_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kir-float64-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[kir.backends]\nfloat64 = kir_float64_plugin:Float64Backend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield
    backends._instances.pop("float64", None)
    sys.modules.pop("kir_float64_plugin", None)


def test_entry_point_backend_is_found_and_used_by_predict(plugin_on_path):
    assert "float64" in backends.available()
    backend = backends.get("float64")
    assert type(backend).__name__ == "Float64Backend"

    x = Input(shape=(3,))
    model = kir.Model(x, Dense(2)(Activation("relu")(Dense(4, activation="relu")(x))))
    data = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    reference = model.predict(data)
    got = model.predict(data, backend="float64")
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, reference, rtol=1e-5)
    assert type(backend).calls == 1


def test_a_plugin_missing_a_lowering_names_op_layer_and_backend(plugin_on_path):
    x = Input(shape=(3,))
    model = kir.Model(x, Dense(2)(LayerNormalization(name="norm")(x)))
    with pytest.raises(UnsupportedOpError) as info:
        model.predict(np.ones((1, 3), np.float32), backend="float64")
    assert all(word in str(info.value) for word in ("LayerNormalization", "'norm'", "float64"))


def test_unknown_backend_names_the_close_match():
    with pytest.raises(ConfigError, match=r"unknown backend 'nunpy'\. Did you mean 'numpy'\?"):
        backends.get("nunpy")


def test_builtin_backends_are_listed():
    assert {"numpy", "onnx", "tensorflow"} <= set(backends.available())
