"""kir.backend (K) ops traced into graphs give what the same K ops give on numpy arrays, on every
backend; K ops on layer outputs in a functional model; the new K functions."""

from __future__ import annotations

import numpy as np
import pytest

import kir
import kir.backend as K
from kir import layers as L
from kir.errors import ConfigError
from tests.helpers import assert_close

RNG = np.random.default_rng(2)
W3 = np.arange(36, dtype="float32").reshape(2, 6, 3) / 36

CASES = {
    "var_std": lambda t: K.var(t, axis=1, keepdims=True) + K.std(t, axis=-1, keepdims=True),
    "softmax": lambda t: K.softmax(t) + K.log_softmax(t, axis=1),
    "logsumexp": lambda t: K.logsumexp(t, axis=1),
    "l2_normalize": lambda t: K.l2_normalize(t, axis=-1),
    "any_all": lambda t: K.cast(K.any(K.greater(t, 1.0), axis=1), "float32") + K.cast(K.all(t > -3, axis=1), "float32"),
    "clip_where": lambda t: K.clip(t, -0.5, 0.5) + K.where(t > 0, t, 0.1 * t),
    "pow": lambda t: K.pow(K.abs(t) + 1, 1.5) + (K.abs(t) + 1) ** t,
    "one_hot": lambda t: K.one_hot(K.cast(K.clip(K.abs(t) * 2, 0, 3), "int32"), 4),
    "repeat_tile_stack": lambda t: K.concatenate([K.repeat_elements(t, 2, axis=1), K.tile(t, [1, 2])], axis=-1),
    "stack": lambda t: K.stack([t, -t], axis=1),
    "batch_flatten": lambda t: K.batch_flatten(K.expand_dims(t, -1) * np.ones((1, 1, 2), "float32")),
    "permute": lambda t: K.permute_dimensions(K.reshape(t, (-1, 2, 3)), (0, 2, 1)),
    "squeeze": lambda t: K.squeeze(K.expand_dims(t, 1), 1),
    "like": lambda t: K.ones_like(t) * 3 + K.zeros_like(t) + t,
    "zeros_dynamic": lambda t: K.zeros((K.shape(t)[0], 2)) + t[:, :2],
    "gather": lambda t: K.transpose(K.gather(K.transpose(t), np.array([2, 0]))),
    "dot_rank3_x": lambda t: K.dot(K.reshape(t, (-1, 2, 3)), np.ones((3, 4), "float32")),
    "dot_rank3_y": lambda t: K.dot(t, W3),
    "dot_vector": lambda t: K.expand_dims(K.dot(t, np.linspace(0, 1, 6).astype("float32")), -1),
    "batch_dot": lambda t: K.batch_dot(K.reshape(t, (-1, 2, 3)), K.reshape(t, (-1, 3, 2)), axes=[2, 1]),
    "batch_dot_2d": lambda t: K.batch_dot(t, t * 2, axes=1),
    "getitem": lambda t: t[..., None, 1:5:2] + t[:, -1:, None] * t[:, ::-1][:, None, :2],
    "floordiv_mod": lambda t: t // 0.3 + t % 0.7,
    "arange": lambda t: K.expand_dims(K.cast(K.arange(K.shape(t)[0]), "float32"), -1) + t,
    "queries": lambda t: t * K.ndim(t) + K.int_shape(t)[1] + (1.0 if K.dtype(t) == "float32" else 0.0),
    "logical": lambda t: K.cast(K.logical_and(t > 0, t < 1), "float32") + K.cast(~(t > 0) | (t > 1), "float32"),
    "int_mean": lambda t: K.mean(K.cast(t > 0, "int32"), axis=1, keepdims=True) + K.sum(K.cast(t > 0, "int32")) * 0,
    "unary_mix": lambda t: K.sigmoid(t) + K.softplus(t) + K.softsign(t) + K.tanh(t) + K.sign(t) + K.relu(t)
    + K.log1p(K.abs(t)) + K.round(t) + K.floor(t) + K.ceil(t) + K.sin(t) + K.cos(t) + K.negative(t),
    "extrema": lambda t: K.maximum(t, t[:, :1]) - K.minimum(t, 0.0) + K.max(t, 1, True) - K.min(t, axis=[1],
                                                                                               keepdims=True),
    "prod_sum": lambda t: K.prod(t, axis=1, keepdims=True) + K.sum(t) * 0 + K.mean(t, axis=0) * 0,
    "binary_crossentropy": lambda t: K.binary_crossentropy(K.cast(t > 0, "float32"), K.sigmoid(t) * 0.98 + 0.01)
    + K.binary_crossentropy(K.sigmoid(t[:, ::-1]), t, from_logits=True),
    "categorical_crossentropy": lambda t: K.expand_dims(
        K.categorical_crossentropy(K.softmax(t[:, ::-1]), K.softmax(t))
        + K.categorical_crossentropy(K.one_hot(K.cast(K.clip(K.abs(t[:, 0]) * 2, 0, 5), "int32"), 6), t,
                                     from_logits=True), -1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_traced_k_ops_equal_the_numeric_k_ops(name):
    fn = CASES[name]
    x = RNG.normal(size=(5, 6)).astype("float32")
    want = fn(x)
    inp = L.Input((6,))
    model = kir.Model(inp, L.Lambda(fn)(inp))
    for backend in ("numpy", "tensorflow", "onnx"):
        got = model.predict(x, backend=backend)
        assert got.shape == np.shape(want), (backend, got.shape, np.shape(want))
        assert_close(got, np.asarray(want, "float32"), rtol=2e-5)


def test_k_ops_on_layer_outputs_become_layers_of_the_model():
    x = L.Input((6,))
    h = L.Dense(6, name="h")(x)
    y = K.square(h) + K.exp(-h) * 2
    model = kir.Model(x, y)
    assert [type(lay).__name__ for lay in model.layers] == ["InputLayer", "Dense", "TensorOp", "TensorOp", "TensorOp",
                                                            "TensorOp", "TensorOp"]
    data = RNG.normal(size=(3, 6)).astype("float32")
    hv = data @ model.get_layer("h").get_weights()[0] + model.get_layer("h").get_weights()[1]
    assert_close(model.predict(data), np.square(hv) + np.exp(-hv) * 2)


def test_image_data_format_random_normal_and_arange_on_numbers():
    assert K.image_data_format() == "channels_last"
    K.set_image_data_format("channels_first")
    assert K.image_data_format() == "channels_first"
    K.set_image_data_format("channels_last")
    with pytest.raises(ConfigError, match="data_format"):
        K.set_image_data_format("nchw")
    sample = K.random_normal((2000, 3), mean=1.0, stddev=2.0)
    assert sample.shape == (2000, 3) and sample.dtype == np.float32
    assert abs(sample.mean() - 1.0) < 0.15 and abs(sample.std() - 2.0) < 0.15
    np.testing.assert_array_equal(K.random_normal((3,), seed=4), K.random_normal((3,), seed=4))
    np.testing.assert_array_equal(K.arange(4), np.arange(4, dtype="int32"))
    np.testing.assert_array_equal(K.arange(1, 7, 2, dtype="float32"), np.float32([1, 3, 5]))


def test_a_static_random_normal_inside_traced_code_draws_each_run():
    x = L.Input((3,))
    model = kir.Model(x, L.Lambda(lambda t: t + K.random_normal((3,)))(x))
    data = np.zeros((2, 3), "float32")
    assert not np.array_equal(model.predict(data), model.predict(data))


def test_weights_outside_traces_are_numpy_values():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", (input_shape[-1],), "ones")

        def call(self, x):
            return x * self.w

    layer = Scale()
    layer(L.Input((3,)))
    w = layer.w
    np.testing.assert_array_equal(np.asarray(w) * 2, w * 2)
    np.testing.assert_array_equal(K.sum(w), 3.0)
    np.testing.assert_allclose(np.exp(w), np.exp(np.ones(3, "float32")))
    w.assign(np.full(3, 2.0))
    assert w.numpy().tolist() == [2.0, 2.0, 2.0] and w.shape == (3,) and w.path == f"{layer.name}/w"


def test_training_and_mask_arguments_reach_call_only_if_it_takes_them():
    class Plain(L.Layer):
        def call(self, x):
            return x * 2

    class Aware(L.Layer):
        def call(self, x, training=None):
            return x * (3 if training else 2)

    x = L.Input((2,))
    data = np.ones((1, 2), "float32")
    assert kir.Model(x, Plain()(x, training=True)).predict(data).tolist() == [[2.0, 2.0]]
    assert kir.Model(x, Aware()(x, training=True)).predict(data).tolist() == [[3.0, 3.0]]


def test_a_float16_export_of_traced_code_runs(tmp_path):
    """Float values of traced ops sit in initializers and Casts, which float16 exports convert."""
    pytest.importorskip("onnxruntime")
    from kir.backends.onnx import Runtime, export

    def fn(t):
        noise = K.random_normal((K.shape(t)[0], 3), stddev=0.0)
        steps = K.expand_dims(K.cast(K.arange(K.shape(t)[0]), "float32"), -1)
        return K.clip(t, -1, 1) + K.zeros((K.shape(t)[0], 3)) + noise + steps

    x = L.Input((3,))
    model = kir.Model(x, L.Lambda(fn)(x))
    data = RNG.normal(size=(4, 3)).astype("float32")
    export(model, str(tmp_path / "half.onnx"), dtype="float16")
    (got,) = Runtime(str(tmp_path / "half.onnx"), providers=["CPUExecutionProvider"]).run([data])
    np.testing.assert_allclose(got, model.predict(data), atol=2e-3)
