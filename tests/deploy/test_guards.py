"""In-graph id guards: plain onnxruntime refuses out-of-range and negative token ids."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from kir.backends.numpy import run


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def guarded(lstm, tmp_path_factory):
    path = tmp_path_factory.mktemp("guard") / "lstm.onnx"
    lstm.export(path, guard_ids=True)
    return session(path)


def ids(bad=None):
    x = np.arange(12, dtype=np.int32).reshape(2, 6)
    if bad is not None:
        x[1, 4] = bad
    return x


def test_good_ids_run_as_before(lstm, guarded) -> None:
    np.testing.assert_allclose(guarded.run(None, {"tokens": ids()})[0], run(lstm.to_graph(), [ids()])[0],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [-1, -50, 50, 10**6])
def test_bad_ids_are_refused_naming_input_and_range(guarded, bad) -> None:
    with pytest.raises(Exception, match=r"tokens/guard_ids_in_0_50") as info:
        guarded.run(None, {"tokens": ids(bad)})
    assert type(info.value).__module__.startswith("onnxruntime")


def test_without_guard_negative_ids_wrap_silently(lstm, tmp_path) -> None:
    """What the guard prevents: ONNX Gather reads row -1 (the last one) without complaint."""
    lstm.export(tmp_path / "plain.onnx")
    out = session(tmp_path / "plain.onnx").run(None, {"tokens": ids(-1)})[0]
    assert np.isfinite(out).all()


def test_guard_survives_float16_and_int8(lstm, tmp_path) -> None:
    for name, options in (("half", {"dtype": "float16"}), ("int8", {"quantize": "dynamic"})):
        lstm.export(tmp_path / f"{name}.onnx", guard_ids=True, **options)
        s = session(tmp_path / f"{name}.onnx")
        s.run(None, {"tokens": ids()})
        with pytest.raises(Exception, match="guard_ids_in_0_50"):
            s.run(None, {"tokens": ids(-3)})
