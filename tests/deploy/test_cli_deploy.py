"""kir-export's deployment flags, run in-process through kir.cli.export.main as the console script does."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from kir.cli.export import main

pytest.importorskip("tritonclient.grpc.model_config_pb2")

FACTORY = "tests.fixtures.factories:mlp"


@pytest.fixture(scope="module")
def factory_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("src")
    (folder / "models.py").write_text(
        "from kir.zoo.keras_examples import imdb_lstm, mnist_mlp\n"
        "def mlp():\n    return mnist_mlp(64, 32, names=True)\n"
        "def lstm():\n    return imdb_lstm(length=6, vocab=50, units=8, names=True)\n")
    rng = np.random.default_rng(0)
    x = rng.random((40, 64), dtype=np.float32)
    np.savez(folder / "calib.npz", pixels=x)
    np.savez(folder / "eval.npz", x=x, y=rng.integers(0, 10, 40))
    (folder / "labels.txt").write_text("\n".join(str(i) for i in range(10)) + "\n")
    return folder


def test_quantize_eval_metadata_labels_target(factory_file, tmp_path, capsys) -> None:
    out = tmp_path / "m.onnx"
    status = main([f"{factory_file}/models.py:mlp", str(out), "--quantize", "dynamic", "--eval",
                   str(factory_file / "eval.npz"), "--metadata", "team=vision", "--metadata", "stage=prod",
                   "--labels", str(factory_file / "labels.txt"), "--target", "cpu", "--check"])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "  quantize dynamic: int8 file written" in text and "    fc1 " in text
    assert "  eval    accuracy on 40 samples: float " in text and ", int8 " in text
    assert f"  target  target cpu: wrote the onnxruntime-optimized model for CPUExecutionProvider to " \
           f"{tmp_path / 'm.cpu.onnx'}" in text
    assert "tolerance 1e-01): OK" in text
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["team"] == "vision" and meta["stage"] == "prod" and len(json.loads(meta["kir_labels"])) == 10


def test_triton_repository_guards_ids_by_default(factory_file, tmp_path, capsys) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    status = main([f"{factory_file}/models.py:lstm", "--triton", str(tmp_path / "repo"), "--name", "imdb",
                   "--max-batch", "8"])
    text = capsys.readouterr().out
    assert status == 0, text
    assert f"  triton  {tmp_path / 'repo' / 'imdb'}: config.pbtxt, 1/model.onnx (max_batch_size 8, id guards " \
           f"in the graph)" in text
    cfg = text_format.Parse((tmp_path / "repo" / "imdb" / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert cfg.name == "imdb" and cfg.max_batch_size == 8
    model = onnx.load(str(tmp_path / "repo" / "imdb" / "1" / "model.onnx"))
    assert any(n.name == "tokens/guard_ids_in_0_50" for n in model.graph.node)
    main([f"{factory_file}/models.py:lstm", str(tmp_path / "copy.onnx"), "--triton", str(tmp_path / "r2"),
          "--no-guard-ids", "-q"])
    assert (tmp_path / "copy.onnx").read_bytes() == (tmp_path / "r2" / "imdb_lstm" / "1" / "model.onnx").read_bytes()
    model = onnx.load(str(tmp_path / "r2" / "imdb_lstm" / "1" / "model.onnx"))
    assert not any("guard" in n.name for n in model.graph.node)


@pytest.mark.parametrize("args, message", [
    (["OUT", "--calibration", "c.npz"], "--calibration needs --quantize dynamic|static|auto"),
    (["OUT", "--quantize", "dynamic", "--fp16"], "--quantize and --fp16 exclude each other"),
    ([], "give OUTPUT.onnx, or --triton REPO to write a Triton model repository"),
    (["OUT", "--quantize", "int4"], "argument --quantize: invalid choice: 'int4'"),
])
def test_usage_errors(tmp_path, capsys, args, message) -> None:
    args = [str(tmp_path / "o.onnx") if a == "OUT" else a for a in args]
    assert main([FACTORY, *args]) == 2
    assert capsys.readouterr().err.startswith(f"kir-export: error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_bad_metadata_is_a_one_line_failure(tmp_path, capsys) -> None:
    assert main([FACTORY, str(tmp_path / "o.onnx"), "--metadata", "novalue"]) == 1
    assert capsys.readouterr().err == "kir-export: error: --metadata takes key=value, got 'novalue'\n"
