"""The bad-input corpus: (id, callable, expected KirError subclass, substring naming the culprit).

Each callable builds what it needs (small models, files under a temporary folder) and makes one
bad call through a public entry point: building, compiling, feeding each backend, saving, loading,
exporting or the kir-export command line.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

import kir
from kir import layers as L
from kir.errors import ConfigError, ExportError, FeedError, GraphError, LoadError, ShapeError
from kir.models import Model, Sequential, load_model

Case = tuple[str, Callable[[], Any], type, str]

_TMP = tempfile.mkdtemp(prefix="kir_bad_inputs_")


def tmp(name: str) -> str:
    return os.path.join(_TMP, name)


# ---------------------------------------------------------------- small models
def dense(units: int = 2, activation: str | None = None, width: int = 3) -> Model:
    x = kir.Input(shape=(width,), name="x")
    return Model(x, L.Dense(units, activation=activation, name="out")(x), name="m")


def embed() -> Model:
    ids = kir.Input(shape=(2,), dtype="int32", name="ids")
    return Model(ids, L.Embedding(10, 2, name="emb")(ids), name="e")


def two_inputs() -> Model:
    a, b = kir.Input(shape=(3,), name="a"), kir.Input(shape=(2,), name="b")
    return Model([a, b], L.Dense(1, name="out")(L.Concatenate()([a, b])), name="two")


def compiled(loss: str = "mse", units: int = 2, activation: str | None = None, metrics: Any = None) -> Model:
    m = dense(units, activation)
    m.compile("sgd", loss, metrics=metrics)
    return m


def call(layer_fn: Callable[[], Any], shape: tuple, dtype: str = "float32") -> Callable[[], Any]:
    return lambda: layer_fn()(kir.Input(shape=shape, dtype=dtype))


X = np.ones((4, 3), "float32")
Y = np.ones((4, 2), "float32")


# ---------------------------------------------------------------- building
BUILD: list[Case] = [
    ("dense-units-0", lambda: L.Dense(0), ConfigError, "units"),
    ("dense-units-negative", lambda: L.Dense(-3), ConfigError, "units"),
    ("dense-units-float", lambda: L.Dense(2.5), ConfigError, "units"),
    ("dense-units-str", lambda: L.Dense("a"), ConfigError, "units"),
    ("dense-units-none", lambda: L.Dense(None), ConfigError, "units"),
    ("dense-activation", lambda: L.Dense(3, activation="relux"), ConfigError, "relu"),
    ("dense-initializer", lambda: L.Dense(3, kernel_initializer="glorot"), ConfigError, "kernel_initializer"),
    ("dense-regularizer", lambda: L.Dense(3, kernel_regularizer="l3"), ConfigError, "kernel_regularizer"),
    ("conv2d-kernel-float", lambda: L.Conv2D(2, 3.0), ConfigError, "kernel_size"),
    ("conv2d-filters-0", lambda: L.Conv2D(0, 3), ConfigError, "filters"),
    ("conv2d-kernel-short", lambda: L.Conv2D(2, (3,)), ConfigError, "kernel_size"),
    ("conv2d-strides-0", lambda: L.Conv2D(2, 3, strides=0), ConfigError, "strides"),
    ("conv2d-padding", lambda: L.Conv2D(2, 3, padding="full"), ConfigError, "padding"),
    ("conv2d-data-format", lambda: L.Conv2D(2, 3, data_format="nchw"), ConfigError, "data_format"),
    ("conv2d-dilation", lambda: L.Conv2D(2, 3, dilation_rate=-1), ConfigError, "dilation_rate"),
    ("conv1d-kernel-pair", lambda: L.Conv1D(2, (3, 3)), ConfigError, "kernel_size"),
    ("conv1d-padding", lambda: L.Conv1D(2, 3, padding="reflect"), ConfigError, "padding"),
    ("maxpool2d-size-0", lambda: L.MaxPooling2D(pool_size=0), ConfigError, "pool_size"),
    ("maxpool2d-size-str", lambda: L.MaxPooling2D(pool_size="a"), ConfigError, "pool_size"),
    ("avgpool1d-size-pair", lambda: L.AveragePooling1D(pool_size=(2, 2)), ConfigError, "pool_size"),
    ("maxpool2d-padding", lambda: L.MaxPooling2D(padding="x"), ConfigError, "padding"),
    ("dropout-rate-big", lambda: L.Dropout(1.5), ConfigError, "rate"),
    ("dropout-rate-negative", lambda: L.Dropout(-0.1), ConfigError, "rate"),
    ("dropout-rate-str", lambda: L.Dropout("x"), ConfigError, "rate"),
    ("reshape-int", lambda: L.Reshape(5), ConfigError, "target_shape"),
    ("reshape-str", lambda: L.Reshape("ab"), ConfigError, "target_shape"),
    ("reshape-zero", lambda: L.Reshape((2, 0)), ConfigError, "target_shape"),
    ("reshape-two-minus-one", lambda: L.Reshape((-1, -1)), ConfigError, "target_shape"),
    ("reshape-float", lambda: L.Reshape((2.5,)), ConfigError, "target_shape"),
    ("permute-repeat", lambda: L.Permute((1, 1)), ConfigError, "dims"),
    ("permute-str", lambda: L.Permute("ab"), ConfigError, "dims"),
    ("permute-int", lambda: L.Permute(3), ConfigError, "dims"),
    ("repeat-0", lambda: L.RepeatVector(0), ConfigError, "n"),
    ("repeat-str", lambda: L.RepeatVector("a"), ConfigError, "n"),
    ("bn-axis-str", lambda: L.BatchNormalization(axis="x"), ConfigError, "axis"),
    ("bn-axis-float", lambda: L.BatchNormalization(axis=1.5), ConfigError, "axis"),
    ("ln-axis-str", lambda: L.LayerNormalization(axis="x"), ConfigError, "axis"),
    ("ln-axis-list-str", lambda: L.LayerNormalization(axis=["a"]), ConfigError, "axis"),
    ("lstm-units-0", lambda: L.LSTM(0), ConfigError, "units"),
    ("lstm-dropout-str", lambda: L.LSTM(3, dropout="x"), ConfigError, "dropout"),
    ("lstm-dropout-1", lambda: L.LSTM(3, dropout=1.0), ConfigError, "dropout"),
    ("lstm-recurrent-dropout", lambda: L.LSTM(3, recurrent_dropout=-1), ConfigError, "recurrent_dropout"),
    ("gru-units-str", lambda: L.GRU("a"), ConfigError, "units"),
    ("rnn-activation", lambda: L.SimpleRNN(3, activation="tanhh"), ConfigError, "tanh"),
    ("embedding-input-dim-0", lambda: L.Embedding(0, 2), ConfigError, "input_dim"),
    ("embedding-output-dim-0", lambda: L.Embedding(10, 0), ConfigError, "output_dim"),
    ("embedding-input-dim-str", lambda: L.Embedding("a", 2), ConfigError, "input_dim"),
    ("concatenate-axis-str", lambda: L.Concatenate(axis="x"), ConfigError, "axis"),
    ("dot-axes-str", lambda: L.Dot(axes="a"), ConfigError, "axes"),
    ("activation-name", lambda: L.Activation("sigmoidd"), ConfigError, "sigmoid"),
    ("input-shape-str", lambda: kir.Input(shape="ab"), ConfigError, "shape"),
    ("input-dtype", lambda: kir.Input(shape=(3,), dtype="float33"), ConfigError, "float33"),
    ("input-shape-negative", lambda: kir.Input(shape=(-2,)), ConfigError, "shape"),
]

# ---------------------------------------------------------------- calling layers (graph building)
CALL: list[Case] = [
    ("conv2d-on-rank-2", call(lambda: L.Conv2D(2, 3, name="c"), (4,)), ShapeError, "'c'"),
    ("conv2d-kernel-too-big", call(lambda: L.Conv2D(1, 3, name="c"), (2, 2, 1)), ShapeError, "'c'"),
    ("conv1d-on-rank-4", call(lambda: L.Conv1D(1, 3, name="c"), (4, 4, 1)), ShapeError, "'c'"),
    ("lstm-on-rank-2", call(lambda: L.LSTM(2, name="r"), (4,)), ShapeError, "'r'"),
    ("maxpool2d-on-rank-3", call(lambda: L.MaxPooling2D(name="p"), (4, 4)), ShapeError, "'p'"),
    ("reshape-size-mismatch", call(lambda: L.Reshape((4,), name="r"), (6,)), ShapeError, "'r'"),
    ("permute-rank-mismatch", call(lambda: L.Permute((2, 1), name="p"), (2, 3, 4)), ShapeError, "'p'"),
    ("ln-unknown-axis", call(lambda: L.LayerNormalization(name="ln"), (None,)), ShapeError, "'ln'"),
    ("bn-unknown-axis", call(lambda: L.BatchNormalization(name="bn"), (None,)), ShapeError, "'bn'"),
    ("bn-axis-out-of-range", call(lambda: L.BatchNormalization(axis=3, name="bn"), (4,)), ShapeError, "'bn'"),
    ("ln-axis-out-of-range", call(lambda: L.LayerNormalization(axis=2, name="ln"), (4,)), ShapeError, "'ln'"),
    ("time-distributed-rank-2", call(lambda: L.TimeDistributed(L.Dense(2), name="td"), (4,)), ShapeError, "td"),
    ("concatenate-shape", lambda: L.Concatenate(name="cat")([kir.Input((2, 3)), kir.Input((3, 3))]),
     ShapeError, "Concatenate"),
    ("concatenate-one-input", lambda: L.Concatenate(name="cat")([kir.Input((2,))]), ConfigError, "'cat'"),
    ("add-shapes", lambda: L.Add(name="add")([kir.Input((2,)), kir.Input((3,))]), ShapeError, "Add"),
    ("subtract-three", lambda: L.Subtract(name="sub")([kir.Input((2,))] * 3), ConfigError, "'sub'"),
    ("dot-axes-range", lambda: L.Dot(axes=3, name="dot")([kir.Input((2,)), kir.Input((2,))]), ShapeError, "'dot'"),
    ("model-disconnected", lambda: Model(kir.Input((2,)), L.Dense(1)(kir.Input((2,)))), GraphError, "input"),
    ("model-duplicate-names", lambda: (lambda x: Model(x, L.Dense(1, name="d")(L.Dense(1, name="d")(x))))(
        kir.Input((2,))), GraphError, "'d'"),
    ("model-output-not-tensor", lambda: Model(kir.Input((2,)), "y"), GraphError, "output"),
    ("layer-on-array", lambda: L.Dense(2, name="d")(np.ones((2, 3))), ConfigError, "'d'"),
    ("sequential-add-non-layer", lambda: Sequential().add("dense"), ConfigError, "dense"),
    ("dense-rank-0", call(lambda: L.Dense(2, name="d"), ()), ShapeError, "'d'"),
]

# ---------------------------------------------------------------- compiling
COMPILE: list[Case] = [
    ("compile-optimizer", lambda: dense().compile("sgdd", "mse"), ConfigError, "sgd"),
    ("compile-loss", lambda: dense().compile("sgd", "msee"), ConfigError, "mse"),
    ("compile-metric", lambda: dense().compile("sgd", "mse", metrics=["acuracy"]), ConfigError, "acuracy"),
    ("compile-metric-number", lambda: dense().compile("sgd", "mse", metrics=[3]), ConfigError, "3"),
    ("compile-loss-dict-name", lambda: dense().compile("sgd", {"outt": "mse"}), ConfigError, "outt"),
    ("compile-loss-list-length", lambda: dense().compile("sgd", ["mse", "mae"]), ConfigError, "loss"),
    ("compile-loss-weights-length", lambda: two_inputs().compile("sgd", "mse", loss_weights=[1, 2]),
     ConfigError, "loss_weights"),
    ("compile-steps-per-execution", lambda: dense().compile("sgd", "mse", steps_per_execution=0), ConfigError,
     "steps_per_execution"),
    ("compile-unknown-kwarg", lambda: dense().compile("sgd", "mse", lossy=1), ConfigError, "lossy"),
    ("compile-metrics-not-list", lambda: dense().compile("sgd", "mse", metrics=3), ConfigError, "metrics"),
    ("fit-before-compile", lambda: dense().fit(X, Y, verbose=0), ConfigError, "compile"),
    ("evaluate-before-compile", lambda: dense().evaluate(X, Y, verbose=0), ConfigError, "compile"),
]


# ---------------------------------------------------------------- feeding, per backend
def _feed_cases(backend: str) -> list[Case]:
    def p(model_fn: Callable[[], Model], x: Any, **kw: Any) -> Callable[[], Any]:
        return lambda: model_fn().predict(x, backend=backend, **kw)

    b = backend
    return [
        (f"{b}-rank", p(dense, np.ones((4,))), FeedError, "input 'x'"),
        (f"{b}-width", p(dense, np.ones((4, 5))), FeedError, "input 'x'"),
        (f"{b}-count", p(two_inputs, [np.ones((1, 3))]), FeedError, "a, b"),
        (f"{b}-dict-unknown", p(two_inputs, {"a": np.ones((1, 3)), "c": np.ones((1, 2))}), FeedError, "'c'"),
        (f"{b}-dict-missing", p(two_inputs, {"a": np.ones((1, 3))}), FeedError, "'b'"),
        (f"{b}-batch-mismatch", p(two_inputs, [np.ones((2, 3)), np.ones((3, 2))]), FeedError, "a: 2"),
        (f"{b}-strings", p(dense, np.array([["a", "b", "c"]])), FeedError, "input 'x'"),
        (f"{b}-objects", p(dense, np.array([[None, 1, 2]], dtype=object)), FeedError, "input 'x'"),
        (f"{b}-ragged", p(dense, [[1, 2, 3], [1, 2]]), FeedError, "1 input(s) (x)"),
        (f"{b}-complex", p(dense, np.ones((1, 3), complex)), FeedError, "input 'x'"),
        (f"{b}-ids-wrap", p(embed, np.array([[2**32 + 3, 1]])), FeedError, "input 'ids'"),
        (f"{b}-ids-uint64", p(embed, np.array([[2**63, 1]], dtype=np.uint64)), FeedError, "input 'ids'"),
        (f"{b}-ids-range", p(embed, np.array([[1, 10]], dtype="int32")), FeedError, "token id 10"),
        (f"{b}-ids-negative", p(embed, np.array([[-1, 1]], dtype="int32")), FeedError, "token id -1"),
        (f"{b}-ids-fractional", p(embed, np.array([[1.5, 1.0]])), FeedError, "input 'ids'"),
        (f"{b}-batch-size-0", p(dense, X, batch_size=0), FeedError, "batch_size"),
        (f"{b}-batch-size-str", p(dense, X, batch_size="a"), FeedError, "batch_size"),
        (f"{b}-none", p(dense, None), FeedError, "input 'x'"),
    ]


FEED: list[Case] = [case for b in ("numpy", "onnx", "tensorflow") for case in _feed_cases(b)]
FEED.append(("predict-unknown-backend", lambda: dense().predict(X, backend="onnxx"), ConfigError, "onnx"))

# ---------------------------------------------------------------- fit / evaluate data
_nan_y = Y.copy()
_nan_y[1, 1] = np.nan
_inf_x = X.copy()
_inf_x[2, 0] = np.inf

FIT: list[Case] = [
    ("fit-no-y", lambda: compiled().fit(X, verbose=0), FeedError, "targets"),
    ("fit-x-none", lambda: compiled().fit(None, Y, verbose=0), FeedError, "x is None"),
    ("fit-sample-count", lambda: compiled().fit(X, Y[:3], verbose=0), FeedError, "samples"),
    ("fit-nan-y", lambda: compiled().fit(X, _nan_y, verbose=0), FeedError, "y (target for output 'out'"),
    ("fit-inf-x", lambda: compiled().fit(_inf_x, Y, verbose=0), FeedError, "x (input 'x'"),
    ("fit-epochs-negative", lambda: compiled().fit(X, Y, epochs=-1, verbose=0), ConfigError, "epochs"),
    ("fit-epochs-str", lambda: compiled().fit(X, Y, epochs="2", verbose=0), ConfigError, "epochs"),
    ("fit-initial-epoch", lambda: compiled().fit(X, Y, initial_epoch=-2, verbose=0), ConfigError, "initial_epoch"),
    ("fit-batch-size-0", lambda: compiled().fit(X, Y, batch_size=0, verbose=0), FeedError, "batch_size"),
    ("fit-validation-split", lambda: compiled().fit(X, Y, validation_split=1.5, verbose=0), FeedError,
     "validation_split"),
    ("fit-validation-data", lambda: compiled().fit(X, Y, validation_data=X, verbose=0), FeedError,
     "validation_data"),
    ("fit-validation-nan", lambda: compiled().fit(X, Y, validation_data=(X, _nan_y), verbose=0), FeedError,
     "y (target"),
    ("fit-sample-weight-length", lambda: compiled().fit(X, Y, sample_weight=np.ones(3), verbose=0), FeedError,
     "sample_weight"),
    ("fit-sample-weight-nan", lambda: compiled().fit(X, Y, sample_weight=np.array([1, np.nan, 1, 1]), verbose=0),
     FeedError, "sample_weight"),
    ("fit-class-weight-missing", lambda: compiled("categorical_crossentropy", 2, "softmax").fit(
        X, np.eye(2)[[0, 1, 0, 1]], class_weight={0: 1.0}, verbose=0), FeedError, "class 1"),
    ("fit-sparse-label-range", lambda: compiled("sparse_categorical_crossentropy", 2, "softmax").fit(
        X, np.array([0, 1, 2, 1]), verbose=0), FeedError, "label 2"),
    ("fit-sparse-label-negative", lambda: compiled("sparse_categorical_crossentropy", 2, "softmax").fit(
        X, np.array([0, -1, 0, 1]), verbose=0), FeedError, "label -1"),
    ("fit-categorical-class-ids", lambda: compiled("categorical_crossentropy", 2, "softmax").fit(
        X, np.ones((4, 1)), verbose=0), ShapeError, "output 'out'"),
    ("fit-rank-1-y", lambda: compiled().fit(X, np.ones(4), verbose=0), ShapeError, "output 'out'"),
    ("fit-y-width", lambda: compiled().fit(X, np.ones((4, 3)), verbose=0), ShapeError, "output 'out'"),
    ("fit-y-strings", lambda: compiled().fit(X, np.array([["a", "b"]] * 4), verbose=0), FeedError, "output 'out'"),
    ("fit-y-complex", lambda: compiled().fit(X, np.ones((4, 2), complex), verbose=0), FeedError, "output 'out'"),
    ("fit-y-ragged", lambda: compiled().fit(X, [[1, 2], [1]], verbose=0), FeedError, "1 output(s) (out)"),
    ("fit-y-ragged-array", lambda: compiled().fit(X, [np.array([[1, 2], [1]], dtype=object)], verbose=0), FeedError,
     "output 'out'"),
    ("fit-ids-range", lambda: (lambda m: (m.compile("sgd", "mse"), m.fit(
        np.array([[1, 12]] * 2), np.zeros((2, 2, 2)), verbose=0)))(embed()), FeedError, "input 'ids'"),
    ("fit-unknown-kwarg", lambda: compiled().fit(X, Y, epoch=2, verbose=0), ConfigError, "epoch"),
    ("fit-steps-per-epoch", lambda: compiled().fit(X, Y, steps_per_epoch=2, verbose=0), ConfigError,
     "steps_per_epoch"),
    ("fit-y-dict-name", lambda: compiled().fit(X, {"outt": Y}, verbose=0), FeedError, "outt"),
    ("evaluate-nan-x", lambda: compiled().evaluate(_inf_x, Y, verbose=0), FeedError, "x (input 'x'"),
    ("evaluate-batch-size", lambda: compiled().evaluate(X, Y, batch_size=-1, verbose=0), FeedError, "batch_size"),
    ("train-on-batch-nan", lambda: compiled().train_on_batch(X, _nan_y), FeedError, "y (target"),
    ("test-on-batch-width", lambda: compiled().test_on_batch(np.ones((4, 4)), Y), FeedError, "input 'x'"),
]

# ---------------------------------------------------------------- weights
WEIGHTS: list[Case] = [
    ("set-weights-none", lambda: dense().set_weights(None), ConfigError, "set_weights"),
    ("set-weights-count", lambda: dense().set_weights([np.ones((3, 2))]), ConfigError, "out/kernel"),
    ("set-weights-shape", lambda: dense().set_weights([np.ones((2, 3)), np.ones(2)]), ConfigError, "'kernel'"),
    ("set-weights-complex", lambda: dense().set_weights([np.ones((3, 2), complex), np.ones(2)]), ConfigError,
     "'kernel'"),
    ("set-weights-object", lambda: dense().set_weights([np.ones((3, 2)), np.array([None, 1.0])]), ConfigError,
     "'bias'"),
    ("set-weights-strings", lambda: dense().set_weights([np.full((3, 2), "1"), np.ones(2)]), ConfigError,
     "'kernel'"),
    ("set-weights-ragged", lambda: dense().set_weights([[[1, 2], [1]], np.ones(2)]), ConfigError, "'kernel'"),
    ("set-weights-dict", lambda: dense().set_weights({"kernel": np.ones((3, 2))}), ConfigError, "set_weights"),
    ("set-weights-str", lambda: dense().set_weights("weights"), ConfigError, "set_weights"),
    ("layer-set-weights-shape", lambda: dense().get_layer("out").set_weights([np.ones((3, 3)), np.ones(2)]),
     ConfigError, "'kernel'"),
    ("get-layer-unknown", lambda: dense().get_layer("outt"), GraphError, "outt"),
]


# ---------------------------------------------------------------- saving and loading
def _write(name: str, data: bytes) -> str:
    path = tmp(name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _zip(name: str, entries: dict[str, bytes]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)
    return _write(name, buf.getvalue())


def _saved() -> str:
    path = tmp("good.kir")
    if not os.path.exists(path):
        dense().save(path)
    return path


def _truncated() -> str:
    with open(_saved(), "rb") as f:
        data = f.read()
    return _write("truncated.kir", data[: len(data) // 2])


def _tampered(change: Callable[[dict], None], name: str) -> str:
    with zipfile.ZipFile(_saved()) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    config_name = next(n for n in entries if n.endswith(".json"))
    config = json.loads(entries[config_name])
    change(config)
    entries[config_name] = json.dumps(config).encode()
    return _zip(name, entries)


def _set_class(config: Any) -> None:
    """Rename every layer class in the config to an unknown one."""
    if isinstance(config, dict):
        if config.get("class_name") == "Dense":
            config["class_name"] = "Denze"
        for v in config.values():
            _set_class(v)
    elif isinstance(config, list):
        for v in config:
            _set_class(v)


SAVE_LOAD: list[Case] = [
    ("save-weights-name", lambda: dense().save(tmp("m.weights.h5")), ConfigError, "save_weights"),
    ("save-missing-folder", lambda: dense().save(tmp("no/such/dir/m.kir")), ExportError, "no/such/dir"),
    ("save-onto-folder", lambda: dense().save(_TMP), ExportError, _TMP),
    ("save-weights-missing-folder", lambda: dense().save_weights(tmp("no/dir/m.weights.h5")), ExportError,
     "no/dir"),
    ("load-missing", lambda: load_model(tmp("missing.kir")), LoadError, "missing.kir"),
    ("load-folder", lambda: load_model(_TMP), LoadError, _TMP),
    ("load-empty", lambda: load_model(_write("empty.kir", b"")), LoadError, "empty.kir"),
    ("load-text", lambda: load_model(_write("text.kir", b"hello world")), LoadError, "text.kir"),
    ("load-random", lambda: load_model(_write("random.kir", bytes(range(256)) * 8)), LoadError, "random.kir"),
    ("load-truncated", lambda: load_model(_truncated()), LoadError, "truncated.kir"),
    ("load-zip-no-config", lambda: load_model(_zip("noconfig.kir", {"a.txt": b"x"})), LoadError, "noconfig.kir"),
    ("load-bad-json", lambda: load_model(_zip("badjson.kir", {"model.json": b"{nope"})), LoadError,
     "badjson.kir"),
    ("load-unknown-class", lambda: load_model(_tampered(_set_class, "unknown_class.kir")), LoadError, "Denze"),
    ("load-weights-missing", lambda: dense().load_weights(tmp("missing.weights.h5")), LoadError,
     "missing.weights.h5"),
    ("load-weights-garbage", lambda: dense().load_weights(_write("garbage.weights.h5", b"garbage")), LoadError,
     "garbage.weights.h5"),
    ("load-keras-garbage", lambda: load_model(_write("garbage.keras", b"PK\x03\x04garbage")), LoadError,
     "garbage.keras"),
]


# ---------------------------------------------------------------- exporting
def _export(**kw: Any) -> Callable[[], Any]:
    return lambda: dense().export(tmp("m.onnx"), **kw)


def _runtime(*args: Any, **kw: Any) -> Any:
    from kir.backends.onnx import Runtime

    return Runtime(*args, **kw)


EXPORT: list[Case] = [
    ("export-opset-low", _export(opset=3), ConfigError, "opset"),
    ("export-opset-str", _export(opset="17"), ConfigError, "opset"),
    ("export-dtype", _export(dtype="int8"), ConfigError, "dtype"),
    ("export-optimize", _export(optimize="O9"), ConfigError, "optimize"),
    ("export-batch-size-0", _export(batch_size=0), ConfigError, "batch_size"),
    ("export-static-no-batch", _export(dynamic_batch=False), ConfigError, "batch_size"),
    ("export-io-dtype", _export(io_dtype="int32"), ConfigError, "io_dtype"),
    ("export-io-fp16-fp32", _export(io_dtype="float16"), ConfigError, "io_dtype"),
    ("export-format", lambda: dense().export(tmp("m.tflite"), format="tflite"), ConfigError, "tflite"),
    ("export-unknown-kwarg", _export(opsett=17), ConfigError, "opsett"),
    ("export-missing-folder", lambda: dense().export(tmp("no/dir/m.onnx")), ExportError, "no/dir"),
    ("runtime-missing-file", lambda: _runtime(tmp("missing.onnx")), ConfigError, "missing.onnx"),
    ("runtime-provider", lambda: _runtime(dense(), providers="CUDAExecutionProviderr"), ConfigError,
     "CUDAExecutionProviderr"),
    ("runtime-batch-size", lambda: _runtime(dense(), batch_size=0), ConfigError, "batch_size"),
    ("runtime-feed-width", lambda: _runtime(dense()).run(np.ones((1, 4))), FeedError, "input 'x'"),
    ("runtime-feed-name", lambda: _runtime(dense()).run({"y": X}), FeedError, "'y'"),
    ("runtime-ids-wrap", lambda: _runtime(embed()).run(np.array([[2**40, 1]])), FeedError, "input 'ids'"),
    ("runtime-ids-range", lambda: _runtime(embed()).run(np.array([[11, 1]], "int32")), FeedError, "token id 11"),
]


# ---------------------------------------------------------------- kir-export command line
def _cli(*argv: str) -> Callable[[], Any]:
    """The command line's own error path: run_export raises what `main` reports in one line."""
    def run() -> Any:
        from kir.cli.export import build_parser, run_export

        return run_export(build_parser().parse_args(list(argv)))
    return run


def _cli_error() -> type:
    from kir.cli.export import UsageError

    return UsageError


class CliUsage:
    """Placeholder resolved to kir.cli.export.UsageError (a bad command line: exit status 2)."""


CLI: list[Case] = [
    ("cli-missing-file", _cli(tmp("missing.kir"), tmp("o.onnx")), CliUsage, "missing.kir"),
    ("cli-output-name", _cli("tests.fixtures.factories:headline", tmp("o.txt")), CliUsage, "o.txt"),
    ("cli-bad-source", _cli("nonsense", tmp("o.onnx")), CliUsage, "nonsense"),
    ("cli-missing-module", _cli("no_such_module_kir:factory", tmp("o.onnx")), CliUsage, "no_such_module_kir"),
    ("cli-missing-factory", _cli("tests.fixtures.factories:nope", tmp("o.onnx")), CliUsage, "nope"),
    ("cli-bad-level", _cli("tests.fixtures.factories:headline", tmp("o.onnx"), "-O", "7"), CliUsage, "7"),
    ("cli-corrupt-file", lambda: _cli(_write("cli_text.kir", b"hello"), tmp("o.onnx"))(), LoadError, "cli_text.kir"),
    ("cli-opset", _cli("tests.fixtures.factories:headline", tmp("o.onnx"), "--opset", "2"), ConfigError, "opset"),
]

CASES: list[Case] = BUILD + CALL + COMPILE + FEED + FIT + WEIGHTS + SAVE_LOAD + EXPORT + CLI


def expected_class(cls: type) -> type:
    return _cli_error() if cls is CliUsage else cls
