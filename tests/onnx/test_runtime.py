"""Runtime and the 'onnx' predict backend: feeds, FeedErrors, batching, session caching, providers."""

from __future__ import annotations

import re

import numpy as np
import pytest

import kir
from kir import backends
from kir.backends.numpy import run
from kir.backends.onnx import OnnxBackend, Runtime, export, resolve_providers
from kir.cli.check import random_feeds
from kir.errors import ConfigError, FeedError
from tests.fixtures import factories
from tests.helpers import assert_close
from tests.onnx.util import CPU


@pytest.fixture(scope="module")
def headline_file(tmp_path_factory):
    model = factories.headline()
    path = tmp_path_factory.mktemp("rt") / "headline.onnx"
    export(model, path)
    return model, path


def test_feeds_by_list_dict_and_single_array(headline_file) -> None:
    model, path = headline_file
    runtime = Runtime(path, providers=CPU)
    ids, aux = random_feeds(model.to_graph(), 4)
    want = run(model.to_graph(), [ids, aux])
    for feeds in ([ids, aux], (ids, aux), {"aux_input": aux, "main_input": ids},
                  [ids.tolist(), aux.astype(np.float64)], [ids.astype(np.int64), aux]):
        got = runtime.run(feeds)
        assert len(got) == 2
        for g, w in zip(got, want):
            assert_close(g, w)
    mlp = factories.mlp()
    export(mlp, path.parent / "mlp.onnx")
    x = np.random.default_rng(0).normal(size=(3, 784)).astype(np.float32)
    assert_close(Runtime(path.parent / "mlp.onnx", providers=CPU)(x)[0], run(mlp.to_graph(), [x])[0])


@pytest.mark.parametrize("feeds,message", [
    ({"main_inpt": 0, "aux_input": 0}, "'headline.onnx' has no input named 'main_inpt'. Did you mean 'main_input'? "
                                       "Its inputs are: main_input, aux_input"),
    ({"main_input": np.zeros((1, 10), np.int32)}, "'headline.onnx': no data for input 'aux_input'"),
    ([np.zeros((1, 10), np.int32)], "'headline.onnx' has 2 input(s) (main_input, aux_input), got 1 array(s)"),
    ([np.zeros((1, 10), np.int32), np.zeros((1, 6), np.float32)],
     "input 'aux_input' of 'headline.onnx': expected shape (None, 5), got (1, 6)"),
    ([np.zeros((1, 10, 1), np.int32), np.zeros((1, 5), np.float32)],
     "input 'main_input' of 'headline.onnx': expected shape (None, 10), got (1, 10, 1)"),
    ([np.full((1, 10), 0.5), np.zeros((1, 5), np.float32)],
     "input 'main_input' of 'headline.onnx': expects integers (int32), got non-integral floats"),
    ([np.zeros((1, 10), np.int32), np.array([["a"] * 5])],
     "input 'aux_input' of 'headline.onnx': expected numbers of dtype float32, got dtype <U1"),
    ([np.full((1, 10), 100, np.int32), np.zeros((1, 5), np.float32)],
     "input 'main_input' of 'headline.onnx' holds token id 100 outside [0, 100) (the Embedding's input_dim)"),
    ([np.full((1, 10), -1, np.int64), np.zeros((1, 5), np.float32)],
     "input 'main_input' of 'headline.onnx' holds token id -1 outside [0, 100)"),
    ([np.zeros((2, 10), np.int32), np.zeros((3, 5), np.float32)],
     "'headline.onnx': all inputs need the same number of samples, got main_input: 2, aux_input: 3"),
])
def test_feed_errors_name_the_input_and_expected_shape(headline_file, feeds, message) -> None:
    _, path = headline_file
    with pytest.raises(FeedError, match=re.escape(message)):
        Runtime(path, providers=CPU).run(feeds)


def test_batched_run_equals_one_run(headline_file) -> None:
    model, path = headline_file
    feeds = random_feeds(model.to_graph(), 10)
    whole = Runtime(path, providers=CPU).run(feeds)
    for runtime, size in ((Runtime(path, providers=CPU, batch_size=3), None), (Runtime(path, providers=CPU), 4)):
        parts = runtime.run(feeds, batch_size=size)
        for p, w in zip(parts, whole):
            assert p.shape == w.shape
            assert_close(p, w)


def test_runtime_from_model_in_memory() -> None:
    model = factories.cnn()
    runtime = Runtime(model, providers=CPU, opset=13)
    feeds = random_feeds(model.to_graph(), 2)
    assert_close(runtime.run(feeds)[0], run(model.to_graph(), feeds)[0])
    assert runtime.input_names == ["image"] and runtime.output_names == ["digits"]
    assert "CPUExecutionProvider" in repr(runtime)


def test_providers() -> None:
    import onnxruntime

    auto = resolve_providers("auto")
    assert auto[-1] == "CPUExecutionProvider" or "CPUExecutionProvider" not in onnxruntime.get_available_providers()
    order = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert auto == [p for p in order if p in onnxruntime.get_available_providers()]
    with pytest.raises(ConfigError, match="onnxruntime provider 'CPUExecutionProvidr' is not available. "
                                          "Did you mean 'CPUExecutionProvider'?"):
        resolve_providers("CPUExecutionProvidr")
    with pytest.raises(ConfigError, match="no ONNX file at"):
        Runtime("/nonexistent/model.onnx")
    with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
        Runtime(factories.mlp(), batch_size=0)


def test_predict_backend_caches_session_until_weights_change() -> None:
    model = factories.headline()
    backend = backends.get("onnx")
    assert isinstance(backend, OnnxBackend)
    feeds = random_feeds(model.to_graph(), 7)
    first = model.predict(feeds, backend="onnx")
    runtime = backend.runtime(model.to_graph())
    model.predict({"main_input": feeds[0], "aux_input": feeds[1]}, backend="onnx", batch_size=3)
    assert backend.runtime(model.to_graph()) is runtime
    for g, w in zip(first, model.predict(feeds)):
        assert_close(g, w)
    dense = model.get_layer("main_output")
    dense.set_weights([w * 2 for w in dense.get_weights()])
    second = model.predict(feeds, backend="onnx")
    assert backend.runtime(model.to_graph()) is not runtime
    assert not np.allclose(second[0], first[0])
    assert_close(second[0], model.predict(feeds)[0])
    assert_close(second[1], first[1])


def test_predict_backend_single_output_and_errors() -> None:
    model = factories.mlp()
    x = np.random.default_rng(1).normal(size=(5, 784)).astype(np.float32)
    out = model.predict(x, backend="onnx")
    assert isinstance(out, np.ndarray) and out.shape == (5, 10)
    assert_close(out, model.predict(x))
    with pytest.raises(FeedError, match=re.escape("expected shape (None, 784), got (5, 783)")):
        model.predict(x[:, 1:], backend="onnx")
    video = factories.video_qa()
    frames, question = random_feeds(video.to_graph(), 2)
    question[1, 2] = -3  # ONNX Gather would wrap it to the last row without a word
    with pytest.raises(FeedError, match=re.escape("input 'video_question_input' of 'video_qa' holds token id -3 "
                                                  "outside [0, 50)")):
        video.predict([frames, question], backend="onnx")


def test_importing_the_backend_does_not_import_onnxruntime() -> None:
    import subprocess
    import sys

    code = "import sys, kir.backends.onnx; print('onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert kir.backends.onnx.Runtime is Runtime


def test_predict_backend_keeps_a_bounded_cache_keyed_by_structure_and_weights() -> None:
    backend = OnnxBackend(providers=CPU)
    models = [factories.mlp() for _ in range(backend.sessions.maxsize + 1)]
    x = np.zeros((1, 784), np.float32)
    first = backend.runtime(models[0].to_graph())
    for model in models:
        assert_close(backend.predict(model.to_graph(), [x])[0], model.predict(x))
    assert len(backend.sessions) == backend.sessions.maxsize
    assert backend.runtime(models[0].to_graph()) is not first  # the oldest went first
    again = backend.runtime(models[0].to_graph())
    assert backend.runtime(models[0].to_graph()) is again
    # a copy of the graph (same structure, same weights version) finds the same session
    assert backend.runtime(models[0].to_graph().copy()) is again


def test_providers_as_name_option_pairs() -> None:
    model = factories.mlp()
    pair = ("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})
    assert resolve_providers(pair) == [pair]
    assert resolve_providers([pair, "CPUExecutionProvider"]) == [pair, "CPUExecutionProvider"]
    assert resolve_providers(("CPUExecutionProvider",)) == ["CPUExecutionProvider"]
    runtime = Runtime(model, providers=[pair])
    assert runtime.provider == "CPUExecutionProvider" and runtime.device == "cpu" and runtime.device_id == 0
    x = np.random.default_rng(3).normal(size=(2, 784)).astype(np.float32)
    assert_close(runtime.run(x)[0], model.predict(x))
    with pytest.raises(ConfigError, match=re.escape("a provider is a name or a (name, options dict) pair")):
        resolve_providers([("CPUExecutionProvider", "fast")])
    with pytest.raises(ConfigError, match="onnxruntime provider 'CUDAExecutionProvider' is not available"):
        resolve_providers([("CUDAExecutionProvider", {"device_id": 0})])
    with pytest.raises(ConfigError, match="providers is empty"):
        resolve_providers([])


def test_run_on_device_keeps_ortvalues_where_they_are() -> None:
    import onnxruntime as ort

    video = factories.video_qa()
    runtime = Runtime(video, providers=CPU)
    feeds = random_feeds(video.to_graph(), 2)
    values = runtime.to_device(feeds)
    assert all(isinstance(v, ort.OrtValue) and v.device_name().lower() == "cpu" for v in values)
    outs = runtime.run_on_device(values)
    assert all(isinstance(o, ort.OrtValue) for o in outs)
    for got, want in zip(outs, runtime.run(feeds)):
        np.testing.assert_array_equal(got.numpy(), want)
    by_name = runtime.run_on_device(dict(zip(runtime.input_names, values)), output_device="cpu")
    np.testing.assert_array_equal(by_name[0].numpy(), outs[0].numpy())
    with pytest.raises(FeedError, match="run_on_device takes onnxruntime OrtValues"):
        runtime.run_on_device(feeds)
    with pytest.raises(ConfigError, match="output_device must be 'cpu' or 'cuda'"):
        runtime.run_on_device(values, output_device="tpu")
    feeds[1][0, 0] = 50  # past the Embedding's input_dim: refused on the host, before the copy
    with pytest.raises(FeedError, match="holds token id 50 outside"):
        runtime.to_device(feeds)
