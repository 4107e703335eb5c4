"""tf.distribute: MirroredStrategy over 2 logical CPU devices equals a single-device fit on the same
global batch (issue 14). Logical devices must be set before TensorFlow initialises: subprocess."""

import subprocess
import sys
import textwrap

import pytest

from kir.training.distributed import replica_bounds

SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import kir
    from kir import layers

    kir.utils.set_random_seed(1)
    inp = layers.Input((6,))
    m = kir.models.Model(inp, layers.Dense(3, activation="softmax")(layers.Dense(16, activation="relu")(inp)))
    w0 = m.get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.random((72, 6)).astype("float32"), rng.integers(0, 3, 72)

    def run(strategy=None, mode=None):
        m.set_weights(w0)
        args = dict(optimizer=kir.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
        if mode == "scope":
            with strategy.scope():
                m.compile(**args)
        else:
            m.compile(**args, distribute=strategy)
        h = m.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x[:20], y[:20])).history
        return m.get_weights(), h, m.evaluate(x, y, verbose=0)

    kir.utils.set_random_seed(5)
    ref = run()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    kir.utils.set_random_seed(5)
    got = run(strategy, "scope")
    assert m.compiled.strategy is strategy
    kir.utils.set_random_seed(5)
    got2 = run(strategy, "argument")
    for a, b in zip(ref[0], got[0]):
        np.testing.assert_allclose(a, b, atol=2e-6)
    for a, b in zip(got[0], got2[0]):
        np.testing.assert_allclose(a, b, atol=2e-6)
    for k in ref[1]:
        np.testing.assert_allclose(ref[1][k], got[1][k], rtol=1e-5)
    np.testing.assert_allclose(ref[2], got[2], rtol=1e-5)
    steps = []
    for dist in (None, strategy):
        m.set_weights(w0)
        m.compile(kir.optimizers.SGD(0.1), "sparse_categorical_crossentropy", distribute=dist)
        steps.append((m.train_on_batch(x[:20], y[:20]), m.test_on_batch(x, y), m.get_weights()))
    np.testing.assert_allclose(steps[0][0], steps[1][0], rtol=1e-6)
    np.testing.assert_allclose(steps[0][1], steps[1][1], rtol=1e-6)
    for a, b in zip(steps[0][2], steps[1][2]):
        np.testing.assert_allclose(a, b, atol=1e-6)
    print("OK", ref[1])
''')


@pytest.mark.slow  # a TensorFlow subprocess
def test_mirrored_on_two_logical_cpus_equals_single_device(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK" in proc.stdout


@pytest.mark.parametrize("batch,replicas,expected", [(16, 2, [(0, 8), (8, 16)]), (5, 2, [(0, 3), (3, 5)]),
                                                     (7, 3, [(0, 3), (3, 5), (5, 7)])])
def test_global_batch_split_is_contiguous_and_even(batch, replicas, expected):
    assert replica_bounds(batch, replicas) == expected
    sizes = [hi - lo for lo, hi in replica_bounds(batch, replicas)]
    assert sum(sizes) == batch and max(sizes) - min(sizes) <= 1


WORKER = textwrap.dedent('''
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG, as under Ray Train or a TFJob
    import kir
    from kir import callbacks, layers

    out = sys.argv[1]
    kir.utils.set_random_seed(1)
    inp = layers.Input((6,))
    m = kir.models.Model(inp, layers.Dense(3, activation="softmax")(layers.Dense(16, activation="relu")(inp)))
    w0 = m.get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 6)).astype("float32"), rng.integers(0, 3, 64)
    with strategy.scope():
        m.compile(kir.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    kir.utils.set_random_seed(5)
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    ck = callbacks.ModelCheckpoint(os.path.join(out, f"ck{task}-{{epoch}}.weights.h5"), save_weights_only=True)
    h = m.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[ck]).history
    got = m.get_weights()
    m.set_weights(w0)
    m.compile(kir.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    kir.utils.set_random_seed(5)
    ref = m.fit(x, y, batch_size=16, epochs=2, verbose=0).history  # one device, same global batch
    for a, b in zip(got, m.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-6)
    for k in ref:
        np.testing.assert_allclose(ref[k], h[k], rtol=1e-5)
    print("OK", task)
''')


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two TensorFlow worker processes talking over localhost
def test_multi_worker_mirrored_two_local_processes_equal_single_device(tmp_path):
    import json
    import os

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    procs = []
    for i in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "OK" in out
    # checkpoints by the chief (worker 0) only
    assert sorted(f.name for f in tmp_path.glob("ck*")) == ["ck0-1.weights.h5", "ck0-2.weights.h5"]


RAY_TRAIN = textwrap.dedent('''
    import json, os, sys
    import numpy as np
    import ray
    from ray.train import ScalingConfig
    from ray.train.tensorflow import TensorflowTrainer

    def train_func(config):
        import tensorflow as tf
        strategy = tf.distribute.MultiWorkerMirroredStrategy()  # Ray Train has set TF_CONFIG
        import kir
        from kir import layers
        kir.utils.set_random_seed(1)
        inp = layers.Input((6,))
        m = kir.models.Model(inp, layers.Dense(1)(layers.Dense(8, activation="relu")(inp)))
        with strategy.scope():
            m.compile("adam", "mse")
        rng = np.random.default_rng(0)
        x = rng.random((64, 6)).astype("float32")
        h = m.fit(x, x.sum(1, keepdims=True), batch_size=16, epochs=2, verbose=0).history
        metrics = {"loss": h["loss"][-1], "replicas": strategy.num_replicas_in_sync}
        rank = ray.train.get_context().get_world_rank()
        with open(os.path.join(config["out"], f"rank{rank}.json"), "w") as f:
            json.dump(metrics, f)
        ray.train.report(metrics)

    out = sys.argv[1]
    ray.init(num_cpus=2, include_dashboard=False)
    TensorflowTrainer(train_func, train_loop_config={"out": out},
                      scaling_config=ScalingConfig(num_workers=2, use_gpu=False)).fit()
    ranks = [json.load(open(os.path.join(out, f"rank{r}.json"))) for r in range(2)]
    assert [r["replicas"] for r in ranks] == [2, 2], ranks
    assert ranks[0]["loss"] == ranks[1]["loss"], ranks  # one model trained by both workers
    print("OK", ranks)
''')


@pytest.mark.slow  # a Ray cluster with 2 TensorFlow workers
def test_ray_train_runs_a_kir_fit_on_two_workers(tmp_path):
    pytest.importorskip("ray.train.tensorflow", reason="needs the 'distributed' extra (ray[train])")
    script = tmp_path / "ray_train.py"
    script.write_text(RAY_TRAIN)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK" in proc.stdout
