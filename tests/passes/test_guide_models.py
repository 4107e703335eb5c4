"""Every guide model (reduced sizes, random weights) through every pipeline: numpy-reference
outputs unchanged (rtol 1e-5), the expected ops gone, and the user's model untouched."""

from __future__ import annotations

import numpy as np
import pytest

from kir.passes import run_pipeline
from tests.fixtures import factories
from tests.passes.util import assert_same_outputs

GUIDE = ["mlp", "sequential_mlp", "cnn", "headline", "shared_lstm", "inception", "residual", "shared_vision",
         "vqa", "video_qa", "time_distributed_mlp"]
CONFIGS = {
    "training": dict(pipeline="training"),
    "O0": dict(level="O0"),
    "O1": dict(level="O1"),
    "O2": dict(level="O2"),
    "O2-nchw": dict(level="O2", nchw_io=True),
    "O2-batch3": dict(level="O2", static_batch=3),
}


@pytest.fixture(scope="module")
def graphs() -> dict:
    return {name: getattr(factories, name)().to_graph() for name in GUIDE}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("name", GUIDE)
def test_pipeline_preserves_outputs(graphs: dict, name: str, config: str) -> None:
    graph = graphs[name]
    new, report = run_pipeline(graph, debug=True, **CONFIGS[config])
    assert_same_outputs(graph, new, report, batch=3 if config == "O2-batch3" else 2)


@pytest.mark.parametrize("name", GUIDE)
def test_inference_levels_remove_what_they_promise(graphs: dict, name: str) -> None:
    o1 = run_pipeline(graphs[name], level="O1")[0].op_counts(recursive=True)
    o2 = run_pipeline(graphs[name], level="O2")[0].op_counts(recursive=True)
    for counts in (o1, o2):
        assert counts["Dropout"] == counts["Identity"] == counts["Call"] == 0
    assert o2["BatchNormalization"] == 0 and o2["Activation"] == 0


@pytest.mark.parametrize(("name", "most", "with_nchw_io"), [("cnn", 1, 0), ("inception", 2, 0), ("residual", 2, 0),
                                                            ("shared_vision", 2, 0), ("vqa", 1, 0)])
def test_conv_models_keep_at_most_boundary_transposes(graphs: dict, name: str, most: int, with_nchw_io: int) -> None:
    new, _ = run_pipeline(graphs[name])
    assert new.op_counts()["Transpose"] <= most
    new, report = run_pipeline(graphs[name], nchw_io=True)
    assert new.op_counts()["Transpose"] == with_nchw_io
    assert report.nchw_inputs and new.attrs["nchw_inputs"] == report.nchw_inputs
    convs = [v for _, v in new.vertices() if v.op in ("Conv2D", "MaxPooling2D")]
    assert convs and all(v.attrs["data_format"] == "channels_first" for v in convs)


def test_cnn_has_no_transpose_between_conv_stack_and_classifier(graphs: dict) -> None:
    new, _ = run_pipeline(graphs["cnn"])
    order = [v.op for _, v in new.vertices()]
    assert order == ["Input", "Transpose", "Conv2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    flatten = next(v for _, v in new.vertices() if v.op == "Flatten")
    assert flatten.attrs["data_format"] == "channels_last"  # a plain reshape: the permutation is in the kernel


def test_inception_concatenates_on_the_remapped_axis(graphs: dict) -> None:
    new, report = run_pipeline(graphs["inception"], nchw_io=True)
    (concat,) = [v for _, v in new.vertices() if v.op == "Concatenate"]
    assert concat.attrs["axis"] == 2  # the guide's axis=1 (rows) of NHWC is axis 2 of NCHW
    assert report.nchw_inputs == ["input_img"] and report.nchw_outputs == new.output_names
    assert new.vertex(new.inputs[0]).attrs["data_format"] == "channels_first"
    assert new.vertex(new.inputs[0]).outputs[0].shape == (None, 3, 16, 16)


def test_time_distributed_is_lowered_to_reshapes(graphs: dict) -> None:
    new, _ = run_pipeline(graphs["time_distributed_mlp"])
    assert [v.op for _, v in new.vertices()] == ["Input", "ReshapeFull", "Dense", "Dense", "Dense", "ReshapeFull"]
    folds = [v.attrs["shape"] for _, v in new.vertices() if v.op == "ReshapeFull"]
    assert folds == [[-1, 784], [-1, 5, 10]]


def test_training_pipeline_only_inlines(graphs: dict) -> None:
    new, _ = run_pipeline(graphs["video_qa"], "training")
    counts = new.op_counts()
    assert counts["Call"] == 0 and counts["TimeDistributed"] == 1


@pytest.mark.parametrize("name", ["cnn", "shared_vision", "video_qa"])
def test_user_model_and_weights_are_unchanged(name: str) -> None:
    model = getattr(factories, name)()
    weights = [w.copy() for w in model.get_weights()]
    graph = model.to_graph()
    dump, keys = graph.dump(), graph.store.keys()
    new, _ = run_pipeline(graph, nchw_io=True)
    assert model.to_graph() is graph and graph.dump() == dump and graph.store.keys() == keys
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert set(new.store.keys()) >= set(keys)
