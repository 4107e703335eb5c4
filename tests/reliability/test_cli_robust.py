"""kir-export on hostile sources, exiting factories, Ctrl-C and unwritable outputs: one line, a status, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from kir.cli.export import FAILURE, INTERRUPTED, USAGE_ERROR, main
from kir.layers import Dense, Input
from kir.models import Sequential

ROOT = Path(__file__).resolve().parents[2]

FACTORIES = textwrap.dedent('''
    import sys
    import time

    import kir
    from kir.layers import Dense, Input
    from kir.layers.base import Layer


    class Custom(Layer):
        pass


    def custom():
        x = Input(shape=(3,))
        return kir.models.Model(x, Custom(name="custom")(Dense(2)(x)))


    def good():
        return kir.models.Sequential([Input(shape=(3,)), Dense(2)])


    def leave():
        sys.exit(3)


    def interrupted():
        raise KeyboardInterrupt


    def slow():
        open(sys.argv[-1] + ".started", "w").close()
        time.sleep(60)
''')


@pytest.fixture
def factories(tmp_path) -> Path:
    path = tmp_path / "factories.py"
    path.write_text(FACTORIES)
    return path


def _run(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") <= 1, err
    return status, err.strip()


def test_exit_in_the_factory_or_module_is_reported(capsys, factories, tmp_path):
    status, err = _run(capsys, f"{factories}:leave", str(tmp_path / "o.onnx"))
    assert status == USAGE_ERROR and "called sys.exit(3) instead of returning a model" in err
    module = tmp_path / "exits.py"
    module.write_text("import sys\nsys.exit(0)\n")
    status, err = _run(capsys, f"{module}:make", str(tmp_path / "o.onnx"))
    assert status == USAGE_ERROR and "called sys.exit(0)" in err
    assert not (tmp_path / "o.onnx").exists()


def test_ctrl_c_in_process_is_interrupted_130(capsys, factories, tmp_path):
    status, err = _run(capsys, f"{factories}:interrupted", str(tmp_path / "o.onnx"))
    assert (status, err) == (INTERRUPTED, "kir-export: interrupted")


def test_dot_into_a_missing_folder_fails_before_the_onnx_file_is_written(capsys, factories, tmp_path):
    out = tmp_path / "o.onnx"
    status, err = _run(capsys, f"{factories}:good", str(out), "--dot", str(tmp_path / "nowhere" / "g.dot"))
    assert status == USAGE_ERROR and "--dot" in err and "does not exist" in err
    assert not out.exists()


def test_custom_layer_message_says_layer_once(capsys, factories, tmp_path):
    status, err = _run(capsys, f"{factories}:custom", str(tmp_path / "o.onnx"))
    assert status == USAGE_ERROR and "(layer 'custom' (Custom))" in err and "layer 'layer" not in err


def test_hostile_kir_sources_are_one_line_errors(capsys, tmp_path):
    good = tmp_path / "good.kir"
    Sequential([Input(shape=(3,)), Dense(2)]).save(str(good))
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    deep = tmp_path / "deep.kir"
    with zipfile.ZipFile(deep, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, b"[" * 100_000 + b"]" * 100_000 if name == "model.json" else data)
    for source in (deep, tmp_path / "missing.kir"):
        status, err = _run(capsys, str(source), str(tmp_path / "o.onnx"))
        assert status in (FAILURE, USAGE_ERROR) and err.startswith("kir-export: error:"), err
    assert not (tmp_path / "o.onnx").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_in_a_real_process_prints_interrupted(factories, tmp_path):
    out = tmp_path / "o.onnx"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "kir.cli.export", f"{factories}:slow", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    started = Path(str(out) + ".started")
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == INTERRUPTED and err.strip() == "kir-export: interrupted", err
