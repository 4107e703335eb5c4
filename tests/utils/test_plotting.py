"""model_to_dot (no Graphviz needed) and plot_model (Graphviz 'dot', or a clear error without it)."""

from __future__ import annotations

import os
import re
import shutil

import pytest

import kir
from kir import layers as L
from kir.errors import ConfigError, MissingDependencyError
from kir.models import Model
from kir.utils import model_to_dot, plot_model
from kir.zoo import guide as g

HAS_DOT = shutil.which("dot") is not None


def edges(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)";$', text, flags=re.M))


def vertices(text: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)"\];$', text, flags=re.M))


def test_dot_has_one_vertex_per_layer_and_the_guide_edges():
    model = g.shared_lstm(5, 7, 4)
    a, b = model.input_names
    lstm, concat, dense = (lay.name for lay in model.layers[2:])
    text = model_to_dot(model)
    assert text.startswith(f'digraph "{model.name}" {{\n  graph [rankdir=TB, dpi=96')
    assert set(vertices(text)) == {lay.name for lay in model.layers}
    assert vertices(text)[lstm] == f"{lstm} (LSTM)"
    assert edges(text) == {(a, lstm), (b, lstm), (lstm, concat), (concat, dense)}


def test_shapes_in_the_labels():
    model = g.multi_io(6, 30, 8, 5, 5, 7)
    labels = vertices(model_to_dot(model, show_shapes=True, show_dtype=True))
    assert labels["main_input"] == ("{main_input (InputLayer)|{input:|output:}|"
                                    "{{(None, 6) int32}|{(None, 6) int32}}}")
    concat = next(lay.name for lay in model.layers if isinstance(lay, L.Concatenate))
    assert labels[concat].endswith("|{{[(None, 5) float32, (None, 5) float32]}|{(None, 10) float32}}}")
    assert "(None, 1)" in vertices(model_to_dot(model, show_shapes=True))["main_output"]


def test_shared_layer_with_different_shapes_says_multiple():
    a, b = L.Input(shape=(4, 3)), L.Input(shape=(6, 3))
    conv = L.Conv1D(2, 3, name="conv")
    model = Model([a, b], [conv(a), conv(b)])
    assert vertices(model_to_dot(model, show_shapes=True))["conv"] == (
        "{conv (Conv1D)|{input:|output:}|{{multiple}|{multiple}}}")


def test_layer_names_optional_and_rankdir_dpi():
    model = g.functional_mlp(6, 5, 3)
    text = model_to_dot(model, show_layer_names=False, rankdir="LR", dpi=200)
    assert "graph [rankdir=LR, dpi=200, concentrate=true, fontname=\"Helvetica\"];" in text
    assert sorted(vertices(text).values()) == ["Dense", "Dense", "Dense", "InputLayer"]
    with pytest.raises(ConfigError, match="rankdir must be one of TB, LR, BT, RL"):
        model_to_dot(model, rankdir="XY")
    with pytest.raises(ConfigError, match="dpi must be a positive int"):
        model_to_dot(model, dpi=0)


def test_nested_model_as_one_box_or_expanded():
    pair = g.shared_vision_parts(8, 3)
    model, vision = pair.classification_model, pair.vision_model
    a, b = model.input_names
    collapsed = model_to_dot(model)
    assert vertices(collapsed)[vision.name] == f"{vision.name} (Functional)"
    assert (a, vision.name) in edges(collapsed) and (b, vision.name) in edges(collapsed)
    expanded = model_to_dot(model, expand_nested=True)
    assert f'label="{vision.name} (Functional)";' in expanded and "subgraph \"cluster_1\"" in expanded
    inner_input, *_, inner_out = [f"{vision.name}/{lay.name}" for lay in vision.layers]
    concat = next(lay.name for lay in model.layers if isinstance(lay, L.Concatenate))
    assert {(a, inner_input), (b, inner_input), (inner_out, concat)} <= edges(expanded)
    assert vision.name not in vertices(expanded)


def test_expanded_sequential_enters_at_its_first_layer():
    video = g.vqa_parts(image=32, seq_len=5, vocab=30, embed=6, lstm_units=5, answers=7, filters=(2, 3, 4))
    model, vision = video.vqa_model, video.vision_model
    image_input = model.input_names[0]
    text = model_to_dot(model, expand_nested=True)
    first = f"{vision.name}/{vision.layers[0].name}"
    last = f"{vision.name}/{vision.layers[-1].name}"
    assert (image_input, first) in edges(text)
    assert any(src == last for src, _ in edges(text))


def test_wrappers_name_their_inner_layer():
    model = g.time_distributed_mlp(3, 6, 5, 4)
    td = model.layers[1]
    assert vertices(model_to_dot(model))[td.name] == f"{td.name}({td.layer.name}) (TimeDistributed(Functional))"


def test_names_with_quotes_and_braces_are_escaped():
    x = L.Input(shape=(3,), name='in"put')
    model = Model(x, L.Dense(2, name="d{1}|<x>")(x))
    text = model_to_dot(model, show_shapes=True)
    assert r'"in\"put" -> "d{1}|<x>";' in text
    assert r"{d\{1\}\|\<x\> (Dense)|" in text


def test_dot_file_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    target = tmp_path / "model.dot"
    model = g.residual(8)
    plot_model(model, str(target), show_shapes=True)
    assert target.read_text() == model_to_dot(model, show_shapes=True)
    assert "(None, 8, 8, 3)" in target.read_text()


def test_missing_graphviz_names_the_binary_and_the_fix(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(MissingDependencyError, match=r"Graphviz 'dot' program.*apt-get install graphviz") as info:
        plot_model(g.functional_mlp(6, 5, 3), str(tmp_path / "model.png"))
    assert "model.dot" in str(info.value) and isinstance(info.value, kir.KirError)
    assert os.listdir(tmp_path) == ["empty"]


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
@pytest.mark.parametrize("name, magic", [("model.png", b"\x89PNG"), ("model.svg", b"<?xml"), ("model", b"\x89PNG")])
def test_render_with_graphviz(tmp_path, name, magic):
    target = tmp_path / name
    plot_model(g.multi_io(6, 30, 8, 5, 5, 7), str(target), show_shapes=True, expand_nested=True)
    assert target.read_bytes().startswith(magic)
    assert sorted(os.listdir(tmp_path)) == [name]


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
def test_graphviz_failure_is_reported(tmp_path):
    with pytest.raises(kir.errors.ExportError, match="could not render"):
        plot_model(g.functional_mlp(6, 5, 3), str(tmp_path / "model.notaformat"))
    assert os.listdir(tmp_path) == []
