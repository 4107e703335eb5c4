"""mixed_float16 under MirroredStrategy (2 logical CPUs) against one device and against Keras 3 doing
the same, on data that makes steps overflow: the loss-scale sequence, the skipped steps and the
weights. Logical devices must be set before TensorFlow initialises: one subprocess runs every case.

Findings (docs/distributed.md, "Mixed precision under a strategy"):
- steps whose overflow does not depend on how the batch is split: kir mirrored == kir one device ==
  Keras mirrored == Keras one device;
- a step whose float16 weight gradient overflows only when summed over the whole global batch is
  skipped on one device and applied under the strategy (each replica's partial sum is finite and the
  all-reduce is float32), by Keras 3 exactly as by kir: an expected difference, not a kir bug;
- only one replica's part overflows: kir checks the all-reduced gradients, so every replica skips
  the step, as on one device.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent('''
    import json, warnings
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import kir
    from kir import layers

    warnings.simplefilter("ignore")
    kir.mixed_precision.set_global_policy("mixed_float16")
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    kir.utils.set_random_seed(1)
    inp = layers.Input((8,))
    m = kir.models.Model(inp, layers.Dense(4)(layers.Dense(32, activation="relu")(inp)))
    w0 = m.get_weights()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    base_x, y = rng.random((96, 8)).astype("float32"), rng.random((96, 4)).astype("float32")
    CASES = {  # name: (magnitude, rows made large); batches of 16, replica parts of 8
        "split_independent": (300.0, [(16, 32), (48, 64)]),
        "global_sum_overflow": (60.0, [(16, 32), (48, 64)]),
        "one_replica_overflows": (300.0, [(16, 32), (56, 64), (64, 72)]),
    }

    def kir_run(x, dist):
        m.set_weights(w0)
        m.compile(kir.optimizers.SGD(0.01), "mae", distribute=dist)
        return record(m, m.optimizer, x, kir.callbacks.LambdaCallback)

    def keras_run(x, dist):
        with (dist.scope() if dist is not None else tf.name_scope("single")):
            ki = keras.Input((8,))
            km = keras.Model(ki, keras.layers.Dense(4)(keras.layers.Dense(32, activation="relu")(ki)))
            km.set_weights(w0)
            km.compile(keras.optimizers.SGD(0.01), "mae")
        return record(km, km.optimizer, x, keras.callbacks.LambdaCallback)

    def record(model, opt, x, lambda_cb):
        scales, its = [], []
        cb = lambda_cb(on_train_batch_end=lambda b, logs: (scales.append(float(opt.dynamic_scale.numpy())),
                                                           its.append(int(opt.iterations.numpy()))))
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[cb])
        return {"scales": scales, "iterations": its, "weights": [w.tolist() for w in model.get_weights()]}

    out = {}
    for name, (mag, rows) in CASES.items():
        x = base_x.copy()
        for lo, hi in rows:
            x[lo:hi] *= mag
        out[name] = {"kir": kir_run(x, None), "kir_mirrored": kir_run(x, strategy)}
        if name != "one_replica_overflows":  # Keras 3 checks only replica 0's own gradients there
            out[name].update(keras=keras_run(x, None), keras_mirrored=keras_run(x, strategy))
    print("RESULT" + json.dumps(out))
''')


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    script = tmp_path_factory.mktemp("mixed_mirrored") / "run.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def _skipped(run: dict) -> list[int]:
    """Steps the loss scaler skipped: the optimizer's iteration count did not move."""
    its = [0] + run["iterations"]
    return [i for i in range(len(run["iterations"])) if its[i + 1] == its[i]]


def _assert_same(a: dict, b: dict, what: str) -> None:
    assert a["scales"] == b["scales"], f"{what}: loss-scale sequences differ"
    assert _skipped(a) == _skipped(b), f"{what}: skipped steps differ"
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(wa, wb, rtol=1e-3, atol=1e-3, err_msg=what)  # float16 tolerance


@pytest.mark.slow  # a TensorFlow subprocess, 4 fits per case
def test_split_independent_overflow_is_identical_everywhere(results):
    case = results["split_independent"]
    assert _skipped(case["kir"]), "the data must make some steps overflow"
    assert min(case["kir"]["scales"]) < 2.0**15
    for other in ("kir_mirrored", "keras", "keras_mirrored"):
        _assert_same(case["kir"], case[other], f"kir one device vs {other}")


@pytest.mark.slow
def test_global_batch_overflow_differs_from_one_device_exactly_as_keras(results):
    """A float16 weight gradient over 65504 only when summed over the global batch: one device skips,
    a strategy (per-replica float16 partial sums, float32 all-reduce) applies, in Keras 3 too."""
    case = results["global_sum_overflow"]
    _assert_same(case["kir"], case["keras"], "kir vs Keras, one device")
    _assert_same(case["kir_mirrored"], case["keras_mirrored"], "kir vs Keras, mirrored")
    assert len(_skipped(case["kir"])) == len(_skipped(case["kir_mirrored"])) + 1
    assert set(_skipped(case["kir_mirrored"])) < set(_skipped(case["kir"]))


@pytest.mark.slow
def test_one_replica_overflow_skips_on_every_replica(results):
    """Batch 3 overflows only in replica 1's half, batch 4 only in replica 0's: both are skipped on
    every replica, as on one device (Keras 3 checks replica 0's own gradients before the all-reduce
    and applies batch 3's non-finite update)."""
    case = results["one_replica_overflows"]
    assert {3, 4} <= set(_skipped(case["kir"]))
    _assert_same(case["kir"], case["kir_mirrored"], "kir one device vs mirrored")
    assert all(np.isfinite(w).all() for w in map(np.asarray, case["kir_mirrored"]["weights"]))
