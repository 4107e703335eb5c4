"""LSTM/GRU on TensorFlow's fused cuDNN kernel (kir/backends/tensorflow/cudnn_rnn.py): the
eligibility rules and the params packing against Keras 3's own functions (CPU), `use_cudnn`
validation and round trips, the CPU path untouched, XLA turned off for fused models; and, where
TensorFlow sees a GPU, the fused kernel against the scan (outputs, states, gradients)."""

import itertools

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.backends.tensorflow import cudnn_rnn  # noqa: E402
from kir.backends.tensorflow.program import Program  # noqa: E402
from kir.errors import ConfigError  # noqa: E402

krnn = pytest.importorskip("keras.src.backend.tensorflow.rnn")

HAS_GPU = bool(tf.config.list_physical_devices("GPU"))
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="TensorFlow sees no GPU: the fused cuDNN path cannot run")
RNG = np.random.default_rng(11)


# ------------------------------------------------------------------ eligibility vs Keras
_ACTS = ("tanh", "relu")
_REC_ACTS = ("sigmoid", "hard_sigmoid")


@pytest.mark.parametrize("act,rec_act,unroll,use_bias",
                         itertools.product(_ACTS, _REC_ACTS, (False, True), (True, False)))
def test_lstm_eligibility_matches_keras(act, rec_act, unroll, use_bias):
    attrs = L.LSTM(4, activation=act, recurrent_activation=rec_act, unroll=unroll, use_bias=use_bias).ir_attrs()
    expected = krnn._do_lstm_arguments_support_cudnn(keras.activations.get(act), keras.activations.get(rec_act),
                                                     unroll, use_bias)
    assert (cudnn_rnn.unsupported_reason("LSTM", attrs, "float32", gpu=True) is None) == bool(expected)
    assert cudnn_rnn.unsupported_reason("LSTM", attrs, "float32", gpu=False) is not None  # cudnn_ok needs a GPU


@pytest.mark.parametrize("act,rec_act,unroll,use_bias,reset_after",
                         itertools.product(_ACTS, _REC_ACTS, (False, True), (True, False), (True, False)))
def test_gru_eligibility_matches_keras(act, rec_act, unroll, use_bias, reset_after):
    attrs = L.GRU(4, activation=act, recurrent_activation=rec_act, unroll=unroll, use_bias=use_bias,
                  reset_after=reset_after).ir_attrs()
    expected = krnn._do_gru_arguments_support_cudnn(keras.activations.get(act), keras.activations.get(rec_act),
                                                    unroll, use_bias, reset_after)
    assert (cudnn_rnn.unsupported_reason("GRU", attrs, "float32", gpu=True) is None) == bool(expected)


def test_eligibility_extra_rules_recurrent_dropout_dtype_and_ops():
    # Keras' LSTM/GRU.inner_loop skips cuDNN when recurrent_dropout is set; CudnnRNNV3 takes half/float/double
    attrs = L.LSTM(4, recurrent_dropout=0.2).ir_attrs()
    assert cudnn_rnn.unsupported_reason("LSTM", attrs, gpu=True) == "recurrent_dropout must be 0"
    plain = L.LSTM(4).ir_attrs()
    assert cudnn_rnn.unsupported_reason("LSTM", plain, "float16", gpu=True) is None
    assert "bfloat16" in cudnn_rnn.unsupported_reason("LSTM", plain, "bfloat16", gpu=True)
    assert cudnn_rnn.unsupported_reason("SimpleRNN", L.SimpleRNN(4).ir_attrs(), gpu=True) is not None
    assert cudnn_rnn.unsupported_reason("LSTM", plain, gpu=False) == "TensorFlow sees no GPU"


# ------------------------------------------------------------------ params packing vs Keras
def _weights(features, units, gates, bias_shape):
    return (RNG.normal(size=(features, gates * units)).astype("float32"),
            RNG.normal(size=(units, gates * units)).astype("float32"),
            RNG.normal(size=bias_shape).astype("float32"))


@pytest.mark.parametrize("rocm", [False, True])
def test_lstm_params_equal_keras_packing(rocm):
    k, rk, b = _weights(5, 3, 4, (12,))
    # the gate lists exactly as keras' _cudnn_lstm forms them, packed by Keras' own function
    weights = tf.split(k, 4, axis=1) + tf.split(rk, 4, axis=1)
    biases = tf.split(tf.concat((tf.zeros_like(b), b), 0), 8)
    if rocm:
        weights = [weights[x] for x in (0, 1, 3, 2, 4, 5, 7, 6)]
        biases = [biases[x] for x in (0, 1, 3, 2, 4, 5, 7, 6)]
    expected = krnn._standardize_cudnn_weights(weights, biases, tf.constant([-1]), transpose_weights=True)
    np.testing.assert_array_equal(cudnn_rnn.lstm_params(k, rk, b, rocm=rocm).numpy(), expected.numpy())


@pytest.mark.parametrize("cuda", [True, False])
def test_gru_params_equal_keras_packing(cuda):
    k, rk, b = _weights(5, 3, 3, (2, 9))
    weights = tf.split(k, 3, axis=1) + tf.split(rk, 3, axis=1)
    biases = tf.split(tf.reshape(b, [-1]), 6)
    if cuda:
        weights[0], weights[1] = weights[1], weights[0]
        weights[3], weights[4] = weights[4], weights[3]
        biases[0], biases[1] = biases[1], biases[0]
        biases[3], biases[4] = biases[4], biases[3]
    expected = krnn._standardize_cudnn_weights(weights, biases, tf.constant([-1]), transpose_weights=True)
    np.testing.assert_array_equal(cudnn_rnn.gru_params(k, rk, b, cuda=cuda).numpy(), expected.numpy())


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _cudnn_blob_run(mode, blob, x, units):
    """cuDNN's own recurrence read from a canonical params blob (W per gate (u, in), R per gate
    (u, u), input biases, recurrent biases; LSTM gates i f c o, GRU r z h): an independent check
    that the packing means Keras' LSTM/GRU."""
    gates, features = (4 if mode == "lstm" else 3), x.shape[-1]
    blob, pos, mats = np.asarray(blob, "float64"), 0, []
    for shape in [(units, features)] * gates + [(units, units)] * gates + [(units,)] * (2 * gates):
        size = int(np.prod(shape))
        mats.append(blob[pos: pos + size].reshape(shape))
        pos += size
    assert pos == blob.size
    W, R, bw, br = mats[:gates], mats[gates: 2 * gates], mats[2 * gates: 3 * gates], mats[3 * gates:]
    h, c = np.zeros((x.shape[0], units)), np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        xt = x[:, t].astype("float64")
        pre = [xt @ W[g].T + bw[g] for g in range(gates)]
        rec = [h @ R[g].T + br[g] for g in range(gates)]
        if mode == "lstm":
            i, f, o = (_sigmoid(pre[g] + rec[g]) for g in (0, 1, 3))
            c = f * c + i * np.tanh(pre[2] + rec[2])
            h = o * np.tanh(c)
        else:
            r, z = _sigmoid(pre[0] + rec[0]), _sigmoid(pre[1] + rec[1])
            h = (1 - z) * np.tanh(pre[2] + r * rec[2]) + z * h
    return h


@pytest.mark.parametrize("layer_cls", [L.LSTM, L.GRU])
def test_packed_params_mean_the_keras_layer_under_cudnn_semantics(layer_cls):
    layer = layer_cls(3)
    model = kir.Sequential([L.Input((6, 5)), layer])
    k, rk, b = (w + RNG.normal(size=w.shape).astype("float32") * 0.3 for w in layer.get_weights())
    layer.set_weights([k, rk, b])
    x = RNG.normal(size=(2, 6, 5)).astype("float32")
    pack = cudnn_rnn.lstm_params if layer_cls is L.LSTM else cudnn_rnn.gru_params
    blob = pack(tf.constant(k), tf.constant(rk), tf.constant(b)).numpy()
    got = _cudnn_blob_run("lstm" if layer_cls is L.LSTM else "gru", blob, x, 3)
    np.testing.assert_allclose(got, model.predict(x), atol=1e-5)


# ------------------------------------------------------------------ use_cudnn: argument and round trips
def test_use_cudnn_validation_names_the_layer():
    with pytest.raises(ConfigError) as err:
        L.GRU(2, use_cudnn="always", name="enc")
    assert str(err.value) == ("GRU 'enc': invalid value received for argument `use_cudnn`. Expected one of "
                              "{'auto', True, False}. Received: use_cudnn='always'")
    assert L.LSTM(2).use_cudnn == "auto"
    assert L.LSTM(2, use_cudnn=np.bool_(False)).use_cudnn is False


def _lstm_model(use_cudnn="auto", **kwargs):
    x = L.Input((5, 3))
    return kir.Model(x, L.LSTM(4, use_cudnn=use_cudnn, name="rnn", **kwargs)(x))


def test_use_cudnn_true_without_gpu_is_a_config_error_naming_the_layer():
    if HAS_GPU:
        pytest.skip("a GPU is visible: use_cudnn=True is possible here")
    model = _lstm_model(True)
    x = np.zeros((2, 5, 3), "float32")
    expected = ("LSTM 'rnn': use_cudnn=True was specified, but cuDNN is not supported for this layer configuration "
                "with this backend (TensorFlow sees no GPU). Pass use_cudnn='auto' to fall back to a non-cuDNN "
                "implementation.")
    with pytest.raises(ConfigError) as err:
        model.predict(x, backend="tensorflow")
    assert str(err.value) == expected
    model.compile("sgd", "mse")
    with pytest.raises(ConfigError, match="use_cudnn=True was specified"):
        model.fit(x, np.zeros((2, 4), "float32"), verbose=0)
    # the inference backends compute the same function and ignore the kernel choice
    assert model.predict(x).shape == (2, 4)


def test_use_cudnn_true_with_impossible_arguments_names_the_reason():
    model = _lstm_model(True, activation="relu")
    with pytest.raises(ConfigError, match=r"'rnn': use_cudnn=True .*\(activation must be 'tanh'\)"):
        model.predict(np.zeros((1, 5, 3), "float32"), backend="tensorflow")


@pytest.mark.parametrize("value", [False, True])
def test_use_cudnn_round_trips_through_config_kir_and_keras(tmp_path, value):
    model = _lstm_model(value)
    assert model.get_layer("rnn").get_config()["use_cudnn"] is value
    model.save(str(tmp_path / "m.kir"))
    assert kir.models.load_model(str(tmp_path / "m.kir")).get_layer("rnn").use_cudnn is value
    model.save(str(tmp_path / "m.keras"))
    assert keras.saving.load_model(str(tmp_path / "m.keras")).get_layer("rnn").use_cudnn is value
    assert kir.models.load_model(str(tmp_path / "m.keras")).get_layer("rnn").use_cudnn is value


def test_keras_file_without_use_cudnn_loads_auto(tmp_path):
    # Keras 3's own get_config leaves use_cudnn out: such a file means the default
    inp = keras.Input((5, 3))
    keras.Model(inp, keras.layers.GRU(2, use_cudnn=False, name="g")(inp)).save(str(tmp_path / "k.keras"))
    assert kir.models.load_model(str(tmp_path / "k.keras")).get_layer("g").use_cudnn == "auto"


# ------------------------------------------------------------------ the CPU path and XLA
def _ops_of_trace(model, x):
    prog = Program(model.to_graph())
    fn = tf.function(lambda t: prog.forward([t], training=True), autograph=False)
    graph_def = fn.get_concrete_function(tf.TensorSpec(x.shape, tf.float32)).graph.as_graph_def()
    # the masked path's kernels sit in tf.cond's branch functions
    return {n.op for n in graph_def.node} | {n.op for f in graph_def.library.function for n in f.node_def}


@pytest.mark.skipif(HAS_GPU, reason="checks the CPU-only decision")
def test_cpu_traces_the_scan_and_auto_equals_false():
    auto, off = _lstm_model("auto"), _lstm_model(False)
    off.set_weights(auto.get_weights())
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    assert _ops_of_trace(auto, x) == _ops_of_trace(off, x)
    assert "CudnnRNNV3" not in _ops_of_trace(auto, x)
    np.testing.assert_array_equal(auto.predict(x, backend="tensorflow"), off.predict(x, backend="tensorflow"))


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype,masked,go_backwards", [("float32", False, False), ("float32", True, True),
                                                       ("float16", True, False)])
def test_fused_graph_and_its_gradient_trace_on_cpu(op, dtype, masked, go_backwards):
    """CudnnRNNV3 has no CPU kernel, but its graph (packing, lengths, reversals, padding fill) and
    its gradient (CudnnRNNBackpropV3) build with the right shapes and dtypes."""
    layer = (L.LSTM if op == "LSTM" else L.GRU)(4, return_sequences=True, return_state=True)
    layer(L.Input((6, 3)))  # builds the weights
    variables = [tf.Variable(w) for w in layer.get_weights()]
    attrs = {**layer.ir_attrs(), "masked": masked, "go_backwards": go_backwards}

    def run(x, mask):
        with tf.GradientTape() as tape:
            params = dict(zip(("kernel", "recurrent_kernel", "bias"), (tf.cast(v, dtype) for v in variables)))
            states = tuple(tf.zeros([tf.shape(x)[0], 4], dtype) for _ in layer.state_names())
            outs = cudnn_rnn.fused_call(op, attrs, x, states, params, mask if masked else None)
            loss = tf.add_n([tf.reduce_sum(tf.cast(o, "float32")) for o in outs])
        return outs, tape.gradient(loss, variables)

    fn = tf.function(run, autograph=False).get_concrete_function(
        tf.TensorSpec([None, None, 3], dtype), tf.TensorSpec([None, None], tf.bool))
    outs, grads = fn.structured_outputs
    assert [tuple(o.shape.as_list()) for o in outs] == [(None, None, 4)] + [(None, 4)] * len(layer.state_names())
    assert {o.dtype.name for o in outs} == {dtype}
    assert [tuple(g.shape.as_list()) for g in grads] == [w.shape for w in layer.get_weights()]
    types = {o.type for o in fn.graph.get_operations()}
    assert {"CudnnRNNV3", "CudnnRNNBackpropV3"} <= types
    assert ("ReverseSequence" in types) == go_backwards


def test_masked_fused_path_keeps_the_scan_as_run_time_fallback():
    """A mask picks cuDNN or the scan at run time (tf.cond on valid_mask): both are in the graph."""
    from kir.backends.tensorflow.lowerings import recurrent

    layer = L.GRU(4, return_sequences=True)
    layer(L.Input((6, 3)))
    params = dict(zip(("kernel", "recurrent_kernel", "bias"), (tf.constant(w) for w in layer.get_weights())))
    attrs = {**layer.ir_attrs(), "masked": True}

    def run(x, mask):
        inputs = [x, mask]
        states = (tf.zeros([tf.shape(x)[0], 4]),)
        return cudnn_rnn.fused_or_scan("GRU", attrs, inputs, params, states,
                                       lambda: recurrent._gru_scan(attrs, inputs, params, states))

    graph_def = tf.function(run, autograph=False).get_concrete_function(
        tf.TensorSpec([None, 6, 3]), tf.TensorSpec([None, 6], tf.bool)).graph.as_graph_def()
    branches = [{n.op for n in f.node_def} for f in graph_def.library.function]
    assert any("CudnnRNNV3" in ops for ops in branches) and any(ops & {"While", "StatelessWhile"} for ops in branches)
    valid = [[1, 1, 0], [1, 1, 1]], [[0, 1, 1], [1, 1, 1]], [[1, 0, 1], [1, 1, 1]], [[1, 1, 0], [0, 0, 0]]
    assert [bool(cudnn_rnn.valid_mask(tf.constant(np.array(m, bool)))) for m in valid] == [True, False, False, False]


def test_fused_models_are_not_xla_compiled():
    inner_x = L.Input((5, 3))
    inner = kir.Model(inner_x, L.GRU(2)(inner_x), name="inner")
    x = L.Input((5, 3))
    nested = kir.Model(x, L.Dense(1)(inner(x)))
    assert cudnn_rnn.model_uses_cudnn(nested.to_graph(), gpu=True)
    assert not cudnn_rnn.model_uses_cudnn(nested.to_graph(), gpu=False)
    assert not cudnn_rnn.model_uses_cudnn(_lstm_model(False).to_graph(), gpu=True)
    assert not cudnn_rnn.model_uses_cudnn(_lstm_model("auto", activation="relu").to_graph(), gpu=True)
    model = _lstm_model("auto")
    if HAS_GPU:
        with pytest.warns(UserWarning, match="Proceeding with `jit_compile=False`"):
            model.compile("sgd", "mse", jit_compile=True)
        assert model.compiled.jit_compile is False
    else:
        model.compile("sgd", "mse", jit_compile=True)
        assert model.compiled.jit_compile is True


# ------------------------------------------------------------------ GPU: fused == scan
def _pair(layer_cls, masked, **kwargs):
    """Two models, fused ("auto") and scan (False), with the same weights."""
    models = []
    for use in ("auto", False):
        x = L.Input((6, 3))
        y = L.Masking()(x) if masked else x
        models.append(kir.Model(x, layer_cls(4, use_cudnn=use, name="rnn", **kwargs)(y)))
    models[1].set_weights([w + RNG.normal(size=w.shape).astype("float32") * 0.2 for w in models[0].get_weights()])
    models[0].set_weights(models[1].get_weights())
    return models


def _outputs_and_grads(model, x):
    prog = Program(model.to_graph())
    weigh = np.random.default_rng(5)  # the same loss weights for both models
    with tf.GradientTape() as tape:
        outs = prog.forward([tf.constant(x)], training=True)
        loss = tf.add_n([tf.reduce_sum(o * weigh.normal(size=o.shape).astype("float32")) for o in outs])
    grads = tape.gradient(loss, prog.trainable_variables)
    return [o.numpy() for o in outs], [g.numpy() for g in grads]


def _padded(x, lengths, left=False):
    x = x.copy()
    for b, n in enumerate(lengths):
        if left:
            x[b, : x.shape[1] - n] = 0.0
        else:
            x[b, n:] = 0.0
    return x


@needs_gpu
@pytest.mark.parametrize("layer_cls", [L.LSTM, L.GRU])
@pytest.mark.parametrize("mask", [None, "right", "left"])
@pytest.mark.parametrize("go_backwards,return_sequences", [(False, True), (True, True), (False, False), (True, False)])
def test_fused_equals_scan_on_gpu(layer_cls, mask, go_backwards, return_sequences):
    fused, scan = _pair(layer_cls, mask is not None, go_backwards=go_backwards, return_sequences=return_sequences,
                        return_state=True)
    x = RNG.normal(size=(3, 6, 3)).astype("float32")
    if mask is not None:
        x = _padded(x, [6, 4, 2], left=mask == "left")
    if mask != "left":
        assert "CudnnRNNV3" in _ops_of_trace(fused, x)
    assert "CudnnRNNV3" not in _ops_of_trace(scan, x)
    (f_out, f_grad), (s_out, s_grad) = _outputs_and_grads(fused, x), _outputs_and_grads(scan, x)
    for f, s in zip(f_out + f_grad, s_out + s_grad):
        np.testing.assert_allclose(f, s, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(f_out[0], fused.predict(x)[0], atol=2e-5, rtol=1e-4)  # the numpy reference


@needs_gpu
def test_fused_with_initial_state_and_fit_on_gpu():
    for use in ("auto", False):
        x, h0, c0 = L.Input((6, 3)), L.Input((4,)), L.Input((4,))
        model = kir.Model([x, h0, c0], L.LSTM(4, use_cudnn=use, name="rnn")(x, initial_state=[h0, c0]))
        if use == "auto":
            fused = model
        else:
            model.set_weights(fused.get_weights())
            scan = model
    feed = [RNG.normal(size=s).astype("float32") for s in ((3, 6, 3), (3, 4), (3, 4))]
    np.testing.assert_allclose(fused.predict(feed, backend="tensorflow"), scan.predict(feed, backend="tensorflow"),
                               atol=2e-5)
    y = RNG.normal(size=(3, 4)).astype("float32")
    for m in (fused, scan):
        m.compile("sgd", "mse")
        m.fit(feed, y, epochs=2, verbose=0)
    for a, b in zip(fused.get_weights(), scan.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
