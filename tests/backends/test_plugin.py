"""A third-party backend registered through the `kir.backends` entry-point group is found and used."""

from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pytest

import kir
from kir import backends
from kir.errors import ConfigError
from kir.layers import Dense, Input

PLUGIN_SOURCE = textwrap.dedent(
    '''
    import numpy as np
    from kir.backends.base import Backend
    from kir.backends.numpy import run


    class DoublingBackend(Backend):
        """Runs the numpy reference and doubles every output, so its use is visible."""

        name = "doubling"
        calls = 0

        def predict(self, graph, inputs, batch_size=None):
            type(self).calls += 1
            return [2 * y for y in run(graph, inputs)]
    '''
)


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    """Install a tiny distribution (module + dist-info with entry_points.txt) on sys.path."""
    (tmp_path / "kir_doubling_plugin.py").write_text(PLUGIN_SOURCE)
    dist = tmp_path / "kir_doubling_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kir-doubling-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[kir.backends]\ndoubling = kir_doubling_plugin:DoublingBackend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield
    backends._instances.pop("doubling", None)
    sys.modules.pop("kir_doubling_plugin", None)


def test_entry_point_backend_is_found_and_used_by_predict(plugin_on_path):
    assert "doubling" in backends.available()
    backend = backends.get("doubling")
    assert type(backend).__name__ == "DoublingBackend"

    x = Input(shape=(3,))
    model = kir.Model(x, Dense(2)(x))
    data = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    reference = model.predict(data)
    doubled = model.predict(data, backend="doubling")
    np.testing.assert_allclose(doubled, 2 * reference, rtol=1e-6)
    assert type(backend).calls == 1


def test_unknown_backend_names_the_close_match():
    with pytest.raises(ConfigError, match=r"unknown backend 'nunpy'\. Did you mean 'numpy'\?"):
        backends.get("nunpy")


def test_builtin_backends_are_listed():
    assert {"numpy", "onnx", "tensorflow"} <= set(backends.available())
