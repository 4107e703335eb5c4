"""Each pass on its own: functional (input untouched), numerically neutral, and doing its job;
plus the PassManager's report, debug mode and errors, and the ReshapeFull op."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import kir
from kir import layers as L
from kir.backends.numpy import run
from kir.errors import ConfigError, GraphError, ShapeError
from kir.ir import ops
from kir.ir.spec import TensorSpec
from kir.passes import (
    PASSES,
    PassManager,
    collapse_reshapes,
    cse,
    dce,
    eliminate_identities,
    fold_batch_norm,
    fuse_activations,
    graph_pass,
    inline,
    layout,
    run_pipeline,
)
from tests.fixtures.factories import randomize
from tests.passes.util import assert_same_outputs


def kitchen_sink() -> kir.Model:
    """Dropout, BN before/after Dense and Conv, Permute/Reshape chains, a nested model, merges."""
    inner_in = L.Input(shape=(6, 6, 4))
    y = L.Conv2D(4, (3, 3), padding="same", use_bias=False)(inner_in)
    y = L.BatchNormalization()(y)
    y = L.Activation("relu")(y)
    inner = kir.Model(inner_in, y, name="block")
    image = L.Input(shape=(6, 6, 3), name="image")
    x = L.Conv2D(4, (3, 3), padding="same")(image)
    x = L.Dropout(0.5)(x)
    x = L.add([x, inner(x)])
    x = L.MaxPooling2D((2, 2))(x)
    x = L.BatchNormalization()(x)
    x = L.Permute((2, 1, 3))(x)
    x = L.Permute((2, 1, 3))(x)
    x = L.Conv2D(5, (2, 2), padding="valid")(x)
    x = L.BatchNormalization(axis=3)(x)
    flat = L.Flatten()(x)
    vec = L.Input(shape=(12,), name="vec")
    v = L.BatchNormalization()(vec)
    v = L.Dense(8)(v)
    v = L.Reshape((2, 4))(v)
    v = L.Reshape((4, 2))(v)
    v = L.Flatten()(v)
    v = L.Activation("linear")(v)
    merged = L.concatenate([flat, v])
    h = L.Dense(6, name="hidden")(merged)
    h = L.BatchNormalization()(h)
    h = L.Activation("tanh")(h)
    out = L.Dense(3, activation="softmax", name="out")(L.Dropout(0.2)(h))
    return randomize(kir.Model([image, vec], out, name="sink"), seed=11)


@pytest.fixture(scope="module")
def graph():
    return kitchen_sink().to_graph()


@pytest.mark.parametrize("name", sorted(PASSES))
def test_every_pass_is_functional_and_preserves_outputs(graph, name: str) -> None:
    before = graph.dump()
    inlined = inline(graph).graph if name != "inline" else graph
    result = PASSES[name](inlined)
    assert graph.dump() == before and result.graph is not inlined
    assert_same_outputs(graph, result.graph)
    PassManager.check(result.graph, name)


def test_passes_do_their_job(graph) -> None:
    g = inline(graph).graph
    assert g.op_counts()["Call"] == 0
    g = eliminate_identities(g).graph
    assert g.op_counts()["Dropout"] == 0 and all(v.attrs.get("activation") != "linear"
                                                for _, v in g.vertices() if v.op == "Activation")
    result = collapse_reshapes(g)
    counts = result.graph.op_counts()
    assert counts["Permute"] == 0 and counts["Reshape"] == 0, counts  # Permute pair cancels, reshapes fold into Flatten
    result = fold_batch_norm(result.graph)
    assert result.graph.op_counts()["BatchNormalization"] == 0
    assert result.stats["bn_into_producer"] == 3 and result.stats["bn_into_consumer"] == 2
    result = fuse_activations(result.graph)
    assert result.graph.op_counts()["Activation"] == 0
    assert_same_outputs(graph, result.graph)


def test_bn_folding_adds_keys_and_leaves_arrays_alone(graph) -> None:
    arrays = {k: graph.store[k] for k in graph.store.keys()}
    copies = {k: a.copy() for k, a in arrays.items()}
    new = fold_batch_norm(inline(graph).graph).graph
    hidden = next(v for _, v in new.vertices() if v.name == "hidden")
    assert hidden.params["kernel"] not in arrays and hidden.params["kernel"] in new.store
    for k, a in arrays.items():
        assert graph.store[k] is a
        np.testing.assert_array_equal(a, copies[k])


def test_cse_merges_repeated_calls_and_dce_drops_dead_vertices() -> None:
    x = L.Input(shape=(4,), name="x")
    shared = L.Dense(3, name="shared")
    model = randomize(kir.Model(x, L.add([shared(x), shared(x)])))
    g = model.to_graph()
    result = cse(g)
    assert result.stats["merged"] == 1 and result.graph.op_counts()["Dense"] == 1
    assert_same_outputs(g, result.graph)
    g2 = g.copy()
    g2.add_vertex("Activation", [(g2.inputs[0], 0)], {"activation": "relu"}, [TensorSpec((None, 4))], "dead")
    result = dce(g2)
    assert result.stats["removed"] == 1 and "dead" not in result.graph.dump()
    assert not dce(result.graph).changed


def test_activation_fusion_needs_a_single_user() -> None:
    x = L.Input(shape=(4,))
    d = L.Dense(3)(x)
    model = randomize(kir.Model(x, [L.Activation("relu")(d), d]))
    result = fuse_activations(model.to_graph())
    assert not result.changed


def test_layout_on_conv1d_and_global_pooling() -> None:
    x = L.Input(shape=(10, 3), name="seq")
    y = L.Conv1D(4, 3, padding="same", activation="relu")(x)
    y = L.MaxPooling1D(2)(y)
    y = L.Conv1D(4, 3, activation="relu")(y)
    y = L.GlobalAveragePooling1D()(y)
    model = randomize(kir.Model(x, L.Dense(2)(y)))
    g = model.to_graph()
    new, report = run_pipeline(g, nchw_io=True, debug=True)
    assert new.op_counts()["Transpose"] == 0 and report.nchw_inputs == ["seq"]
    assert_same_outputs(g, new, report)


def test_unfoldable_batch_norm_stays_and_runs_channels_first() -> None:
    x = L.Input(shape=(6, 6, 3), name="x")
    y = L.Conv2D(3, (3, 3), padding="same", activation="relu")(x)
    y = L.BatchNormalization()(L.add([x, y]))  # after a merge, before a pooling: nothing to fold into
    model = randomize(kir.Model(x, L.MaxPooling2D((2, 2))(y)))
    g = model.to_graph()
    new, report = run_pipeline(g, nchw_io=True, debug=True)
    (bn,) = [v for _, v in new.vertices() if v.op == "BatchNormalization"]
    assert bn.attrs["axis"] == 1 and new.op_counts()["Transpose"] == 0
    assert_same_outputs(g, new, report)


def test_softmax_activation_blocks_transpose_sinking() -> None:
    x = L.Input(shape=(5, 5, 2))
    y = L.Conv2D(3, (3, 3), padding="same")(x)
    model = randomize(kir.Model(x, L.Activation("softmax")(y)))
    g = model.to_graph()
    new, _ = run_pipeline(g, level="O1")
    new = layout(new).graph
    assert new.op_counts()["Transpose"] == 2
    assert_same_outputs(g, new)


def test_static_batch_reaches_every_spec(graph) -> None:
    new, report = run_pipeline(graph, static_batch=4)
    for _, v in new.vertices():
        assert all(s.shape[0] == 4 for s in v.outputs), v
    assert "static batch 4" in str(report)
    assert_same_outputs(graph, new, batch=4)


def test_time_distributed_with_unknown_steps_and_batch_stays() -> None:
    inner_in = L.Input(shape=(3,))
    inner = kir.Model(inner_in, L.Dense(2)(inner_in))
    seq = L.Input(shape=(None, 3))
    g = randomize(kir.Model(seq, L.TimeDistributed(inner)(seq))).to_graph()
    new, _ = run_pipeline(g)
    assert new.op_counts()["TimeDistributed"] == 1
    assert_same_outputs(g, new)
    new, _ = run_pipeline(g, static_batch=2)  # a known batch is enough: (2, -1, ...)
    assert new.op_counts()["TimeDistributed"] == 0
    assert_same_outputs(g, new)


def test_report_lists_each_pass(graph) -> None:
    _, report = run_pipeline(graph)
    text = str(report)
    assert text.splitlines()[0] == "pass pipeline 'inference' O2"
    for name in ("inline", "fold_batch_norm", "fuse_activations", "layout"):
        assert f"  {name} " in text
    assert "BatchNormalization 5->0" in text and report.seconds > 0
    assert report.ops_before()["Dropout"] == 2 and report.ops_after()["Dropout"] == 0
    _, empty = run_pipeline(graph, level="O0")
    assert empty.records == [] and "ops 0 -> 0" in str(empty)


def test_debug_mode_catches_a_pass_that_breaks_specs(graph, monkeypatch) -> None:
    @graph_pass("test_broken_units")
    def broken(g, **_):
        v = next(v for _, v in g.vertices() if v.op == "Dense")
        v.attrs["units"] += 1  # forgets to re-infer the specs
        return Counter({"broken": 1})

    try:
        with pytest.raises(GraphError, match="pass 'test_broken_units' broke the graph: .*stores specs"):
            PassManager([broken], debug=True).run(graph)
        PassManager([broken], debug=False).run(graph)  # unchecked
        monkeypatch.setenv("KIR_DEBUG_PASSES", "1")
        with pytest.raises(GraphError, match="test_broken_units"):
            PassManager([broken]).run(graph)
    finally:
        PASSES.pop("test_broken_units")


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(pipeline="fast"), "unknown pass pipeline 'fast'; use one of training, inference"),
    (dict(level="O3"), "unknown optimization level 'O3'; use one of O0, O1, O2"),
    (dict(static_batch=0), "static_batch must be a positive integer, got 0"),
    (dict(pipeline="training", nchw_io=True), "the training pipeline takes no static_batch or nchw_io"),
])
def test_bad_pipeline_arguments(graph, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_pipeline(graph, **kwargs)


def test_reshape_full_rule_and_kernel() -> None:
    x = TensorSpec((None, 4, 6, 2))
    assert ops.infer("ReshapeFull", {"shape": [-1, 6, 2]}, [x]) == [TensorSpec((None, 6, 2))]
    assert ops.infer("ReshapeFull", {"shape": [0, -1]}, [x]) == [TensorSpec((None, None))]
    assert ops.infer("ReshapeFull", {"shape": [-1, 24]}, [TensorSpec((3, 4, 6))]) == [TensorSpec((3, 24))]
    with pytest.raises(ShapeError, match=r"cannot fit input shape \(3, 4, 6\) into shape \[-1, 5\]"):
        ops.infer("ReshapeFull", {"shape": [-1, 5]}, [TensorSpec((3, 4, 6))])
    with pytest.raises(ShapeError, match="at most one -1"):
        ops.infer("ReshapeFull", {"shape": [-1, -1]}, [x])
    g = kir.ir.Graph("r")
    i = g.add_vertex("Input", (), {"name": "x", "shape": [None, 4, 6], "dtype": "float32"}, [TensorSpec((None, 4, 6))])
    g.inputs = [i]
    r = g.add_vertex("ReshapeFull", [(i, 0)], {"shape": [0, -1, 3]}, [TensorSpec((None, 8, 3))])
    g.outputs, g.output_names = [(r, 0)], ["y"]
    a = np.arange(48, dtype=np.float32).reshape(2, 4, 6)
    np.testing.assert_array_equal(run(g, [a])[0], a.reshape(2, 8, 3))


def test_residual_conv_stack_runs_nchw_between_two_transposes() -> None:
    x = inputs = L.Input(shape=(5, 5, 3), name="x")
    for k in range(6):
        y = L.Conv2D(3, (3, 3), padding="same", use_bias=False)(x)
        y = L.Activation("relu")(L.BatchNormalization()(y))
        x = L.add([x, y]) if k % 2 else y
    x = L.MaxPooling2D((2, 2))(x)
    g = randomize(kir.Model(inputs, x)).to_graph()
    new, report = run_pipeline(g, debug=True)
    counts = new.op_counts()
    assert counts["Transpose"] == 2 and counts["BatchNormalization"] == 0 and counts["Activation"] == 0
    assert_same_outputs(g, new, report)
    new, report = run_pipeline(g, nchw_io=True)
    assert new.op_counts()["Transpose"] == 0
    assert_same_outputs(g, new, report)
