"""`model.summary()`: the Keras 3 table (layer, output shape, params, connected to) without `rich`.

Keras 3 renders with `rich`; kir draws the same box characters itself so the look matches without
the dependency: column widths from the same `positions`, word-wrapped cells, `…` for words that
do not fit, and the parameter totals with their memory size.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from kir.errors import ConfigError
from kir.layers.input_layer import InputLayer

if TYPE_CHECKING:
    from kir.layers.base import Layer
    from kir.models.functional import Model


def readable_memory_size(size: float) -> str:
    """'312.00 B', '98.12 KB', '1.23 MB' — Keras' wording for weight memory."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def weight_counts(model: Layer) -> tuple[int, int, int, int]:
    """(trainable count, trainable bytes, non-trainable count, non-trainable bytes); a weight shared
    by several layers or models is counted once, and a frozen model freezes everything inside it."""
    seen: set[tuple[int, str]] = set()
    totals = [0, 0, 0, 0]

    def walk(layer: Layer, trainable: bool) -> None:
        trainable = trainable and layer.trainable
        for name in layer.weight_names():
            if (id(layer), name) in seen:
                continue
            seen.add((id(layer), name))
            value = layer.get_weight(name)
            slot = 0 if trainable and layer._trainable_weight.get(name, True) else 2
            totals[slot] += int(value.size)
            totals[slot + 1] += int(value.nbytes)
        for sub in layer.sublayers():
            walk(sub, trainable)

    walk(model, True)
    return totals[0], totals[1], totals[2], totals[3]


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _output_shape(layer: Layer, relevant: set[int]) -> str:
    nodes = [n for n in layer._inbound_nodes if id(n) in relevant] or layer._inbound_nodes
    if not nodes:
        return "?"
    shapes = [_shape_text(t.shape) for t in nodes[-1].outputs]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _connections(layer: Layer, relevant: set[int]) -> str:
    links = [f"{t.node.layer.name}[{t.node.index}][{t.index}]"
             for node in layer._inbound_nodes if id(node) in relevant for t in node.inputs]
    return ", ".join(links) or "-"


def is_sequential_like(model: Model) -> bool:
    """Keras drops the "Connected to" column for a plain chain: one input, each call on one tensor,
    no tensor used twice, no layer called twice."""
    from kir.models.sequential import Sequential

    if isinstance(model, Sequential):
        return True
    if len(model.inputs) != 1:
        return False
    consumers: dict[int, int] = {}
    layers: set[int] = set()
    for node in model.internal_nodes():
        if len(node.inputs) != 1 or id(node.layer) in layers:
            return False
        layers.add(id(node.layer))
        consumers[id(node.inputs[0])] = consumers.get(id(node.inputs[0]), 0) + 1
    return all(n == 1 for n in consumers.values())


# --------------------------------------------------------------------------- table drawing
def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap; a word longer than the cell is cut with '…' (rich's ellipsis overflow)."""
    lines: list[str] = []
    current: str | None = None
    for word in text.split(" "):
        if len(word) > width:
            word = word[: width - 1] + "…"
        if current is None:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    lines.append(current or "")
    return lines


def _align(text: str, width: int, how: str) -> str:
    if how == "right":
        return text.rjust(width)
    if how == "center":
        return text.center(width)
    return text.ljust(width)


def _cell_widths(line_length: int, positions: list[float]) -> list[int]:
    """Cell widths (padding included) that, with the borders, add up to `line_length`."""
    columns: list[int] = []
    current = 0
    for pos in positions:
        width = int(pos * line_length) - current if pos <= 1 else int(pos) - current
        if width < 4:
            raise ConfigError(f"summary: line_length={line_length} is too narrow for {len(positions)} columns; "
                              f"use a larger line_length")
        columns.append(width)
        current += width
    # rich (which Keras uses) adds one space of padding on each side plus the borders, then takes
    # the excess back evenly with its ratio_reduce; doing the same gives Keras' exact widths.
    cells = [w + 2 for w in columns]
    excess = sum(cells) + len(cells) + 1 - line_length
    remaining, share = excess, len(cells)
    for i, width in enumerate(cells):
        cut = min(width, round(remaining / share))
        cells[i] = width - cut
        remaining -= cut
        share -= 1
    return cells


def _row(cells: list[str], widths: list[int], aligns: list[str], bar: str) -> list[str]:
    wrapped = [_wrap(text, w - 2) for text, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = [" " + _align(w[i] if i < len(w) else "", width - 2, how) + " "
                 for w, width, how in zip(wrapped, widths, aligns)]
        lines.append(bar + bar.join(parts) + bar)
    return lines


def _rule(widths: list[int], left: str, fill: str, mid: str, right: str) -> str:
    return left + mid.join(fill * w for w in widths) + right


def summary_lines(model: Model, line_length: int | None = None, positions: list[float] | None = None,
                  expand_nested: bool = False, show_trainable: bool = False) -> list[str]:
    """The lines `print_summary` prints."""
    sequential_like = is_sequential_like(model)
    if sequential_like:
        default_length, positions = 88, positions or [0.45, 0.80, 1.0]
        header, aligns = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default_length, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        aligns = ["left", "left", "right", "left"]
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header, aligns = header + ["Trainable"], aligns + ["center"]
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    widths = _cell_widths(line_length, list(positions))
    relevant = {id(n) for n in model.internal_nodes()}

    def fields(layer: Layer, prefix: str) -> list[str]:
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [f"{prefix}{layer.name} ({_class_name(layer)})", _output_shape(layer, relevant), params]
        if not sequential_like:
            row.append(_connections(layer, relevant))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.get_weights() else "-")
        return row

    def rows(layer: Layer, level: int) -> Iterator[list[str]]:
        yield fields(layer, "   " * level + "└ " if level else "")
        if expand_nested and _is_model(layer):
            for inner in layer.layers:  # type: ignore[attr-defined]
                yield from rows(inner, level + 1)

    body: list[list[str]] = [row for layer in model.layers for row in rows(layer, 0)]
    lines = [f'Model: "{model.name}"', _rule(widths, "┏", "━", "┳", "┓")]
    lines += _row(header, widths, aligns, "┃")
    lines.append(_rule(widths, "┡", "━", "╇", "┩"))
    for i, row in enumerate(body):
        if i:
            lines.append(_rule(widths, "├", "─", "┼", "┤"))
        lines += _row(row, widths, aligns, "│")
    lines.append(_rule(widths, "└", "─", "┴", "┘"))
    trainable, trainable_bytes, frozen, frozen_bytes = weight_counts(model)
    lines += [
        f" Total params: {trainable + frozen:,} ({readable_memory_size(trainable_bytes + frozen_bytes)})",
        f" Trainable params: {trainable:,} ({readable_memory_size(trainable_bytes)})",
        f" Non-trainable params: {frozen:,} ({readable_memory_size(frozen_bytes)})",
    ]
    return lines


def _class_name(layer: Layer) -> str:
    """Keras calls a functional model's class 'Functional'."""
    from kir.models.functional import Model

    return "Functional" if type(layer) is Model else type(layer).__name__


def _is_model(layer: Layer) -> bool:
    from kir.models.functional import Model

    return isinstance(layer, Model) and not isinstance(layer, InputLayer)


def print_summary(model: Model, line_length: int | None = None, positions: list[float] | None = None,
                  print_fn: Callable[[str], Any] | None = None, expand_nested: bool = False,
                  show_trainable: bool = False) -> None:
    """Print the Keras-style summary table, one `print_fn` call per line (default: `print`)."""
    for line in summary_lines(model, line_length=line_length, positions=positions, expand_nested=expand_nested,
                              show_trainable=show_trainable):
        (print_fn or print)(line)
