"""After fit, ONNX export (run in onnxruntime) predicts what predict(backend='tensorflow') does."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")

import kir  # noqa: E402
from kir import layers as L  # noqa: E402


def test_exported_model_uses_trained_weights(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 64)]
    model = kir.Sequential([
        L.Conv2D(4, (3, 3), activation="relu", padding="same", input_shape=(8, 8, 1)),
        L.BatchNormalization(), L.MaxPooling2D((2, 2)), L.Flatten(), L.Dropout(0.3),
        L.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", jit_compile=False)
    before = model.predict(x, backend="tensorflow")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    expected = model.predict(x, backend="tensorflow")
    assert not np.allclose(before, expected, atol=1e-4)
    path = tmp_path / "model.onnx"
    model.export(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
