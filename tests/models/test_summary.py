"""model.summary(): Keras 3's table, exact parameter totals of the guide's models, Connected to."""

from __future__ import annotations

import numpy as np
import pytest

import kir
from kir import layers as L
from kir.errors import ConfigError
from kir.models import Model, Sequential
from kir.models.summary import readable_memory_size
from kir.zoo import guide as g


def summary_of(model, **kwargs) -> list[str]:
    lines: list[str] = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def rows(lines: list[str]) -> dict[str, list[str]]:
    """Table body as {layer cell text: [other cells]}, multi-line cells joined with spaces."""
    body = lines[lines.index(next(ln for ln in lines if ln.startswith("┡"))) + 1:]
    blocks: list[list[str]] = [[]]
    for line in body:
        if line.startswith(("├", "└")):
            blocks.append([])
        elif line.startswith("│"):
            blocks[-1].append(line)
    table = {}
    for block in blocks:
        if not block:
            continue
        cells = [[] for _ in block[0].strip("│").split("│")]
        for line in block:
            for i, part in enumerate(line.strip("│").split("│")):
                if part.strip():
                    cells[i].append(part[1:].rstrip() if i == 0 else part.strip())
        texts = [" ".join(c) for c in cells]
        table[texts[0]] = texts[1:]
    return table


def totals(lines: list[str]) -> list[str]:
    return lines[-3:]


@pytest.mark.parametrize("build, total, size", [
    (g.sequential_mlp, 25_450, "99.41 KB"),
    (g.multi_io, 5_200_610, "19.84 MB"),
    (g.shared_lstm, 82_305, "321.50 KB"),
    (g.inception, 140_160, "547.50 KB"),
    (g.residual, 84, "336.00 B"),
    (g.shared_vision, 53_057, "207.25 KB"),
])
def test_guide_models_param_totals_match_keras(build, total, size):
    lines = summary_of(build(), line_length=120)
    assert totals(lines) == [
        f" Total params: {total:,} ({size})",
        f" Trainable params: {total:,} ({size})",
        " Non-trainable params: 0 (0.00 B)",
    ]


def test_sequential_table_exactly():
    model = Sequential([L.Dense(32, input_shape=(784,), name="dense"), L.Activation("relu", name="activation")],
                       name="sequential")
    assert summary_of(model, line_length=80) == [
        'Model: "sequential"',
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓",
        "┃ Layer (type)                      ┃ Output Shape             ┃       Param # ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩",
        "│ dense (Dense)                     │ (None, 32)               │        25,120 │",
        "├───────────────────────────────────┼──────────────────────────┼───────────────┤",
        "│ activation (Activation)           │ (None, 32)               │             0 │",
        "└───────────────────────────────────┴──────────────────────────┴───────────────┘",
        " Total params: 25,120 (98.12 KB)",
        " Trainable params: 25,120 (98.12 KB)",
        " Non-trainable params: 0 (0.00 B)",
    ]


def test_functional_table_with_wrapping_and_connections_exactly():
    a = L.Input(shape=(8,), name="a")
    y = L.concatenate([L.Dense(4, name="d")(a), L.Dense(5, name="e")(a)], name="concatenate")
    z = L.BatchNormalization(name="batch_normalization")(L.Dense(3, name="out")(y))
    model = Model(a, z, name="functional")
    assert summary_of(model, line_length=76) == [
        'Model: "functional"',
        "┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓",
        "┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩",
        "│ a (InputLayer)      │ (None, 8)         │          0 │ -                 │",
        "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
        "│ d (Dense)           │ (None, 4)         │         36 │ a[0][0]           │",
        "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
        "│ e (Dense)           │ (None, 5)         │         45 │ a[0][0]           │",
        "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
        "│ concatenate         │ (None, 9)         │          0 │ d[0][0], e[0][0]  │",
        "│ (Concatenate)       │                   │            │                   │",
        "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
        "│ out (Dense)         │ (None, 3)         │         30 │ concatenate[0][0] │",
        "├─────────────────────┼───────────────────┼────────────┼───────────────────┤",
        "│ batch_normalization │ (None, 3)         │         12 │ out[0][0]         │",
        "│ (BatchNormalizatio… │                   │            │                   │",
        "└─────────────────────┴───────────────────┴────────────┴───────────────────┘",
        " Total params: 123 (492.00 B)",
        " Trainable params: 117 (468.00 B)",
        " Non-trainable params: 6 (24.00 B)",
    ]


def test_words_too_long_for_a_cell_are_cut_with_an_ellipsis():
    a = L.Input(shape=(8,), name="a")
    aux = L.Input(shape=(5,), name="aux")
    y = L.concatenate([L.Dense(4, name="dense_layer")(a), aux], name="concatenate")
    model = Model([a, aux], y)
    wide = rows(summary_of(model, line_length=200))
    assert wide["concatenate (Concatenate)"] == ["(None, 9)", "0", "dense_layer[0][0], aux[0][0]"]
    lines = summary_of(model, line_length=76)
    assert any(ln.endswith("│ dense_layer[0][0… │") for ln in lines)
    assert any(ln.endswith("│ aux[0][0]         │") for ln in lines)


def test_connected_to_lists_each_call_of_a_shared_layer():
    model = g.shared_lstm(5, 7, 4)
    first, second = model.input_names
    lstm = next(lay for lay in model.layers if isinstance(lay, L.LSTM))
    concat = next(lay for lay in model.layers if isinstance(lay, L.Concatenate))
    table = rows(summary_of(model, line_length=200))
    assert table[f"{lstm.name} (LSTM)"] == ["(None, 4)", "192", f"{first}[0][0], {second}[0][0]"]
    assert table[f"{concat.name} (Concatenate)"] == ["(None, 8)", "0", f"{lstm.name}[0][0], {lstm.name}[1][0]"]
    assert table[f"{first} (InputLayer)"] == ["(None, 5, 7)", "0", "-"]


def test_multi_output_headline_model_rows():
    model = g.multi_io(6, 30, 8, 5, 5, 7)
    table = rows(summary_of(model, line_length=200))
    assert table["main_input (InputLayer)"] == ["(None, 6)", "0", "-"]
    assert table["aux_output (Dense)"][:2] == ["(None, 1)", "6"]
    assert table["main_output (Dense)"][:2] == ["(None, 1)", "8"]
    concat = next(lay for lay in model.layers if isinstance(lay, L.Concatenate))
    lstm = next(lay for lay in model.layers if isinstance(lay, L.LSTM))
    assert table[f"{concat.name} (Concatenate)"][2] == f"{lstm.name}[0][0], aux_input[0][0]"


def test_chain_models_have_no_connected_to_column():
    for model in (g.functional_mlp(6, 5, 3), g.mlp_binary(6, 5)):
        lines = summary_of(model, line_length=100)
        assert "Connected to" not in lines[2] and "Param #" in lines[2]
    assert "Connected to" in summary_of(g.residual(8), line_length=100)[2]


def test_line_length_and_print_fn_are_honoured():
    model = g.inception(8, 3)
    for width in (70, 100, 140):
        lines = summary_of(model, line_length=width)
        table = [ln for ln in lines[1:-3]]
        assert {len(ln) for ln in table} == {width}
    with pytest.raises(ConfigError, match="line_length=20 is too narrow"):
        summary_of(model, line_length=20)


def test_default_prints_to_stdout(capsys):
    g.mlp_binary(6, 5).summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "') and " Total params: 41 (164.00 B)" in out


def test_expand_nested_indents_the_inner_layers():
    pair = g.shared_vision_parts(8, 3)
    flat = rows(summary_of(pair.classification_model, line_length=160))
    nested = rows(summary_of(pair.classification_model, line_length=160, expand_nested=True))
    inner_names = [lay.name for lay in pair.vision_model.layers]
    assert not any(name in key for key in flat for name in inner_names if key.startswith("   └"))
    for name, layer in zip(inner_names, pair.vision_model.layers):
        assert f"   └ {name} ({type(layer).__name__})" in nested
    assert f"{pair.vision_model.name} (Functional)" in nested
    vision_row = nested[f"{pair.vision_model.name} (Functional)"]
    a, b = pair.classification_model.input_names
    assert vision_row == ["(None, 12)", f"{pair.vision_model.count_params():,}", f"{a}[0][0], {b}[0][0]"]


def test_show_trainable_and_frozen_layers():
    model = g.functional_mlp(6, 5, 3)
    model.layers[1].trainable = False
    lines = summary_of(model, line_length=160, show_trainable=True)
    table = rows(lines)
    assert lines[2].rstrip("┃").rstrip().endswith("Trainable")
    assert table[f"{model.layers[1].name} (Dense)"][-1] == "N"
    assert table[f"{model.layers[2].name} (Dense)"][-1] == "Y"
    assert table[f"{model.input_names[0]} (InputLayer)"][-1] == "-"
    assert totals(lines) == [" Total params: 83 (332.00 B)", " Trainable params: 48 (192.00 B)",
                             " Non-trainable params: 35 (140.00 B)"]


def test_frozen_nested_model_and_shared_weights_counted_once():
    inner = g.functional_mlp(6, 5, 3)
    x = L.Input(shape=(6,))
    frames = L.Input(shape=(4, 6))
    model = Model([x, frames], [inner(x), L.TimeDistributed(inner)(frames)])
    inner.trainable = False
    assert totals(summary_of(model, line_length=150)) == [
        " Total params: 83 (332.00 B)", " Trainable params: 0 (0.00 B)", " Non-trainable params: 83 (332.00 B)"]


def test_unbuilt_sequential():
    model = Sequential([L.Dense(3, name="later")])
    assert rows(summary_of(model, line_length=90))["later (Dense)"] == ["?", "0 (unbuilt)"]


def test_multi_output_layer_shapes_are_listed():
    x = L.Input(shape=(5, 3))
    outs = L.LSTM(4, return_state=True, name="rnn")(x)
    model = Model(x, outs)
    assert rows(summary_of(model, line_length=150))["rnn (LSTM)"][0] == "[(None, 4), (None, 4), (None, 4)]"


@pytest.mark.parametrize("size, text", [(0, "0.00 B"), (312, "312.00 B"), (1024, "1.00 KB"),
                                        (20_802_440, "19.84 MB"), (3 * 1024**3, "3.00 GB")])
def test_readable_memory_size(size, text):
    assert readable_memory_size(size) == text


def test_summary_does_not_change_predictions():
    model = g.functional_mlp(6, 5, 3)
    x = np.ones((2, 6), "float32")
    before = model.predict(x)
    summary_of(model)
    assert np.array_equal(before, model.predict(x))
    assert isinstance(kir.models.Model, type)
