"""kir.initializers against keras.initializers: names, configs, statistics, exact constants."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import kir  # noqa: E402
from kir import initializers as I  # noqa: E402
from kir.errors import ConfigError  # noqa: E402
from kir.layers import LSTM, BatchNormalization, Conv2D, Dense, Embedding  # noqa: E402

RANDOM = [
    ("RandomNormal", {"mean": 0.5, "stddev": 0.2}, (200, 300)),
    ("TruncatedNormal", {"mean": -1.0, "stddev": 0.3}, (200, 300)),
    ("RandomUniform", {"minval": -0.3, "maxval": 0.1}, (200, 300)),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}, (3, 3, 40, 60)),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "untruncated_normal"}, (300, 200)),
    ("VarianceScaling", {"mode": "fan_in", "distribution": "normal"}, (300, 200)),
    ("GlorotUniform", {}, (300, 200)), ("GlorotNormal", {}, (300, 200)), ("HeUniform", {}, (5, 40, 500)),
    ("HeNormal", {}, (3, 3, 30, 60)), ("LecunUniform", {}, (300, 200)), ("LecunNormal", {}, (300, 200)),
    ("Orthogonal", {"gain": 2.0}, (300, 200)),
]


@pytest.mark.parametrize("cls,kwargs,shape", RANDOM, ids=[f"{c}-{'-'.join(map(str, k.values()))}"
                                                           for c, k, _ in RANDOM])
def test_random_statistics_and_config_match_keras(cls, kwargs, shape):
    ours = getattr(I, cls)(seed=3, **kwargs)
    theirs = getattr(keras.initializers, cls)(seed=3, **kwargs)
    a = ours(shape)
    b = np.asarray(theirs(shape, dtype="float32"))
    assert a.shape == b.shape == shape and a.dtype == np.float32
    scale = float(np.std(b))
    assert abs(np.mean(a) - np.mean(b)) < 6 * scale / np.sqrt(a.size) + 1e-7
    assert np.std(a) == pytest.approx(np.std(b), rel=0.02)
    if cls not in ("RandomNormal", "Orthogonal") and kwargs.get("distribution") != "untruncated_normal":
        # bounded (uniform, truncated at 2 stddev): the same support
        assert np.min(a) >= np.min(b) - 0.05 * scale and np.max(a) <= np.max(b) + 0.05 * scale
    assert ours.get_config() == theirs.get_config()
    np.testing.assert_array_equal(ours(shape), a)  # seeded: the same values on every call, as Keras 3


def test_orthogonal_is_orthogonal_like_keras():
    for shape in [(6, 4), (4, 6), (3, 3, 4, 8)]:
        q = I.Orthogonal(gain=1.5)(shape).reshape(-1, shape[-1])
        k = np.asarray(keras.initializers.Orthogonal(gain=1.5)(shape)).reshape(-1, shape[-1])
        small = q if q.shape[0] >= q.shape[1] else q.T
        np.testing.assert_allclose(small.T @ small, 2.25 * np.eye(small.shape[1]), atol=1e-5)
        kk = k if k.shape[0] >= k.shape[1] else k.T
        np.testing.assert_allclose(kk.T @ kk, 2.25 * np.eye(kk.shape[1]), atol=1e-5)
    with pytest.raises(ConfigError, match="rank >= 2"):
        I.Orthogonal()((5,))


@pytest.mark.parametrize("cls,kwargs,shape", [
    ("Zeros", {}, (3, 4)), ("Ones", {}, (2, 3, 4)), ("Constant", {"value": 0.37}, (5, 2)),
    ("Identity", {}, (4, 4)), ("Identity", {"gain": 3.0}, (3, 5)), ("Identity", {"gain": 0.5}, (5, 3)),
])
def test_constant_initializers_equal_keras_exactly(cls, kwargs, shape):
    ours = getattr(I, cls)(**kwargs)
    theirs = getattr(keras.initializers, cls)(**kwargs)
    np.testing.assert_array_equal(ours(shape), np.asarray(theirs(shape, dtype="float32")))
    if cls == "Identity":  # Keras' Identity leaves gain out of its config (so from_config loses it)
        assert ours.get_config() == {"gain": kwargs.get("gain", 1.0)} and theirs.get_config() == {}
    else:
        assert ours.get_config() == theirs.get_config()


def test_every_keras_name_and_config_is_accepted():
    keras_names = set(keras.src.initializers.ALL_OBJECTS_DICT) - {"Initializer", "initializer", "STFT", "stft",
                                                                  "STFTInitializer", "zero", "one"}
    assert keras_names <= set(I.NAMES)
    for name in keras_names - {"constant", "Constant"}:  # Keras' get('constant') fails: no default value
        assert type(I.get(name)).__name__ == keras.initializers.get(name).__class__.__name__
    assert I.get("constant")((2,)).tolist() == [0.0, 0.0]
    config = keras.initializers.serialize(keras.initializers.TruncatedNormal(mean=1.0, stddev=0.1, seed=7))
    init = I.get(config)  # Keras' own serialization, "module" key and all
    assert isinstance(init, I.TruncatedNormal) and (init.mean, init.stddev, init.seed) == (1.0, 0.1, 7)
    assert I.deserialize(I.serialize(I.HeNormal(seed=2))).get_config() == I.HeNormal(seed=2).get_config()
    assert type(I.get(I.Ones)) is I.Ones and isinstance(I.get(None), I.Zeros)
    np.testing.assert_array_equal(I.initialize(np.arange(6.0).reshape(2, 3), (2, 3)), np.arange(6.0).reshape(2, 3))
    assert I.initialize(lambda shape, dtype=None: np.full(shape, 2.0), (2,)).tolist() == [2.0, 2.0]
    with pytest.raises(ConfigError, match="unknown initializer 'glorot_unifrom'.*'glorot_uniform'"):
        I.get("glorot_unifrom")
    with pytest.raises(ConfigError, match="unknown initializer 'zero'.*Did you mean 'zeros'"):
        I.get("zero")  # a Keras alias, but kir's guide treats it as the misspelling it usually is
    with pytest.raises(ConfigError, match="mode must be one of"):
        I.VarianceScaling(mode="fan")
    with pytest.raises(ConfigError, match="seed must be an integer"):
        I.RandomNormal(seed=1.5)


def test_unseeded_draws_follow_set_random_seed():
    kir.utils.set_random_seed(11)
    a = I.RandomNormal()((4, 4))
    b = I.RandomNormal()((4, 4))
    kir.utils.set_random_seed(11)
    np.testing.assert_array_equal(I.RandomNormal()((4, 4)), a)
    assert not np.array_equal(a, b)


def test_layers_take_initializer_objects_and_configs_round_trip(tmp_path):
    inp = kir.Input((6, 4))
    x = LSTM(3, kernel_initializer=I.Constant(0.25), recurrent_initializer=I.Orthogonal(gain=0.5),
             return_sequences=True)(inp)
    x = Conv2D(2, 1, kernel_initializer=I.RandomNormal(stddev=0.01, seed=4), bias_initializer=I.Constant(0.5))(
        kir.layers.Reshape((6, 3, 1))(x))
    out = Dense(2, kernel_initializer=I.Identity(gain=2.0), bias_initializer="ones")(
        kir.layers.Reshape((18, 2))(x))
    model = kir.Model(inp, out)
    lstm, conv, dense = model.layers[1], model.layers[3], model.layers[5]
    np.testing.assert_array_equal(lstm.get_weight("kernel"), np.full((4, 12), 0.25, "float32"))
    rk = lstm.get_weight("recurrent_kernel")
    np.testing.assert_allclose(rk @ rk.T, 0.25 * np.eye(3), atol=1e-6)
    np.testing.assert_array_equal(dense.get_weight("kernel"), 2 * np.eye(2, dtype="float32"))
    np.testing.assert_array_equal(conv.get_weight("bias"), [0.5, 0.5])
    assert conv.get_config()["kernel_initializer"] == {
        "class_name": "RandomNormal", "config": {"seed": 4, "mean": 0.0, "stddev": 0.01}}
    clone = Conv2D.from_config({**conv.get_config(), "name": "conv_clone"})
    assert isinstance(clone.kernel_initializer, I.RandomNormal) and clone.kernel_initializer.seed == 4
    path = tmp_path / "m.kir"
    model.save(path)
    loaded = kir.models.load_model(path)
    assert loaded.layers[3].get_config() == conv.get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), atol=1e-6)


def test_embedding_and_batchnorm_take_initializer_objects():
    emb = Embedding(10, 3, embeddings_initializer=I.Constant(0.1))
    emb.build_once([kir.ir.spec.TensorSpec((None, 5), "int32")])
    np.testing.assert_array_equal(emb.get_weight("embeddings"), np.full((10, 3), 0.1, "float32"))
    bn = BatchNormalization(gamma_initializer=I.Constant(2.0), beta_initializer=I.RandomUniform(seed=1))
    bn.build_once([kir.ir.spec.TensorSpec((None, 4))])
    np.testing.assert_array_equal(bn.get_weight("gamma"), [2.0] * 4)
    assert np.all(np.abs(bn.get_weight("beta")) <= 0.05)


def test_normalization_layers_take_initializer_objects_and_save(tmp_path):
    inp = kir.Input((4,))
    bn = BatchNormalization(gamma_initializer=I.Ones(), beta_initializer=I.RandomNormal(stddev=0.1, seed=2),
                            moving_mean_initializer=I.Constant(0.5), moving_variance_initializer=I.Constant(2.0))
    ln = kir.layers.LayerNormalization(gamma_initializer=I.Constant(3.0), beta_initializer=I.RandomUniform(seed=1))
    model = kir.Model(inp, ln(bn(inp)))
    np.testing.assert_array_equal(bn.get_weight("moving_variance"), [2.0] * 4)
    np.testing.assert_array_equal(ln.get_weight("gamma"), [3.0] * 4)
    assert bn.get_config()["beta_initializer"] == {
        "class_name": "RandomNormal", "config": {"seed": 2, "mean": 0.0, "stddev": 0.1}}
    assert bn.get_config()["gamma_initializer"] == {"class_name": "Ones", "config": {}}
    clone = BatchNormalization.from_config({**bn.get_config(), "name": "bn_clone"})
    assert isinstance(clone.moving_mean_initializer, I.Constant) and clone.moving_mean_initializer.value == 0.5
    path = tmp_path / "norm.kir"
    model.save(path)
    loaded = kir.models.load_model(path)
    for a, b in zip(loaded.layers, model.layers):
        assert a.get_config() == b.get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), atol=1e-6)
