"""Deeply nested models (a Model wrapping a Model wrapping ... N deep) build, save, load, predict
and export in time linear in N, without RecursionError (issue 11: depth 165 took 30 s to build,
then exceeded Python's recursion limit; each level re-inferred every level below it)."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import kir.ir.interpret
import kir.models.saving
from kir.errors import GraphError, LoadError, ShapeError
from kir.ir.interpret import nesting_depth
from kir.layers import Dense, Input
from kir.models import Model, load_model

X = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")


def nested(depth: int) -> Model:
    """`depth` levels, each Input -> Dense -> the model of the level below (depth + 1 models)."""
    x = Input((4,))
    inner = Model(x, Dense(4)(x))
    for _ in range(depth):
        x = Input((4,))
        inner = Model(x, inner(Dense(4)(x)))
    return inner


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


@pytest.fixture(scope="module")
def deep300(tmp_path_factory):
    """Depth 300 built, predicted and saved: (model, its prediction, the file, build seconds)."""
    model, built = _timed(nested, 300)
    path = tmp_path_factory.mktemp("deep") / "deep.kir"
    model.save(str(path))
    return model, model.predict(X), path, built


def test_depth_300_builds_saves_loads_and_predicts_quickly(deep300):
    model, expected, path, built = deep300
    start = time.perf_counter()
    loaded = load_model(str(path))
    got = loaded.predict(X)
    assert built + time.perf_counter() - start < 20  # it was minutes, then a RecursionError
    assert nesting_depth(loaded.to_graph()) == 300
    np.testing.assert_array_equal(got, expected)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_recursion_limit_is_raised_only_while_needed(deep300):
    before = sys.getrecursionlimit()
    model = deep300[0]
    np.testing.assert_array_equal(model.predict(X), deep300[1])
    assert sys.getrecursionlimit() == before


def test_depth_300_onnx_export_equals_numpy(deep300, tmp_path):
    import onnxruntime as ort

    model, expected, _, _ = deep300
    model.export(str(tmp_path / "deep.onnx"))
    session = ort.InferenceSession(str(tmp_path / "deep.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_load_time_is_within_a_small_factor_of_build_time(tmp_path):
    """Both are linear; a quadratic loader at depth 200 would be far over this bound."""
    model, built = _timed(nested, 200)
    model.save(str(tmp_path / "m.kir"))
    loads = [_timed(load_model, str(tmp_path / "m.kir"))[1] for _ in range(2)]
    assert min(loads) < 5 * built + 0.5, (min(loads), built)


def test_build_time_is_linear_in_depth():
    small = min(_timed(nested, 50)[1] for _ in range(2))
    large = min(_timed(nested, 400)[1] for _ in range(2))
    assert large < 8 * 4 * small + 0.5, (small, large)  # 8x the depth; quadratic would be 64x


def test_nested_call_on_other_shapes_is_still_checked():
    """The shape memo is keyed by the input specs: another shape is inferred, a wrong one refused."""
    inner = nested(3)
    y = inner(Input((4,), batch_size=5))
    assert y.shape == (5, 4)
    with pytest.raises(ShapeError, match=r"expects shape \(None, 4\), got \(None, 6\)"):
        inner(Input((6,)))


def test_deeper_than_the_bound_is_a_clear_error(monkeypatch, tmp_path):
    model = nested(12)
    model.save(str(tmp_path / "m.kir"))
    monkeypatch.setattr(kir.ir.interpret, "MAX_NESTING", 10)
    monkeypatch.setattr(kir.models.saving, "MAX_NESTING", 10)
    with pytest.raises(GraphError, match=r"nests 12 models/wrappers deep; kir supports at most 10 levels"):
        model.predict(X)
    with pytest.raises(LoadError, match=r"m.kir': the model nests 12 models/wrappers deep; kir rebuilds at most 10"):
        load_model(str(tmp_path / "m.kir"))


@pytest.mark.slow
def test_depth_100_predicts_on_tensorflow():
    model = nested(100)
    np.testing.assert_allclose(model.predict(X, backend="tensorflow"), model.predict(X), rtol=1e-5, atol=1e-5)
