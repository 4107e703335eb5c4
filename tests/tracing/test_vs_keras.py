"""Traced user code against Keras 3 as the oracle: the classic examples' Lambdas and subclassed
layers, and tensor operators on layer outputs, give Keras' outputs on every backend (numpy,
TensorFlow, ONNX through predict, and an exported file in a plain onnxruntime session)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")

import kir  # noqa: E402
import kir.backend as K  # noqa: E402
from kir import layers as L  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.tracing.util import CPU  # noqa: E402

ops = keras.ops
RNG = np.random.default_rng(1)


def f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype("float32")


def outputs_everywhere(model, x, tmp_path) -> dict[str, list[np.ndarray]]:
    """The model's outputs on each backend and from its exported file in onnxruntime."""
    feeds = x if isinstance(x, list) else [x]
    got = {name: model.predict(x, backend=name) for name in ("numpy", "tensorflow", "onnx")}
    path = tmp_path / f"{model.name}.onnx"
    model.export(str(path))
    session = ort.InferenceSession(str(path), providers=CPU)
    got["onnx file"] = session.run(None, {i.name: v for i, v in zip(session.get_inputs(), feeds)})
    return {k: v if isinstance(v, list) else [v] for k, v in got.items()}


def assert_like_keras(model, theirs, x, tmp_path) -> None:
    want = theirs.predict(x, verbose=0)
    want = want if isinstance(want, list) else [want]
    for backend, outs in outputs_everywhere(model, x, tmp_path).items():
        assert len(outs) == len(want), backend
        for got, expected in zip(outs, want):
            assert got.shape == expected.shape, (backend, got.shape, expected.shape)
            assert_close(got, expected, rtol=1e-5)


def copy_weights(pairs) -> None:
    for ours, theirs in pairs:
        theirs.set_weights(ours.get_weights())


# ---------------------------------------------------------------- siamese: the distance Lambda


def euclidean_distance(vects):
    x, y = vects
    sum_square = K.sum(K.square(x - y), axis=1, keepdims=True)
    return K.sqrt(K.maximum(sum_square, K.epsilon()))


def keras_euclidean_distance(vects):
    x, y = vects
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, 1e-7))


def siamese(lib, distance):
    a, b = lib.Input(shape=(6,), name="left"), lib.Input(shape=(6,), name="right")
    d1, d2 = lib.layers.Dense(8, activation="relu"), lib.layers.Dense(4)
    out = lib.layers.Lambda(distance, name="distance")([d2(d1(a)), d2(d1(b))])
    return lib.Model([a, b], out, name="siamese"), (d1, d2)


def test_siamese_distance_lambda_matches_keras(tmp_path):
    ours, (o1, o2) = siamese(kir, euclidean_distance)
    theirs, (t1, t2) = siamese(keras, keras_euclidean_distance)
    copy_weights([(o1, t1), (o2, t2)])
    x = [f(5, 6), f(5, 6)]
    x[1][0] = x[0][0]  # distance 0: the epsilon floor
    assert_like_keras(ours, theirs, x, tmp_path)
    graph = ours.to_graph()
    assert {graph.vertex(v).op for v in graph.vertex_ids()} == {"Input", "Dense", "Binary", "Unary", "Reduce",
                                                                "Constant"}


# ---------------------------------------------------------------- antirectifier: a subclassed layer


class Antirectifier(L.Layer):
    """The Keras example's layer (x - mean, l2-normalize, concat(relu(x), relu(-x))), with the
    Keras 3 version's kernel mixing the halves back to the input width."""

    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = initializer

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(output_dim * 2, output_dim), initializer=self.initializer,
                                      name="kernel", trainable=True)

    def call(self, inputs):
        inputs -= K.mean(inputs, axis=-1, keepdims=True)
        inputs = K.l2_normalize(inputs, axis=1)
        pos = K.relu(inputs)
        neg = K.relu(-inputs)
        concatenated = K.concatenate([pos, neg], axis=-1)
        return K.dot(concatenated, self.kernel)


class KerasAntirectifier(keras.layers.Layer):
    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(output_dim * 2, output_dim), initializer="he_normal", name="kernel")

    def call(self, inputs):
        inputs = inputs - ops.mean(inputs, axis=-1, keepdims=True)
        inputs = ops.normalize(inputs, axis=1)
        concatenated = ops.concatenate([ops.relu(inputs), ops.relu(-inputs)], axis=-1)
        return ops.matmul(concatenated, self.kernel)


def antirectifier_pair():
    pairs = []
    models = []
    for lib, anti in ((kir, Antirectifier), (keras, KerasAntirectifier)):
        x = lib.Input(shape=(6,))
        dense_in, layer, dense_out = lib.layers.Dense(5), anti(name="antirectifier"), lib.layers.Dense(3)
        models.append(lib.Model(x, dense_out(layer(dense_in(x))), name="antirectifier_model"))
        pairs.append((dense_in, layer, dense_out))
    copy_weights(zip(*pairs))
    return models[0], models[1], pairs[0][1]


def test_antirectifier_subclassed_layer_matches_keras(tmp_path):
    ours, theirs, layer = antirectifier_pair()
    assert [type(w).__name__ for w in [layer.kernel]] == ["Variable"] and layer.kernel.shape == (10, 5)
    assert [lay.name for lay in ours.layers][2] == "antirectifier" and len(ours.get_weights()) == 5
    x = f(7, 6)
    assert_like_keras(ours, theirs, x, tmp_path)
    graph = ours.to_graph()
    assert "antirectifier/kernel" in graph.store  # the weight is a parameter of the traced vertices


class ClassicAntirectifier(L.Layer):
    """keras/examples/antirectifier.py (Keras 2), compute_output_shape included (kir ignores it)."""

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[-1] *= 2
        return tuple(shape)

    def call(self, inputs):
        inputs -= K.mean(inputs, axis=1, keepdims=True)
        inputs = K.l2_normalize(inputs, axis=1)
        pos = K.relu(inputs)
        neg = K.relu(-inputs)
        return K.concatenate([pos, neg], axis=1)


def test_classic_antirectifier_in_a_sequential_matches_keras(tmp_path):
    ours = kir.Sequential([L.Dense(4, input_shape=(6,)), ClassicAntirectifier(), L.Dense(2)], name="classic")
    kx = keras.Input((6,))
    kd1, kd2 = keras.layers.Dense(4), keras.layers.Dense(2)

    def classic(t):
        t = t - ops.mean(t, axis=1, keepdims=True)
        t = ops.normalize(t, axis=1)
        return ops.concatenate([ops.relu(t), ops.relu(-t)], axis=1)

    theirs = keras.Model(kx, kd2(keras.layers.Lambda(classic)(kd1(kx))))
    copy_weights([(ours.layers[0], kd1), (ours.layers[2], kd2)])
    assert ours.layers[1].output_shape == (None, 8)
    assert_like_keras(ours, theirs, f(5, 6), tmp_path)


# ---------------------------------------------------------------- VAE sampling


def test_vae_sampling_deterministic_part_matches_keras(tmp_path):
    """z_mean + exp(0.5 * z_log_var) * eps, with eps fed in (the draw itself is random)."""

    def ours_fn(args):
        z_mean, z_log_var, eps = args
        return z_mean + K.exp(0.5 * z_log_var) * eps

    def theirs_fn(args):
        z_mean, z_log_var, eps = args
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    models = []
    for lib, fn in ((kir, ours_fn), (keras, theirs_fn)):
        h = lib.Input((5,))
        eps = lib.Input((2,))
        zm, zv = lib.layers.Dense(2, name="z_mean"), lib.layers.Dense(2, name="z_log_var")
        models.append((lib.Model([h, eps], lib.layers.Lambda(fn, name="z")([zm(h), zv(h), eps]), name="vae"),
                       zm, zv))
    (ours, om, ov), (theirs, tm, tv) = models
    copy_weights([(om, tm), (ov, tv)])
    assert_like_keras(ours, theirs, [f(6, 5), f(6, 2)], tmp_path)


def sampling(args):
    """keras/examples/variational_autoencoder.py."""
    z_mean, z_log_var = args
    batch = K.shape(z_mean)[0]
    dim = K.int_shape(z_mean)[1]
    epsilon = K.random_normal(shape=(batch, dim))
    return z_mean + K.exp(0.5 * z_log_var) * epsilon


def test_vae_sampling_draws_on_every_backend(tmp_path):
    """The random part: N(z_mean, exp(z_log_var)) per row, fresh on each run, on every backend
    and in the exported file (where two draws stay two RandomNormalLike nodes)."""
    zm, zv = L.Input((2,), name="z_mean"), L.Input((2,), name="z_log_var")
    z = L.Lambda(sampling, output_shape=(2,), name="z")([zm, zv])
    second = L.Lambda(sampling, name="z2")([zm, zv])
    model = kir.Model([zm, zv], [z, second], name="sampler")
    n = 4000
    feeds = [np.tile(np.float32([[1.0, -2.0]]), (n, 1)), np.tile(np.float32([[0.0, np.log(0.25)]]), (n, 1))]
    for backend, (a, b) in outputs_everywhere(model, feeds, tmp_path).items():
        assert a.shape == (n, 2), backend
        np.testing.assert_allclose(a.mean(0), [1.0, -2.0], atol=0.08, err_msg=backend)
        np.testing.assert_allclose(a.std(0), [1.0, 0.5], atol=0.08, err_msg=backend)
        assert not np.allclose(a, b), backend  # two independent draws
    first, again = model.predict(feeds), model.predict(feeds)
    assert not np.allclose(first[0], again[0])


# ---------------------------------------------------------------- tensor operators on layer outputs


def operator_outputs(lib, k, x, y, d):
    return [x + y, 1 + d, d[:, 0], k.reshape(d, (k.shape(d)[0], 2, 3)), k.square(d), -d / 2, d ** 2,
            2 * d - y[:, :1], k.cast(d > 0, "float32"), abs(d) @ np.ones((6, 2), "float32"), d[:, ::-1][:, 1:4]]


def test_tensor_operators_on_layer_outputs_match_keras(tmp_path):
    x, y = L.Input((6,), name="x"), L.Input((6,), name="y")
    dense = L.Dense(6)
    ours = kir.Model([x, y], operator_outputs(kir, K, x, y, dense(x)), name="operators")
    kx, ky = keras.Input((6,), name="x"), keras.Input((6,), name="y")
    kdense = keras.layers.Dense(6)
    kd = kdense(kx)

    class KerasOps:
        shape, square, cast = staticmethod(lambda t: (-1,) + tuple(t.shape[1:])), ops.square, ops.cast

        @staticmethod
        def reshape(t, shape):
            return ops.reshape(t, (-1,) + tuple(shape[1:]))

    theirs = keras.Model([kx, ky], operator_outputs(keras, KerasOps, kx, ky, kd))
    copy_weights([(dense, kdense)])
    assert_like_keras(ours, theirs, [f(4, 6), f(4, 6)], tmp_path)
    assert ours.output_shape[3] == (None, 2, 3)


def test_k_shape_of_a_layer_output_gives_dims():
    t = L.Dense(3)(L.Input((4,)))
    dims = K.shape(t)
    assert isinstance(dims, tuple) and dims[1] == 3 and K.int_shape(t) == (None, 3) and K.ndim(t) == 2
    assert repr(dims[0]) == "K.shape(t)[0]"
