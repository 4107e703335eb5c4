"""`kir-export` through `python -m kir.cli.export` in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import onnx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def kir_export(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kir.cli.export", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_module_factory_with_check(tmp_path) -> None:
    out = tmp_path / "headline.onnx"
    proc = kir_export("tests.fixtures.factories:headline", str(out), "--check")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"wrote {out} (") and lines[1] == "  opset 17, -O2, float32"
    assert "  input   main_input: int32 (batch, 10)" in lines
    assert "  input   aux_input: float32 (batch, 5)" in lines
    assert "  output  main_output: float32 (batch, 1)" in lines
    assert "  output  aux_output: float32 (batch, 1)" in lines
    assert any(line.startswith("  nodes   ") and "LSTM 1" in line and "Gemm 5" in line for line in lines)
    assert "  params  3,227" in lines
    assert lines[-1].startswith("  check   max relative error ") and lines[-1].endswith(": OK")
    onnx.checker.check_model(str(out), full_check=True)


def test_file_factory_options_and_dot(tmp_path) -> None:
    source = tmp_path / "my_models.py"
    source.write_text(textwrap.dedent("""
        import kir
        from kir.layers import Conv2D, Dense, Flatten, Input

        def small_cnn():
            x = Input(shape=(8, 8, 1), name="pixels")
            y = Dense(3, activation="softmax", name="classes")(Flatten()(Conv2D(2, 3, activation="relu")(x)))
            return kir.Model(x, y, name="small_cnn")
    """))
    out, dot = tmp_path / "cnn.onnx", tmp_path / "cnn.dot"
    proc = kir_export(f"{source}:small_cnn", str(out), "--opset", "13", "--batch-size", "3", "--fp16", "-O0",
                      "--check", "--dot", str(dot), "-v", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "  opset 13, -O0, float16" in proc.stdout
    assert "  input   pixels: float32 (3, 8, 8, 1)" in proc.stdout
    assert "graph small_cnn(" in proc.stdout  # -v prints the lowered IR
    assert ": OK" in proc.stdout
    assert dot.read_text().startswith('digraph "small_cnn"')
    model = onnx.load(str(out))
    assert model.opset_import[0].version == 13
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3


def test_quiet_prints_nothing_and_exports_are_reproducible(tmp_path) -> None:
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    for path in (a, b):
        proc = kir_export("tests.fixtures.factories:video_qa", str(path), "--quiet", "--check")
        assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert a.read_bytes() == b.read_bytes()  # two processes, same bytes


def test_kir_file_source(tmp_path) -> None:
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.fixtures import factories; "
            f"factories.mlp().save({str(tmp_path / 'mlp.kir')!r})")
    saved = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert saved.returncode == 0, saved.stderr
    proc = kir_export(str(tmp_path / "mlp.kir"), str(tmp_path / "mlp.onnx"), "--check")
    assert proc.returncode == 0, proc.stderr
    assert "  input   input: float32 (batch, 784)" in proc.stdout


@pytest.mark.parametrize("args,message", [
    ([], "kir-export: error: the following arguments are required: SOURCE, OUTPUT.onnx"),
    (["tests.fixtures.factories:nope", "OUT"], "kir-export: error: 'tests.fixtures.factories' has no function 'nope'"),
    (["no.such.module:f", "OUT"], "kir-export: error: cannot import 'no.such.module': ModuleNotFoundError: "
                                  "No module named 'no'"),
    (["missing.py:f", "OUT"], "kir-export: error: no such Python file: missing.py"),
    (["missing.kir", "OUT"], "kir-export: error: no such model file: missing.kir"),
    (["just_a_name", "OUT"], "kir-export: error: SOURCE 'just_a_name' is neither a .kir file nor 'file.py:factory' "
                             "/ 'package.module:factory'"),
    (["tests.fixtures.factories:not_a_model", "OUT"],
     "kir-export: error: factory 'tests.fixtures.factories:not_a_model' returned int, not a kir Model"),
    (["tests.fixtures.factories:mlp", "OUT", "--opset", "12"],
     "kir-export: error: opset must be an integer from 13 to 21 (default 17), got 12"),
    (["tests.fixtures.factories:mlp", "OUT", "--opset", "x"],
     "kir-export: error: argument --opset: invalid int value: 'x'"),
    (["tests.fixtures.factories:mlp", "OUT", "-O3"],
     "kir-export: error: argument -O: invalid choice: '3' (choose from '0', '1', '2')"),
    (["tests.fixtures.factories:mlp", "OUT", "--batch-size", "0"],
     "kir-export: error: batch_size must be a positive integer, got 0"),
    (["tests.fixtures.factories:mlp", "model.txt"], "kir-export: error: OUTPUT must be a .onnx file name, "
                                                    "got 'model.txt'"),
])
def test_bad_arguments_one_line_no_traceback_no_file(args, message, tmp_path) -> None:
    args = [str(tmp_path / "out.onnx") if a == "OUT" else a for a in args]
    proc = kir_export(*args)
    assert proc.returncode != 0
    assert proc.stderr == message + "\n"
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []
