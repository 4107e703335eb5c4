"""The attention layers and the transformer encoder through ONNX: fused (onnxruntime's com.microsoft
Attention / MultiHeadAttention / BiasGelu, the O2 default) and portable
(standard ops only) files both equal the numpy reference at batch 1 and 7; the numpy reference
equals Keras (tests/ops/test_attention.py)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import kir
from kir import layers as L
from kir.backends.numpy import run
from kir.backends.onnx import MAX_OPSET, MIN_OPSET, Runtime, export
from kir.zoo.transformer import transformer_classifier
from tests.fixtures.factories import randomize
from tests.helpers import assert_close
from tests.onnx.util import CPU, check_parity

MS = "com.microsoft"


def _mha_model(flags: dict, *, key: bool = False, mask: str | None = None, self_attention: bool = True,
               steps: int | None = 5, **kwargs) -> kir.Model:
    q = L.Input((steps, 8), name="q")
    ins = [q]
    v = q if self_attention else L.Input((6, 7), name="v")
    if not self_attention:
        ins.append(v)
    k = L.Input((6, 9), name="k") if key else None
    if k is not None:
        ins.append(k)
    m = L.Input((steps, 5 if self_attention else 6), name="m", dtype=mask) if mask else None
    if m is not None:
        ins.append(m)
    layer = L.MultiHeadAttention(2, 4, name="mha", **kwargs)
    y = layer(q, v, key=k, attention_mask=m, **flags)
    return randomize(kir.Model(ins, y, name="mha_model"), seed=3)


def _feeds(model: kir.Model, batch: int) -> list[np.ndarray]:
    rng = np.random.default_rng(batch)
    out = []
    for t in model.inputs:
        shape = (batch, *(5 if d is None else d for d in t.shape[1:]))
        if t.dtype == "bool":
            out.append(rng.random(shape) > 0.4)
        elif t.name == "m" or t.dtype.startswith("int"):
            out.append((rng.random(shape) > 0.4).astype(t.dtype))
        else:
            out.append(rng.normal(size=shape).astype(np.float32))
    return out


def _check(model: kir.Model, tmp_path, portable: bool, **options) -> onnx.ModelProto:
    path = tmp_path / f"{model.name}_{'portable' if portable else 'fused'}.onnx"
    export(model, path, portable=portable, **options)
    runtime, graph = Runtime(path, providers=CPU), model.to_graph()
    for batch in (1, 7):
        xs = _feeds(model, batch)
        for got, want in zip(runtime.run(xs), run(graph, xs), strict=True):
            assert_close(got, want, rtol=1e-5)
    return onnx.load(str(path))


def _ops(proto: onnx.ModelProto) -> dict[str, str]:
    return {n.op_type: n.domain for n in proto.graph.node}


CASES = {
    "self": ({}, {}),
    "self_causal_mask_bool": ({"use_causal_mask": True}, {"mask": "bool"}),
    "cross_key_value_dim": ({}, {"self_attention": False, "key": True, "value_dim": 3, "output_shape": 6}),
    "cross_mask_float_no_bias": ({}, {"self_attention": False, "mask": "float32", "use_bias": False}),
    "cross_causal_scores": ({"use_causal_mask": True, "return_attention_scores": True},
                            {"self_attention": False}),
    "dropout_mask_int": ({}, {"mask": "int32", "dropout": 0.2}),
    "dynamic_steps_causal": ({"use_causal_mask": True}, {"steps": None}),
}


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_multi_head_attention_fused_and_portable_match_numpy(case: str, portable: bool, tmp_path) -> None:
    flags, kwargs = CASES[case]
    proto = _check(_mha_model(flags, **kwargs), tmp_path, portable)
    ops = _ops(proto)
    if portable or flags.get("return_attention_scores") or kwargs.get("dropout"):
        assert MS not in ops.values() and "Softmax" in ops  # standard ops (dropout + mask: Keras zeroes rows)
    elif kwargs.get("self_attention", True):
        assert ops["Attention"] == MS and "Softmax" not in ops
    else:
        assert ops["MultiHeadAttention"] == MS and "Softmax" not in ops
    assert [o.domain for o in proto.opset_import if o.domain] == ([] if MS not in ops.values() else [MS])


@pytest.mark.parametrize("opset", [MIN_OPSET, MAX_OPSET])
def test_attention_layers_match_numpy(opset: int, tmp_path) -> None:
    q, v, k = L.Input((4, 6), name="q"), L.Input((5, 3), name="v"), L.Input((5, 6), name="k")
    s = L.Input((5, 3), name="s")
    a, scores = L.Attention(use_scale=True)([q, v, k], return_attention_scores=True)
    b = L.Attention(score_mode="concat", use_scale=True)([s, v], use_causal_mask=True)
    c = L.AdditiveAttention()([q, v, k])
    d = L.AdditiveAttention(use_scale=False)([s, s], use_causal_mask=True)
    model = randomize(kir.Model([q, v, k, s], [a, scores, b, c, d], name="attentions"), seed=1)
    check_parity(model, tmp_path, opset=opset)


@pytest.mark.parametrize("opset", [MIN_OPSET, 17])
def test_transformer_fused_and_portable_files(opset: int, tmp_path) -> None:
    model = randomize(transformer_classifier(maxlen=12, vocab=30, d_model=16, heads=4, ff_dim=32, blocks=2,
                                             classes=3, names=True), seed=5)
    fused = _ops(check_parity(model, tmp_path, opset=opset) and onnx.load(str(tmp_path / f"{model.name}.onnx")))
    assert {op: fused[op] for op in ("Attention", "BiasGelu")} == {"Attention": MS, "BiasGelu": MS}
    assert fused["Sum"] == "" and "SkipLayerNormalization" not in fused  # onnxruntime's slow CPU kernel
    portable = _ops(check_parity(model, tmp_path, opset=opset, portable=True)
                    and onnx.load(str(tmp_path / f"{model.name}.onnx")))
    assert MS not in portable.values()
    assert ("LayerNormalization" in portable) == (opset >= 17)
    o1 = _ops(check_parity(model, tmp_path, opset=opset, optimize="O1") and
              onnx.load(str(tmp_path / f"{model.name}.onnx")))
    assert MS not in o1.values()  # only O2 fuses


def test_skip_layer_norm_pass_only_takes_a_private_residual_sum() -> None:
    from kir.passes import run_pipeline

    x = L.Input((4, 6), name="x")
    y = L.Dense(6)(x)
    total = L.Add()([x, y])
    z = L.Dense(6)(x)
    model = randomize(kir.Model(x, [L.LayerNormalization()(total), L.LayerNormalization(axis=1)(L.Add()([x, z]))]))
    counts = run_pipeline(model.to_graph(), "inference", "O2")[0].op_counts()
    assert counts["SkipLayerNormalization"] == 1 and counts["LayerNormalization"] == 1  # not over axis 1
    model2 = randomize(kir.Model(x, [L.LayerNormalization()(total), total]))
    assert "SkipLayerNormalization" not in run_pipeline(model2.to_graph(), "inference", "O2")[0].op_counts()


def test_cli_portable_flag(tmp_path) -> None:
    from kir.cli.export import main

    model = randomize(transformer_classifier(maxlen=6, vocab=10, d_model=8, heads=2, ff_dim=8, blocks=1), seed=0)
    model.save(tmp_path / "t.kir")
    for flag, want_ms in (([], True), (["--portable"], False)):
        out = tmp_path / f"t{len(flag)}.onnx"
        assert main([str(tmp_path / "t.kir"), str(out), "--quiet", *flag]) == 0
        domains = {n.domain for n in onnx.load(str(out)).graph.node}
        assert (MS in domains) == want_ms
