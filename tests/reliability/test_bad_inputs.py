"""The bad-input corpus (tests/reliability/bad_inputs.py, >= 150 cases): each bad call through a
public entry point raises exactly the expected KirError subclass with a message naming the
culprit, and no raw networkx / onnx / onnxruntime / TensorFlow / numpy exception escapes."""

from __future__ import annotations

import functools

import pytest

from kir.errors import KirError
from tests.reliability.bad_inputs import CASES, expected_class

IDS = [case[0] for case in CASES]


@functools.cache
def outcome(case_id: str) -> BaseException | None:
    """What the case raised (run once, shared by both tests)."""
    _, fn, _, _ = CASES[IDS.index(case_id)]
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - classified by the tests
        return exc
    return None


def _foreign() -> tuple[type, ...]:
    """Exception classes of the engines kir wraps: none of them may reach a user."""
    import networkx
    import numpy as np
    import onnx
    import onnxruntime
    import tensorflow as tf

    return (networkx.NetworkXException, onnx.checker.ValidationError, onnx.shape_inference.InferenceError,
            onnxruntime.capi.onnxruntime_pybind11_state.Fail,
            onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument, tf.errors.OpError,
            np.exceptions.AxisError, np.linalg.LinAlgError, np.exceptions.DTypePromotionError)


def test_the_corpus_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 150
    assert len(set(IDS)) == len(IDS)
    groups = {case_id.split("-")[0] for case_id in IDS}
    for entry in ("conv2d", "compile", "numpy", "onnx", "tensorflow", "fit", "save", "load", "export", "cli"):
        assert entry in groups, entry


@pytest.mark.parametrize("case_id", IDS)
def test_bad_input_is_refused_clearly(case_id: str) -> None:
    _, _, cls, culprit = CASES[IDS.index(case_id)]
    exc = outcome(case_id)
    assert exc is not None, f"{case_id}: nothing was raised"
    assert type(exc) is expected_class(cls), f"{case_id}: {type(exc).__module__}.{type(exc).__name__}: {exc}"
    assert culprit in str(exc), f"{case_id}: message does not name {culprit!r}: {exc}"


def test_no_raw_engine_exception_escapes() -> None:
    foreign = _foreign()
    raw = []
    for case_id in IDS:
        exc = outcome(case_id)
        if exc is None:
            continue
        cls = expected_class(CASES[IDS.index(case_id)][2])
        if isinstance(exc, foreign) or not (isinstance(exc, KirError) or type(exc) is cls) \
                or not type(exc).__module__.startswith("kir."):
            raw.append(f"{case_id}: {type(exc).__module__}.{type(exc).__name__}: {exc}")
    assert not raw, "\n".join(raw)
