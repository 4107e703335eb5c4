"""Explicit masks and MultiHeadAttention `attention_axes` in onnxruntime equal Keras 3 twins (the
models of tests/ops/test_explicit_masks.py and test_mha_attention_axes.py): the fused path (O2,
value_mask alone broadcast over the query steps) and the portable einsum path."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("onnxruntime")

import kir  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.ops.test_explicit_masks import STEP_MASK, attention, attention_feeds, recurrent, twins  # noqa: E402
from tests.ops.test_mha_attention_axes import feeds, images  # noqa: E402


def test_explicit_masks_in_onnxruntime_follow_keras():
    for build, x in ((recurrent, [np.random.default_rng(1).normal(size=(3, 5, 3)).astype("float32"), STEP_MASK]),
                     (attention, attention_feeds())):
        theirs, ours = twins(build)
        for got, want in zip(ours.predict(x, backend="onnx"), theirs.predict(x, verbose=0)):
            assert_close(got, want, rtol=1e-5)


@pytest.mark.parametrize("axes", [(1,), (2,), (1, 2)])
def test_attention_axes_in_onnxruntime_follow_keras(axes, tmp_path):
    theirs, ours = images(keras, axes, masked=axes == (2,)), images(kir, axes, masked=axes == (2,))
    ours.set_weights(theirs.get_weights())
    x = feeds(ours)
    for got, want in zip(ours.predict(x, backend="onnx"), theirs.predict(x, verbose=0)):
        assert_close(got, want, rtol=1e-5)
    path = tmp_path / "mha.onnx"
    ours.export(str(path), opset=13)  # ReduceMax axes as an attribute
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, dict(zip([i.name for i in sess.get_inputs()], x)))
    assert_close(got[0], ours.predict(x)[0], rtol=1e-5)
