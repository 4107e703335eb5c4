"""`import kir` stays light: no TensorFlow, no onnxruntime, well under a second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import kir
elapsed = time.perf_counter() - t0
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'onnxruntime', 'keras', 'tf_keras'))
print(json.dumps({"elapsed": elapsed, "heavy": heavy}))
"""


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_kir_is_light_and_fast():
    result = _probe(_PROBE)
    assert result["heavy"] == [], f"import kir pulled in {result['heavy'][:5]}"
    assert result["elapsed"] < 2.0, f"import kir took {result['elapsed']:.2f} s"


def test_building_and_running_on_numpy_stays_light():
    """The numpy backend path (build a model, predict) needs neither TensorFlow nor onnxruntime."""
    code = _PROBE.replace(
        "elapsed = time.perf_counter() - t0",
        "elapsed = time.perf_counter() - t0\n"
        "import numpy as np\n"
        "x = kir.Input(shape=(4,))\n"
        "m = kir.Model(x, kir.layers.Dense(3, activation='relu')(x))\n"
        "assert m.predict(np.ones((2, 4), 'float32')).shape == (2, 3)",
    )
    assert _probe(code)["heavy"] == []
