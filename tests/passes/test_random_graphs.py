"""Random models (mixed conv/pool/BN/activation/dropout layers, shared layers, nested models,
merges, reshapes) through every pipeline: numpy-reference outputs must not change."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kir
from kir import layers as L
from kir.passes import run_pipeline
from tests.fixtures.factories import randomize
from tests.passes.util import assert_same_outputs

ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax", "elu"]
MERGES = [L.add, L.multiply, L.maximum, L.average, L.subtract]


def _shape(t) -> tuple:
    return tuple(t.shape[1:])


@st.composite
def image_ops(draw, tensors: list, shared: dict):
    """One random layer applied to one (or two) of the image tensors built so far."""
    x = draw(st.sampled_from(tensors))
    h, w, c = _shape(x)
    kind = draw(st.sampled_from(["conv", "conv_valid", "bn", "pool", "pool2", "act", "dropout", "merge", "concat",
                                 "shared", "nested", "permute", "global"]))
    act = draw(st.sampled_from(ACTIVATIONS))
    if kind == "conv":
        return L.Conv2D(draw(st.integers(1, 4)), draw(st.sampled_from([(1, 1), (3, 3), (2, 3)])), padding="same",
                        activation=act, use_bias=draw(st.booleans()))(x)
    if kind == "conv_valid" and min(h, w) >= 3:
        return L.Conv2D(draw(st.integers(1, 4)), (2, 2), activation=act)(x)
    if kind == "bn":
        return L.BatchNormalization(axis=draw(st.sampled_from([-1, 1, 2])), center=draw(st.booleans()),
                                    scale=draw(st.booleans()))(x)
    if kind == "pool":
        pool = draw(st.sampled_from([L.MaxPooling2D, L.AveragePooling2D]))
        return pool((2, 2), strides=(1, 1), padding="same")(x)
    if kind == "pool2" and min(h, w) >= 2:
        return L.MaxPooling2D((2, 2))(x)
    if kind == "act":
        return L.Activation(act)(x)
    if kind == "dropout":
        return L.Dropout(0.3)(x)
    if kind == "merge":
        partners = [t for t in tensors if _shape(t) == (h, w, c)]
        return draw(st.sampled_from(MERGES))([x, draw(st.sampled_from(partners))])
    if kind == "concat":
        axis = draw(st.sampled_from([1, 2, 3, -1]))
        keep = [d for i, d in enumerate((h, w, c)) if i != axis % 4 - 1]
        partners = [t for t in tensors if [d for i, d in enumerate(_shape(t)) if i != axis % 4 - 1] == keep]
        return L.concatenate([x, draw(st.sampled_from(partners))], axis=axis)
    if kind == "shared":
        layer = shared.setdefault(c, L.Conv2D(c, (3, 3), padding="same", activation="relu"))
        return layer(x)
    if kind == "nested":
        inner_in = L.Input(shape=(h, w, c))
        y = L.Conv2D(draw(st.integers(1, 3)), (3, 3), padding="same", use_bias=False)(inner_in)
        y = L.BatchNormalization()(y)
        y = L.Activation(act)(y)
        inner = kir.Model(inner_in, y)
        return inner(x)
    if kind == "permute":
        return L.Permute((2, 1, 3))(x)
    if kind == "global":
        return None  # handled by the head
    return L.Activation("relu")(x)


@st.composite
def random_models(draw) -> kir.Model:
    size = draw(st.integers(3, 5))
    image = L.Input(shape=(size, size, draw(st.integers(1, 3))), name="image")
    tensors, shared = [image], {}
    for _ in range(draw(st.integers(1, 7))):
        y = draw(image_ops(tensors, shared))
        if y is not None:
            tensors.append(y)
    last = tensors[-1]
    head = draw(st.sampled_from(["flatten", "global", "image", "vector"]))
    inputs, outputs = [image], []
    if head == "image":
        outputs = [last]
    elif head == "global":
        pooled = draw(st.sampled_from([L.GlobalAveragePooling2D, L.GlobalMaxPooling2D]))()(last)
        outputs = [L.Dense(3, activation="softmax")(pooled)]
    else:
        flat = L.Flatten()(last)
        if head == "vector":
            vec = L.Input(shape=(6,), name="vec")
            v = L.Dense(4, activation=draw(st.sampled_from(ACTIVATIONS)))(L.BatchNormalization()(vec))
            v = L.Flatten()(L.Reshape((2, 2))(L.Dropout(0.2)(v)))
            flat = L.concatenate([flat, v])
            inputs.append(vec)
        h = L.BatchNormalization()(L.Dense(5)(flat))
        outputs = [L.Dense(2)(L.Activation(draw(st.sampled_from(ACTIVATIONS)))(h))]
    if draw(st.booleans()) and last is not image:
        outputs.append(last)  # an intermediate image tensor as a second output
    return randomize(kir.Model(inputs, outputs), seed=draw(st.integers(0, 1000)))


CONFIGS = [dict(pipeline="training"), dict(level="O1"), dict(level="O2"), dict(level="O2", nchw_io=True),
           dict(level="O2", static_batch=2)]


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=random_models())
def test_random_models_keep_their_outputs(model: kir.Model) -> None:
    graph = model.to_graph()
    dump = graph.dump()
    for config in CONFIGS:
        new, report = run_pipeline(graph, debug=True, **config)
        assert_same_outputs(graph, new, report)
        if config.get("level") == "O2":
            counts = new.op_counts(recursive=True)
            assert counts["Dropout"] == 0 and counts["Call"] == 0
            identities = [v for _, v in new.vertices() if v.op == "Identity"]  # only output = input needs one
            assert all(new.vertex(new.input_refs(vid)[0][0]).op == "Input"
                       for vid, v in new.vertices() if v.op == "Identity"), identities
    assert graph.dump() == dump


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=random_models())
def test_random_models_quick(model: kir.Model) -> None:
    """A short version of the above for every test run."""
    graph = model.to_graph()
    new, report = run_pipeline(graph, debug=True, nchw_io=True)
    assert_same_outputs(graph, new, report)
