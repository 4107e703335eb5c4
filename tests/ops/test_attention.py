"""Attention, AdditiveAttention and MultiHeadAttention against Keras 3: the same arguments, weight
names, layout and order; with Keras' weights copied the numpy reference and the TensorFlow
backend give Keras' outputs (batch 1 and 7, causal, attention_mask, return_attention_scores,
key != value sizes); shape errors name the layer; the transformer encoder trains."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402
from kir.errors import ConfigError, ShapeError  # noqa: E402
from kir.ir.ops import infer  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

# name -> (constructor kwargs, call flags, {input: shape without batch}); inputs q, v, k (key=),
# m (attention_mask=, 0/1 floats); q == "v" means self-attention on one tensor
MHA_CASES = {
    "self": ({"num_heads": 2, "key_dim": 4}, {}, {"q": (5, 8)}),
    "cross_key_mask_causal_scores": ({"num_heads": 2, "key_dim": 4, "value_dim": 3, "output_shape": 5},
                                     {"use_causal_mask": True, "return_attention_scores": True},
                                     {"q": (5, 8), "v": (6, 9), "k": (6, 10), "m": (5, 6)}),
    "no_bias_mask": ({"num_heads": 3, "key_dim": 2, "use_bias": False}, {}, {"q": (4, 6), "v": (5, 6), "m": (4, 5)}),
    "causal_self": ({"num_heads": 2, "key_dim": 3}, {"use_causal_mask": True}, {"q": (6, 4)}),
    "dropout_scores_mask": ({"num_heads": 2, "key_dim": 3, "dropout": 0.3}, {"return_attention_scores": True},
                            {"q": (4, 5), "v": (3, 5), "m": (4, 3)}),
}
ATT_CASES = {
    "dot": ("Attention", {}, {}, True),
    "dot_scale_causal_scores": ("Attention", {"use_scale": True}, {"use_causal_mask": True,
                                                                   "return_attention_scores": True}, False),
    "concat_scale": ("Attention", {"use_scale": True, "score_mode": "concat"}, {}, True),
    "additive_scores": ("AdditiveAttention", {}, {"return_attention_scores": True}, True),
    "additive_no_scale_causal": ("AdditiveAttention", {"use_scale": False}, {"use_causal_mask": True}, False),
}


def mha_pair(case: str, seed: int = 0):
    """(kir model, Keras model, feeds builder) for one MHA case, the same random weights in both."""
    kwargs, flags, shapes = MHA_CASES[case]
    kin = {n: keras.Input(s, name=n) for n, s in shapes.items()}
    kins = {n: L.Input(s, name=n) for n, s in shapes.items()}
    outs = []
    for lib, ins in ((L, kins), (keras.layers, kin)):
        layer = lib.MultiHeadAttention(**kwargs)
        q = ins["q"]
        outs.append((layer, layer(q, ins.get("v", q), key=ins.get("k"), attention_mask=ins.get("m"), **flags)))
    (layer, out), (klayer, kout) = outs
    assert [w.path.split("/", 1)[1] for w in klayer.weights] == layer.weight_names()
    assert [tuple(w.shape) for w in klayer.get_weights()] == [w.shape for w in layer.get_weights()]
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.4, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    klayer.set_weights(weights)
    model = kir.Model(list(kins.values()), out, name=f"mha_{case}")
    kmodel = keras.Model(list(kin.values()), kout)

    def feeds(batch: int) -> list[np.ndarray]:
        r = np.random.default_rng(batch)
        xs = [r.normal(size=(batch, *s)).astype(np.float32) for s in shapes.values()]
        if "m" in shapes:
            xs[-1] = (r.random((batch, *shapes["m"])) > 0.4).astype(np.float32)
            xs[-1][0, 0] = 0.0  # a fully masked query row
        return xs

    return model, kmodel, feeds


def _outs(y) -> list[np.ndarray]:
    return [np.asarray(a) for a in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


@pytest.mark.parametrize("case", sorted(MHA_CASES))
def test_multi_head_attention_matches_keras(case: str) -> None:
    model, kmodel, feeds = mha_pair(case)
    for batch in (1, 7):
        xs = feeds(batch)
        want = _outs(kmodel.predict(xs, verbose=0))
        for backend in ("numpy", "tensorflow"):
            got = _outs(model.predict(xs, backend=backend))
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert_close(g, w, rtol=1e-5)


def att_pair(case: str):
    name, kwargs, flags, with_key = ATT_CASES[case]
    shapes = [(4, 6), (5, 3)] + ([(5, 6)] if with_key else [])
    if not with_key:
        shapes = [(5, 3), (5, 3)] if flags.get("use_causal_mask") else [(4, 3), (5, 3)]
    kins = [keras.Input(s) for s in shapes]
    ins = [L.Input(s) for s in shapes]
    layer, klayer = getattr(L, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    out, kout = layer(ins, **flags), klayer(kins, **flags)
    assert [w.path.split("/", 1)[1] for w in klayer.weights] == layer.weight_names()
    weights = [np.random.default_rng(3).normal(0, 0.7, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    klayer.set_weights(weights)
    return kir.Model(ins, out, name=f"att_{case}"), keras.Model(kins, kout), shapes


@pytest.mark.parametrize("case", sorted(ATT_CASES))
def test_attention_layers_match_keras(case: str) -> None:
    model, kmodel, shapes = att_pair(case)
    for batch in (1, 7):
        r = np.random.default_rng(batch)
        xs = [r.normal(size=(batch, *s)).astype(np.float32) for s in shapes]
        want = _outs(kmodel.predict(xs, verbose=0))
        for backend in ("numpy", "tensorflow"):
            for g, w in zip(_outs(model.predict(xs, backend=backend)), want, strict=True):
                assert_close(g, w, rtol=1e-5)


def test_config_round_trips_and_matches_keras() -> None:
    layer = L.MultiHeadAttention(4, 8, value_dim=6, dropout=0.1, output_shape=12, name="mha")
    config = layer.get_config()
    assert {k: config[k] for k in ("num_heads", "key_dim", "value_dim", "dropout", "output_shape")} == \
        {"num_heads": 4, "key_dim": 8, "value_dim": 6, "dropout": 0.1, "output_shape": 12}
    keras.layers.MultiHeadAttention(**config)  # Keras takes kir's config
    again = L.MultiHeadAttention.from_config(config)
    assert (again.num_heads, again.key_dim, again.value_dim, again.output_shape_arg) == (4, 8, 6, 12)
    att = L.AdditiveAttention(use_scale=False, dropout=0.2)
    assert "score_mode" not in att.get_config()
    keras.layers.AdditiveAttention(**att.get_config())


def test_kir_file_round_trip(tmp_path) -> None:
    """Per-call flags and the attention_mask input survive a .kir file."""
    q, v, m = L.Input((5, 8), name="q"), L.Input((6, 8), name="v"), L.Input((5, 6), name="m")
    mha = L.MultiHeadAttention(2, 4, name="mha")
    y, scores = mha(q, v, attention_mask=m, use_causal_mask=True, return_attention_scores=True)
    y2 = mha(q, v)  # the same layer, called without flags
    a = L.Attention(use_scale=True, name="att")([y, q], use_causal_mask=True)
    out = L.Add()([a, y2, L.AdditiveAttention(name="add_att")([q, v, v])])
    model = kir.Model([q, v, m], [out, scores], name="atts")
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    model.save(tmp_path / "m.kir")
    loaded = kir.models.load_model(tmp_path / "m.kir")
    xs = [rng.normal(size=(3, 5, 8)).astype(np.float32), rng.normal(size=(3, 6, 8)).astype(np.float32),
          (rng.random((3, 5, 6)) > 0.3).astype(np.float32)]
    for got, want in zip(loaded.predict(xs, backend="numpy"), model.predict(xs, backend="numpy"), strict=True):
        assert_close(got, want)


def test_summary_matches_keras() -> None:
    from tests.models.test_summary import rows

    def build(lib, layers):
        q, v = lib.Input((5, 8), name="q"), lib.Input((6, 3), name="v")
        y = layers.MultiHeadAttention(2, 4, value_dim=3, name="mha")(q, v)
        return lib.Model([q, v], layers.AdditiveAttention(name="add_att")([y, q]), name="atts")

    ours, theirs = [], []
    build(kir, L).summary(line_length=78, print_fn=ours.append)
    build(keras, keras.layers).summary(line_length=78, print_fn=lambda t, **_: theirs.append(t))
    theirs = "".join(theirs).rstrip("\n").split("\n")
    assert rows(ours) == rows(theirs)
    assert ours[-3:] == theirs[-3:]


def test_shape_errors_name_the_layer() -> None:
    q, v = L.Input((5, 8)), L.Input((6, 8))
    mha = L.MultiHeadAttention(2, 4, name="mha")
    with pytest.raises(ShapeError, match=r"mha.*attention_mask must have shape"):
        mha(q, v, attention_mask=L.Input((5, 7)))
    mha(q, v)
    with pytest.raises(ShapeError, match=r"layer 'mha'.*parameter 'query_kernel'"):
        mha(L.Input((5, 9)), v)
    with pytest.raises(ShapeError, match=r"key .* and value .* must have the same"):
        L.MultiHeadAttention(2, 4)(q, v, key=L.Input((7, 8)))
    with pytest.raises(ShapeError, match=r"(?i)query .*must have shape \(batch, steps, features\)"):
        L.MultiHeadAttention(2, 4)(L.Input((8,)), v)
    with pytest.raises(ShapeError, match="must have the same feature size"):
        L.Attention()([L.Input((4, 3)), L.Input((5, 2)), L.Input((5, 4))])
    assert infer("MultiHeadAttention", {"num_heads": 2, "key_dim": 4, "return_scores": True},
                 [TensorSpec((None, 5, 8)), TensorSpec((None, 6, 3))]) == \
        [TensorSpec((None, 5, 8)), TensorSpec((None, 2, 5, 6))]


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="num_heads"):
        L.MultiHeadAttention(0, 4)
    with pytest.raises(ConfigError, match="attention_axes"):
        L.MultiHeadAttention(2, 4, attention_axes="rows")
    with pytest.raises(ConfigError, match="score_mode"):
        L.Attention(score_mode="general")
    with pytest.raises(ConfigError, match="list"):
        L.Attention()(L.Input((3, 4)))
    q = L.Input((5, 8))
    with pytest.raises(ConfigError, match="query_mask must be a symbolic tensor"):
        L.MultiHeadAttention(2, 4)(q, q, query_mask=np.ones((1, 5)))


@pytest.mark.slow  # ~8 s of CPU: a TensorFlow program and four epochs
def test_transformer_encoder_trains_and_dropout_is_training_only() -> None:
    from kir.zoo.transformer import transformer_classifier

    model = transformer_classifier(maxlen=8, vocab=20, d_model=8, heads=2, ff_dim=16, blocks=1, classes=2,
                                   dropout=0.2)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=(64, 8)).astype(np.int32)
    y = (x[:, 0] > 9).astype(np.int32)
    before = model.predict(x, backend="numpy")
    assert_close(model.predict(x, backend="tensorflow"), before)  # inference: no dropout
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    mha = next(la for la in model.layers if isinstance(la, L.MultiHeadAttention))
    assert not np.allclose(mha.get_weight("query/kernel"), 0)
    assert np.max(np.abs(model.predict(x, backend="numpy") - before)) > 1e-4  # weights moved


# name -> (layer class, constructor kwargs, call flags, self-attention?): each consumes the Keras
# masks of Embedding(mask_zero=True) outputs; one attention layer per model, since Keras'
# MultiHeadAttention clears the masks of the tensors it reads
MASKED = {
    "mha_cross": ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, {}, False),
    "mha_self_causal": ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, {"use_causal_mask": True}, True),
    "mha_dropout_scores": ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "dropout": 0.2},
                           {"return_attention_scores": True}, False),
    "attention": ("Attention", {"use_scale": True}, {}, False),
    "additive_scores": ("AdditiveAttention", {}, {"return_attention_scores": True}, False),
}


def masked_pair(case: str):
    name, kwargs, flags, self_attention = MASKED[case]

    def build(lib, layers):
        t, s = lib.Input((6,), dtype="int32", name="t"), lib.Input((5,), dtype="int32", name="s")
        x = layers.Embedding(20, 8, mask_zero=True, name="e1")(t)
        y = x if self_attention else layers.Embedding(20, 8, mask_zero=True, name="e2")(s)
        layer = getattr(layers, name)(name="att", **kwargs)
        out = layer(x, y, **flags) if name == "MultiHeadAttention" else layer([x, y], **flags)
        return lib.Model([t, s], out, name=f"masked_{case}"), x, out

    model, x, out = build(kir, L)
    assert (out[0] if isinstance(out, list) else out).mask is x.mask  # the query's mask passes on
    kmodel = build(keras, keras.layers)[0]
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    for layer in kmodel.layers:
        if layer.get_weights():
            layer.set_weights(model.get_layer(layer.name).get_weights())
    t, s = rng.integers(1, 20, (7, 6)), rng.integers(1, 20, (7, 5))
    t[:, 4:], t[1, :2], t[2] = 0, 0, 0  # right and left padding, a fully padded query
    s[:, 3:], s[3, :1] = 0, 0
    return model, kmodel, [t.astype(np.int32), s.astype(np.int32)]


@pytest.mark.parametrize("case", sorted(MASKED))
def test_attention_honours_keras_masks(case: str, tmp_path) -> None:
    from kir.backends.onnx import Runtime, export

    model, kmodel, xs = masked_pair(case)
    want = _outs(kmodel.predict(xs, verbose=0))
    for backend in ("numpy", "tensorflow"):
        for g, w in zip(_outs(model.predict(xs, backend=backend)), want, strict=True):
            assert_close(g, w, rtol=1e-5)
    for portable in (False, True):
        export(model, tmp_path / f"{case}.onnx", portable=portable)
        for g, w in zip(Runtime(tmp_path / f"{case}.onnx", providers=["CPUExecutionProvider"]).run(xs), want,
                        strict=True):
            assert_close(g, w, rtol=1e-5)


def test_keras_files_both_ways(tmp_path) -> None:
    """A Keras 3 .keras file with attention layers loads into kir, and kir writes one Keras loads:
    positional (query, value) calls, key=, attention_mask=, the call flags and the EinsumDense weights."""
    from kir.models import load_model

    def build(lib, layers):
        q, v, m = lib.Input((5, 8), name="q"), lib.Input((6, 7), name="v"), lib.Input((5, 6), name="m")
        y, s = layers.MultiHeadAttention(2, 4, value_dim=3, output_shape=6, name="mha")(
            q, v, key=v, attention_mask=m, use_causal_mask=True, return_attention_scores=True)
        z = layers.Attention(use_scale=True, name="att")([y, y, y], use_causal_mask=True)
        return lib.Model([q, v, m], [layers.AdditiveAttention(name="add")([z, y]), s], name="atts")

    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(3, 5, 8)).astype(np.float32), rng.normal(size=(3, 6, 7)).astype(np.float32),
          (rng.random((3, 5, 6)) > 0.3).astype(np.float32)]
    kmodel = build(keras, keras.layers)
    kmodel.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in kmodel.get_weights()])
    kmodel.save(tmp_path / "k.keras")
    want = _outs(kmodel.predict(xs, verbose=0))
    loaded = load_model(tmp_path / "k.keras")
    for g, w in zip(_outs(loaded.predict(xs, backend="numpy")), want, strict=True):
        assert_close(g, w)
    loaded.save(tmp_path / "kir.keras")
    for g, w in zip(_outs(keras.models.load_model(tmp_path / "kir.keras").predict(xs, verbose=0)), want, strict=True):
        assert_close(g, w)


def test_masked_encoder_block_with_pooling_matches_keras(tmp_path) -> None:
    """The query's mask passes through MultiHeadAttention, the residual Add and LayerNormalization to
    GlobalAveragePooling1D, which averages the real steps only; the same numbers on every backend and
    in both ONNX files."""
    from kir.backends.onnx import Runtime, export

    def build(lib, layers):
        t = lib.Input((6,), dtype="int32", name="t")
        x = layers.Embedding(20, 8, mask_zero=True, name="e1")(t)
        y = layers.MultiHeadAttention(2, 4, name="mha")(x, x)
        y = layers.LayerNormalization(name="ln")(layers.Add(name="add")([x, y]))
        return lib.Model(t, layers.Dense(2, name="d")(layers.GlobalAveragePooling1D(name="gap")(y)))

    model, kmodel = build(kir, L), build(keras, keras.layers)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    for layer in kmodel.layers:
        if layer.get_weights():
            layer.set_weights(model.get_layer(layer.name).get_weights())
    t = rng.integers(1, 20, (5, 6))
    t[:, 4:], t[1, :2] = 0, 0
    x = t.astype(np.int32)
    want = kmodel.predict(x, verbose=0)
    for backend in ("numpy", "tensorflow"):
        assert_close(model.predict(x, backend=backend), want)
    for portable in (False, True):
        export(model, tmp_path / "m.onnx", portable=portable)
        assert_close(Runtime(tmp_path / "m.onnx", providers=["CPUExecutionProvider"]).run([x])[0], want)


def _tutorial_block(lib):
    """Keras' text_classification_with_transformer TransformerBlock (its FFN as two Dense layers)."""
    layers = lib.layers

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ff1, self.ff2 = layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1, self.dropout2 = layers.Dropout(rate), layers.Dropout(rate)

        def call(self, inputs, training=False):
            attn_output = self.dropout1(self.att(inputs, inputs), training=training)
            out1 = self.layernorm1(inputs + attn_output)
            return self.layernorm2(out1 + self.dropout2(self.ff2(self.ff1(out1)), training=training))

    x = lib.Input((10, 16))
    return lib.Model(x, layers.GlobalAveragePooling1D()(TransformerBlock(16, 2, 32, name="block")(x)))


def test_keras_tutorial_transformer_block_traces(tmp_path) -> None:
    """MultiHeadAttention inside a subclassed layer's call() (traced): Keras' numbers on every backend,
    one fused Attention node in the ONNX file, and the .kir file replays it."""
    import onnx

    model, kmodel = _tutorial_block(kir), _tutorial_block(keras)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    kmodel.set_weights(model.get_weights())
    x = rng.normal(size=(4, 10, 16)).astype(np.float32)
    want = kmodel.predict(x, verbose=0)
    for backend in ("numpy", "tensorflow", "onnx"):
        assert_close(model.predict(x, backend=backend), want)
    model.export(tmp_path / "block.onnx")
    assert [n.op_type for n in onnx.load(str(tmp_path / "block.onnx")).graph.node].count("Attention") == 1
    model.save(tmp_path / "block.kir")
    assert_close(kir.models.load_model(tmp_path / "block.kir").predict(x), want)
