"""SimpleRNN/GRU/LSTM `dropout` and `recurrent_dropout` on the TensorFlow backend, as Keras 3's cells:
training only, one input mask and one recurrent mask per sequence (per gate for a GRU/LSTM with
recurrent_dropout, Keras' implementation 1), drawn from kir's per-step stateless seed."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir.backends.tensorflow.context import TensorFlowContext  # noqa: E402
from kir.backends.tensorflow.lowerings.recurrent import dropout_masks, gru, lstm, simple_rnn  # noqa: E402
from kir.backends.tensorflow.program import Program  # noqa: E402
from kir.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, SimpleRNN  # noqa: E402
from kir.models import Model, Sequential  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

B, T, F, U = 3, 5, 4, 3
RNG = np.random.default_rng(0)


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _params(op: str, reset_after: bool = True) -> dict:
    g = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[op]
    bias = (2, g * U) if op == "GRU" and reset_after else (g * U,)
    return {"kernel": RNG.normal(0, 0.6, (F, g * U)).astype("float32"),
            "recurrent_kernel": RNG.normal(0, 0.6, (U, g * U)).astype("float32"),
            "bias": RNG.normal(0, 0.3, bias).astype("float32")}


def _reference(op, x, p, masks, rec, reset_after=True, go_backwards=False):
    """Keras 3's cell in numpy: gate g reads x_t * masks[g] and h * rec[g] (one mask: all gates)."""
    g = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[op]
    m = [masks[min(i, len(masks) - 1)] if masks else 1.0 for i in range(g)]
    r = [rec[min(i, len(rec) - 1)] if rec else 1.0 for i in range(g)]
    k, rk, b = p["kernel"], p["recurrent_kernel"], p["bias"]
    kg, rkg = np.split(k, g, axis=1), np.split(rk, g, axis=1)
    ib, rb = (b[0], b[1]) if op == "GRU" and reset_after else (b, np.zeros_like(b))
    ibg, rbg = np.split(ib, g), np.split(rb, g)
    h, c, out = np.zeros((x.shape[0], U), "float32"), np.zeros((x.shape[0], U), "float32"), []
    for t in (range(x.shape[1])[::-1] if go_backwards else range(x.shape[1])):
        xs = [(x[:, t] * m[i]) @ kg[i] + ibg[i] for i in range(g)]
        hs = [(h * r[i]) @ rkg[i] + rbg[i] for i in range(g)]
        if op == "SimpleRNN":
            h = np.tanh(xs[0] + hs[0])
        elif op == "LSTM":
            i_, f_, o_ = _sigmoid(xs[0] + hs[0]), _sigmoid(xs[1] + hs[1]), _sigmoid(xs[3] + hs[3])
            c = f_ * c + i_ * np.tanh(xs[2] + hs[2])
            h = o_ * np.tanh(c)
        else:
            z, rr = _sigmoid(xs[0] + hs[0]), _sigmoid(xs[1] + hs[1])
            cand = rr * hs[2] if reset_after else (rr * (h * r[2])) @ rkg[2]
            h = z * h + (1 - z) * np.tanh(xs[2] + cand)
        out.append(h)
    return np.stack(out, 1)


LOWERING = {"SimpleRNN": simple_rnn, "GRU": gru, "LSTM": lstm}
CASES = [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {"reset_after": True}), ("GRU", {"reset_after": False}),
         ("LSTM", {"go_backwards": True})]
RATES = [{"dropout": 0.5}, {"recurrent_dropout": 0.4}, {"dropout": 0.3, "recurrent_dropout": 0.5}]


def _run(op, attrs, p, x, training, step=None):
    ctx = TensorFlowContext(training, step_seed=None if step is None else tf.constant(step, "int64"))
    base = {"units": U, "return_sequences": True, "use_cudnn": False, **attrs}
    return LOWERING[op](ctx, base, [tf.constant(x)], {k: tf.constant(v) for k, v in p.items()})[0].numpy()


@pytest.mark.parametrize("op,extra", CASES, ids=["simple", "lstm", "gru_after", "gru_before", "lstm_back"])
@pytest.mark.parametrize("rates", RATES, ids=["in", "rec", "both"])
def test_training_forward_equals_keras_cell_with_the_exposed_masks(op, extra, rates):
    p = _params(op, extra.get("reset_after", True))
    x = RNG.normal(size=(B, T, F)).astype("float32")
    gates = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[op]
    # Keras: one mask for all gates, except a GRU/LSTM with recurrent_dropout (implementation 1)
    count = gates if op != "SimpleRNN" and rates.get("recurrent_dropout", 0) > 0 else 1
    seed = TensorFlowContext(True).seed(None)
    salt = 2 if extra.get("go_backwards") else 0  # the backward direction draws its own masks
    masks = dropout_masks(seed, (B, F), rates.get("dropout", 0.0), count, salt)
    rec = dropout_masks(seed, (B, U), rates.get("recurrent_dropout", 0.0), count, salt + 1)
    got = _run(op, {**extra, **rates}, p, x, True)
    want = _reference(op, x, p, masks and [m.numpy() for m in masks], rec and [m.numpy() for m in rec],
                      extra.get("reset_after", True), extra.get("go_backwards", False))
    assert_close(got, want, rtol=1e-5)
    assert not np.allclose(got, _run(op, extra, p, x, True))  # the masks changed the result
    assert_close(_run(op, {**extra, **rates}, p, x, False), _run(op, extra, p, x, False))  # inference: off
    assert not np.allclose(got, _run(op, {**extra, **rates}, p, x, True, step=1))  # new masks each step


@pytest.mark.skipif(not tf.config.list_logical_devices("GPU"), reason="the fused cuDNN kernel needs a GPU")
@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_fused_kernel_gets_the_same_input_mask(op):
    # recurrent_dropout 0: Keras masks the whole sequence once, then calls cuDNN
    p, x = _params(op), RNG.normal(size=(B, T, F)).astype("float32")
    fused = _run(op, {"use_cudnn": True, "dropout": 0.5}, p, x, True)
    assert_close(fused, _run(op, {"use_cudnn": False, "dropout": 0.5}, p, x, True), rtol=1e-4)
    assert not np.allclose(fused, _run(op, {"use_cudnn": True}, p, x, True))


def test_masks_are_keras_inverted_dropout():
    m = dropout_masks(tf.constant([3, 0], "int64"), (400, 50), 0.25, 2, 0)
    for mask in m:
        np.testing.assert_allclose(np.unique(mask.numpy()), [0.0, 1 / 0.75], rtol=1e-6)
        assert abs(float(np.mean(mask.numpy() == 0)) - 0.25) < 0.02
    assert not np.array_equal(m[0].numpy(), m[1].numpy())  # one mask per gate, independent
    assert dropout_masks(tf.constant([3, 0], "int64"), (4, 5), 0.0, 1, 0) is None


def _trace_ops(layer):
    model = Sequential([Input((T, F)), layer])
    prog = Program(model.to_graph())
    fn = tf.function(lambda t: prog.forward([t], training=True), autograph=False)
    graph = fn.get_concrete_function(tf.TensorSpec((None, T, F), tf.float32)).graph.as_graph_def()
    return sorted(n.op for n in graph.node) + sorted(n.op for f in graph.library.function for n in f.node_def)


def test_bad_seed_names_the_layer():
    with pytest.raises(kir.errors.ConfigError, match="LSTM 'enc': seed must be an int or None"):
        LSTM(3, dropout=0.2, seed="x", name="enc")


@pytest.mark.parametrize("cls", [SimpleRNN, GRU, LSTM])
def test_no_dropout_means_the_plain_training_graph(cls):
    # rates 0: the training trace has no random ops and is exactly the dropout-free one
    plain = _trace_ops(cls(U, use_bias=True))
    assert not any("Random" in op for op in plain)
    with_rates = _trace_ops(cls(U, dropout=0.3, recurrent_dropout=0.3))
    assert any("Random" in op for op in with_rates)


@pytest.mark.parametrize("seed", [None, 4])
def test_input_mask_is_constant_over_time_and_bidirectional_directions_differ(seed):
    # identity kernel, no recurrence, linear: each output step is the input mask itself
    layer = SimpleRNN(F, activation="linear", use_bias=False, dropout=0.5, return_sequences=True, seed=seed)
    model = Model(inp := Input((T, F)), Bidirectional(layer, merge_mode="concat")(inp))
    model.set_weights([np.eye(F, dtype="float32"), np.zeros((F, F), "float32")] * 2)
    out = Program(model.to_graph()).forward([tf.ones((64, T, F))], training=True)[0].numpy()
    fwd, bwd = out[..., :F], out[..., F:]
    for side in (fwd, bwd):
        np.testing.assert_array_equal(side, np.repeat(side[:, :1], T, axis=1))  # one mask per sequence
        assert set(np.unique(side)) == {0.0, 2.0}
    assert not np.array_equal(fwd, bwd)  # each direction draws its own masks (Keras' two cells)
    assert_close(model.predict(np.ones((2, T, F), "float32"), backend="tensorflow"), np.ones((2, T, 2 * F)))


def _fit_weights(name=None, seed=None):
    kir.utils.set_random_seed(3)
    model = Sequential([Input((T, F)), LSTM(U, dropout=0.4, recurrent_dropout=0.4, seed=seed, name=name),
                        Dense(1)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    x = np.random.default_rng(1).normal(size=(16, T, F)).astype("float32")
    model.fit(x, x[:, -1, :1], epochs=1, batch_size=8, shuffle=False, verbose=0)
    return model.get_weights()


def test_reproducible_with_set_random_seed():
    first = _fit_weights(seed=11)
    for a, b in zip(first, _fit_weights(seed=11)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_fit_weights(name="encoder"), _fit_weights(name="encoder")):  # no seed: a stable name
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, _fit_weights(seed=12)))  # other masks


@pytest.mark.parametrize("op,rates", [("LSTM", (0.5, 0.5)), pytest.param("GRU", (0.5, 0.3), marks=pytest.mark.slow),
                                      ("SimpleRNN", (0.5, 0.0))])
def test_mean_training_loss_matches_keras(op, rates):
    """With learning rate 0, kir's mean training loss over N sequences (each with its own masks, 10
    batches) estimates the same expectation as Keras' training-mode loss for the same weights and
    data. The target is the dropout-free model's own output, so without dropout the loss is 0.
    Two independent mask draws on the same data differ per sample by d_i; the difference of the two
    means has standard error std(d) / sqrt(N), measured from two Keras draws; 5 of those is the
    tolerance (a false failure ~1e-6)."""
    n = 2000
    x = np.random.default_rng(4).normal(size=(n, T, F)).astype("float32")

    def pair(lib, d, r):
        layer = getattr(lib.layers, op)(U, dropout=d, recurrent_dropout=r)
        return lib.Sequential([lib.layers.Input((T, F)), layer, lib.layers.Dense(1)])

    theirs = pair(keras, *rates)
    weights = [RNG.normal(0, 0.8, w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    y = np.asarray(theirs(x, training=False))
    draws = [np.square(np.asarray(theirs(x, training=True)) - y)[:, 0] for _ in range(2)]
    keras_mean, se = float(draws[0].mean()), float((draws[0] - draws[1]).std()) / np.sqrt(n)

    def kir_loss(d, r):
        ours = pair(kir, d, r)
        ours.set_weights(weights)
        ours.compile(optimizer=kir.optimizers.SGD(learning_rate=0.0), loss="mse")
        return ours.fit(x, y, epochs=1, batch_size=200, shuffle=False, verbose=0).history["loss"][0]

    ours_mean = kir_loss(*rates)
    assert abs(ours_mean - keras_mean) < 5 * se, (ours_mean, keras_mean, se)
    assert ours_mean > 10 * se  # far from dropout=0, whose loss is 0 here


def test_imdb_style_model_trains_with_dropout():
    rng = np.random.default_rng(5)
    x = rng.integers(1, 50, size=(256, 12))
    x[rng.random(x.shape) < 0.2] = 0  # padding, masked
    y = (x == 7).any(axis=1).astype("float32")[:, None]  # is token 7 in the review?
    kir.utils.set_random_seed(0)
    model = Sequential([Input((12,), dtype="int32"), Embedding(50, 8, mask_zero=True),
                        LSTM(8, dropout=0.2, recurrent_dropout=0.2), Dense(1, activation="sigmoid")])
    model.compile(optimizer=kir.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy")
    losses = model.fit(x, y, epochs=4, batch_size=32, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.8 * losses[0], losses
    assert_close(model.predict(x[:8], backend="tensorflow"), model.predict(x[:8], backend="numpy"), rtol=1e-4)
