"""Differential fuzzing: random valid models (tests/reliability/fuzz_models.py) give the same
outputs on numpy (the reference), ONNX at O0 and O2 and TensorFlow, save -> load -> export
gives the same ONNX bytes as exporting the original, a legacy `.h5` saved by kir loads back
(kir) with equal predictions, and Keras (the oracle) loads kir's `.keras` and `.h5` and predicts
what numpy does (one model in KIR_FUZZ_KERAS_EVERY, default 5 in CI and 3 deep: loading in Keras
costs more than the rest together; 0 turns the oracle off).

Profiles: KIR_FUZZ_PROFILE=ci (default: 25 models, bounded for CI) or deep (thousands; run it
by hand, e.g. `KIR_FUZZ_PROFILE=deep KIR_FUZZ_EXAMPLES=5000 pytest tests/reliability/test_fuzz_models.py`).
No example database is written (the default would land in .hypothesis/ in the checkout).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.reliability.fuzz_models import Recipe, model_recipe

pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")

PROFILE = os.environ.get("KIR_FUZZ_PROFILE", "ci")
settings.register_profile("kir-ci", max_examples=25, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("kir-deep", max_examples=int(os.environ.get("KIR_FUZZ_EXAMPLES", "5000")), deadline=None,
                          database=None, suppress_health_check=list(HealthCheck), print_blob=True,
                          phases=[p for p in Phase if p.name != "explain"])  # explain costs minutes per failure
FUZZ = settings.get_profile(f"kir-{PROFILE}")

KERAS_EVERY = int(os.environ.get("KIR_FUZZ_KERAS_EVERY", "5" if PROFILE == "ci" else "3"))
RTOL = 2e-4  # relative to the output's scale: float32 engines sum in different orders


def _close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal within RTOL of the output's scale. Where the reference holds NaN (Keras' masked
    average over a fully masked sequence is 0/0 on every engine) only the shape is compared:
    engines propagate NaN differently through later ops (max, relu, recurrences)."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if np.isnan(want).any():
        return
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    err = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
    assert err <= RTOL * scale, f"{what}: max abs err {err:.3g} (scale {scale:.3g})"


def _outputs(result) -> list[np.ndarray]:
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _keras_agrees(paths: list[str], feeds: list[np.ndarray], want: list[np.ndarray]) -> None:
    """Keras loads each of kir's files and its predict gives numpy's outputs (predict, not an eager
    call: TensorFlow's eager CPU channels_first Conv2D with a 3x3 'valid' kernel is wrong, predict's is not)."""
    import keras

    for path in paths:
        loaded = keras.saving.load_model(path, compile=False)
        got = _outputs(loaded.predict(feeds if len(feeds) > 1 else feeds[0], verbose=0))
        assert len(got) == len(want), f"keras {path}: {len(got)} outputs, kir {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            _close(np.asarray(g), w, f"keras {os.path.basename(path)} output {i}")



@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")  # kir's .h5 warns as Keras'
@pytest.mark.filterwarnings("ignore:Layer '.*' .* does not support masking")  # Keras loading kir's files
@FUZZ
@given(recipe=model_recipe(keras_every=KERAS_EVERY))
def test_backends_agree_and_files_round_trip(recipe: Recipe) -> None:
    from kir.backends.onnx import Runtime, to_onnx
    from kir.models import load_model

    model, feeds = recipe.model, recipe.feeds
    want = [o.astype(np.float64) for o in _outputs(model.predict(feeds))]
    for level in ("O0", "O2"):
        got = Runtime(to_onnx(model, optimize=level)).run(feeds)
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, f"onnx {level} output {i}")
    for i, (g, w) in enumerate(zip(_outputs(model.predict(feeds, backend="tensorflow")), want)):
        _close(g, w, f"tensorflow output {i}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.kir")
        model.save(path)
        loaded = load_model(path)
        h5 = os.path.join(tmp, "m.h5")
        model.save(h5)
        for i, (g, w) in enumerate(zip(_outputs(load_model(h5).predict(feeds)), want)):
            np.testing.assert_array_equal(g, w, err_msg=f".h5 save -> load output {i}")
        if recipe.keras_oracle:
            keras_file = os.path.join(tmp, "m.keras")
            model.save(keras_file)
            _keras_agrees([keras_file, h5] if recipe.keras_h5 else [keras_file], feeds, want)
    assert to_onnx(loaded).SerializeToString() == to_onnx(model).SerializeToString(), \
        "save -> load -> export differs from export"
