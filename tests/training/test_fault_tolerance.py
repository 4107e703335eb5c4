"""BackupAndRestore: a fit killed mid-epoch (SIGKILL, no cleanup) and started again ends with the
weights, and the epoch losses, of an uninterrupted run with the same seed (issue 14)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent('''
    import os, sys
    import numpy as np
    import kir
    from kir import callbacks, layers

    mode, out, backup = sys.argv[1], sys.argv[2], sys.argv[3]
    kir.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.random((96, 6)).astype("float32")
    y = (x @ rng.random((6, 1))).astype("float32")
    inp = layers.Input((6,))
    h = layers.Dropout(0.3)(layers.Dense(8, activation="relu")(inp))
    m = kir.models.Model(inp, layers.Dense(1)(h))
    m.compile(kir.optimizers.Adam(0.01), "mse")

    class Kill(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.training_state.epoch == 1 and batch == 4:
                os.kill(os.getpid(), 9)  # after a backup at batch 3: batch 4 is redone on resume

    cbs = [callbacks.BackupAndRestore(backup, save_freq=2)] + ([Kill()] if mode == "kill" else [])
    hist = m.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=cbs)
    np.savez(out, *m.get_weights(), loss=np.array(hist.history["loss"]))
''')


def _run(script, *args):
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@pytest.mark.slow  # three TensorFlow processes
def test_killed_fit_resumes_to_the_uninterrupted_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    plain = _run(script, "plain", tmp_path / "plain.npz", tmp_path / "backup_plain")
    killed = _run(script, "kill", tmp_path / "resumed.npz", tmp_path / "backup")
    assert killed.wait(timeout=300) == -9
    assert (tmp_path / "backup" / "checkpoint").exists()
    resumed = _run(script, "resume", tmp_path / "resumed.npz", tmp_path / "backup")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()[-2000:]
    assert plain.wait(timeout=300) == 0, plain.stderr.read().decode()[-2000:]
    a, b = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "resumed.npz")
    for key in a.files:
        if key != "loss":
            np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_allclose(a["loss"][1:], b["loss"], rtol=1e-12)  # resumed in epoch 2, with its partial logs
    assert not (tmp_path / "backup").exists()  # deleted after the completed fit


WORKER = textwrap.dedent('''
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import kir
    from kir import callbacks, layers

    mode, backup = sys.argv[1], sys.argv[2]
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    kir.utils.set_random_seed(1)
    inp = layers.Input((6,))
    m = kir.models.Model(inp, layers.Dense(3, activation="softmax")(layers.Dense(16, activation="relu")(inp)))
    w0 = m.get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.random((96, 6)).astype("float32"), rng.integers(0, 3, 96)
    with strategy.scope():
        m.compile(kir.optimizers.Adam(0.01), "sparse_categorical_crossentropy")

    class Kill(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.training_state.epoch == 1 and batch == 4:
                os.kill(os.getpid(), 9)

    kir.utils.set_random_seed(5)
    cbs = [callbacks.BackupAndRestore(backup, save_freq=2)] + ([Kill()] if mode == "kill" and task == 1 else [])
    h = m.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=cbs).history
    got = m.get_weights()
    m.set_weights(w0)
    m.compile(kir.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    kir.utils.set_random_seed(5)
    ref = m.fit(x, y, batch_size=16, epochs=3, verbose=0).history  # uninterrupted, one device
    for a, b in zip(got, m.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-6)
    np.testing.assert_allclose(ref["loss"][-len(h["loss"]):], h["loss"], rtol=1e-5)
    print("OK", task, len(h["loss"]))
''')


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two multi-worker jobs of two TensorFlow processes each
def test_killed_worker_restarted_job_completes_with_uninterrupted_weights(tmp_path):
    import json
    import os

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}

    def start(mode, i):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        return subprocess.Popen([sys.executable, str(script), mode, str(tmp_path / "backup")], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    chief, worker = start("kill", 0), start("kill", 1)
    try:
        assert worker.wait(timeout=300) == -9  # worker 1 died mid-epoch 2
    finally:
        chief.kill()  # the orchestrator (a TFJob, Ray) restarts the job: every worker starts again
        chief.wait()
    assert (tmp_path / "backup" / "checkpoint").exists()
    procs = [start("resume", 0), start("resume", 1)]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "OK" in out and out.split()[-1] == "2"  # resumed in epoch 2, ran epochs 2 and 3
    assert not (tmp_path / "backup").exists()
