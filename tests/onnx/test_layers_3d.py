"""Conv3D and the 3-D pooling layers through ONNX: the exported file (dynamic batch, O0 and O2, every
supported opset) equals the numpy reference at batch 1 and 3, and the ONNX backend's predict equals
Keras; at O2 the layout pass runs the 5-D stack channels_first (NCDHW) with Transposes only at the
edges. The numpy reference equals Keras (tests/ops/test_layers_3d.py)."""

from __future__ import annotations

import onnx
import pytest

import kir
from kir import layers as L
from kir.backends.onnx import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, Runtime, export
from kir.passes import run_pipeline
from tests.fixtures.factories import randomize
from tests.helpers import assert_close
from tests.onnx.util import CPU, check_parity
from tests.ops.test_layers_3d import CASES, feeds, pair
from tests.passes.util import assert_same_outputs


@pytest.mark.parametrize("optimize", ["O0", "O2"])
@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, MAX_OPSET])
@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_numpy_reference(case, opset, optimize, tmp_path) -> None:
    check_parity(pair(case)[0], tmp_path, batches=(1, 3), opset=opset, optimize=optimize)


@pytest.mark.parametrize("optimize", ["O0", "O2"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_matches_keras(case, optimize, tmp_path) -> None:
    """The exported file at O0 and O2 (and the ONNX backend's predict, which exports at O2) equal Keras."""
    model, keras_predict = pair(case)
    export(model, tmp_path / "m.onnx", optimize=optimize)
    runtime = Runtime(tmp_path / "m.onnx", providers=CPU)
    for x in (feeds(CASES[case][2], 1), feeds(CASES[case][2], 3)):
        want = keras_predict(x)
        assert_close(runtime.run([x])[0], want, rtol=1e-5)
        if optimize == "O2":
            assert_close(model.predict(x, backend="onnx"), want, rtol=1e-5)


def _volumes() -> kir.Model:
    """A 3-D conv stack with BN, merges, pooling, a Flatten -> Dense head and a channels_first branch."""
    x = L.Input((6, 7, 8, 2), name="volume")
    y = L.Conv3D(4, 3, padding="same", name="c1")(x)
    y = L.Activation("relu", name="relu")(L.BatchNormalization(name="bn")(y))
    y = L.MaxPooling3D(name="p1")(y)
    a = L.Conv3D(4, (1, 2, 2), padding="same", activation="elu", name="c2")(y)
    m = L.Add(name="add")([a, y])
    m = L.AveragePooling3D((1, 2, 2), padding="same", name="p2")(m)
    head = L.Dense(5, activation="softmax", name="head")(L.Flatten(name="flat")(m))
    g = L.Concatenate(name="cat")([L.GlobalAveragePooling3D(name="gap")(m), L.GlobalMaxPooling3D(name="gmp")(y)])
    f = L.Conv3D(3, 2, data_format="channels_first", name="cf")(L.Permute((4, 1, 2, 3), name="to_cf")(y))
    f = L.GlobalMaxPooling3D(data_format="channels_first", keepdims=True, name="gmp_cf")(f)
    return randomize(kir.Model(x, [head, g, f, m], name="volumes"), seed=4)


@pytest.mark.parametrize("optimize", ["O0", "O1", "O2"])
def test_volume_stack_with_layout_pass(optimize, tmp_path) -> None:
    path = check_parity(_volumes(), tmp_path, batches=(1, 3), optimize=optimize)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Conv") == 3 and ops.count("MaxPool") == 1 and ops.count("AveragePool") == 1
    if optimize == "O2":
        assert "BatchNormalization" not in ops  # folded into c1
        # one Transpose in (NDHWC -> NCDHW) and one out (the 5-D output); the Permute, the Flatten's
        # order (folded into the Dense kernel) and the channels_first branch need none
        assert ops.count("Transpose") == 2, ops


def test_layout_pass_runs_5d_ops_channels_first() -> None:
    graph, _ = run_pipeline(_volumes().to_graph(), "inference", level="O2")
    ops = {graph.vertex(v).op: graph.vertex(v).attrs for v in graph.vertex_ids()}
    for op in ("Conv3D", "MaxPooling3D", "AveragePooling3D", "GlobalAveragePooling3D"):
        assert ops[op].get("data_format") == "channels_first", op


def test_nchw_io_on_a_5d_stack() -> None:
    x = L.Input((4, 5, 6, 3), name="x")
    y = L.MaxPooling3D(padding="same")(L.Conv3D(2, 3, padding="same", activation="relu")(x))
    model = randomize(kir.Model(x, [y, L.GlobalAveragePooling3D()(L.Conv3D(2, 1)(y))], name="io"), seed=1)
    graph = model.to_graph()
    new, report = run_pipeline(graph, nchw_io=True, debug=True)
    assert new.op_counts()["Transpose"] == 0 and report.nchw_inputs == ["x"] and len(report.nchw_outputs) == 1
    assert_same_outputs(graph, new, report)
