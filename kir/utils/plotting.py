"""Pictures of a model: `model_to_dot` (DOT text, no Graphviz needed) and `plot_model` (Graphviz).

Like Keras' plot_model, the picture is layer-level: one box per layer, an arrow per connection,
optionally the input/output shapes, and nested models either as one box or expanded into a
cluster. kir writes DOT itself, so only rendering to an image needs the Graphviz `dot` binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import TYPE_CHECKING, Any

from kir.errors import ConfigError, ExportError, MissingDependencyError, check_positive_int
from kir.layers.input_layer import InputLayer

if TYPE_CHECKING:
    from kir.layers.base import Layer
    from kir.models.functional import Model

RANKDIRS = ("TB", "LR", "BT", "RL")
TEXT_FORMATS = ("dot", "gv")
INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
                "conda: conda install graphviz)")


def _quote(text: str) -> str:
    """A DOT quoted string: only `"` is escaped there; a trailing backslash would eat the quote."""
    text = text.replace('"', '\\"')
    if (len(text) - len(text.rstrip("\\"))) % 2:
        text += " "
    return '"' + text + '"'


def _record(text: str) -> str:
    """Escape the characters that structure a Graphviz record label."""
    for ch in "\\{}|<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _is_model(layer: Layer) -> bool:
    from kir.models.functional import Model

    return isinstance(layer, Model)


def _class_name(layer: Layer) -> str:
    from kir.models.functional import Model

    name = "Functional" if type(layer) is Model else type(layer).__name__
    inner = getattr(layer, "layer", None)
    if inner is not None and not isinstance(layer, InputLayer) and hasattr(inner, "name"):
        name += f"({_class_name(inner)})"
    return name


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _tensors_text(tensors: list, show_dtype: bool) -> str:
    parts = [_shape_text(t.shape) + (f" {t.dtype}" if show_dtype else "") for t in tensors]
    return parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"


class _DotWriter:
    """Emits vertices and edges for one model, recursing into nested models when expanding."""

    def __init__(self, show_shapes: bool, show_dtype: bool, show_layer_names: bool, expand_nested: bool,
                 show_layer_activations: bool, show_trainable: bool) -> None:
        self.show_shapes, self.show_dtype = show_shapes, show_dtype
        self.show_layer_names, self.expand_nested = show_layer_names, expand_nested
        self.show_layer_activations, self.show_trainable = show_layer_activations, show_trainable
        self.lines: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self.clusters = 0

    def label(self, layer: Layer, nodes: list) -> str:
        name = _class_name(layer)
        if self.show_layer_names:
            inner = getattr(layer, "layer", None)
            shown = layer.name + (f"({inner.name})" if inner is not None and hasattr(inner, "name") else "")
            name = f"{shown} ({name})"
        top = [_record(name)]
        activation = getattr(layer, "activation", None)
        if self.show_layer_activations and isinstance(activation, str) and activation != "linear":
            top.append(_record(f"activation: {activation}"))
        if self.show_trainable:
            top.append(_record(f"trainable: {'Y' if layer.trainable else 'N'}"))
        head = "\\n".join(top)
        if not (self.show_shapes or self.show_dtype):
            return head
        if not nodes:
            ins = outs = "?"
        elif isinstance(layer, InputLayer):
            ins = outs = _tensors_text(nodes[0].outputs, self.show_dtype)
        else:
            ins_set = {_tensors_text(n.inputs, self.show_dtype) for n in nodes}
            outs_set = {_tensors_text(n.outputs, self.show_dtype) for n in nodes}
            ins = ins_set.pop() if len(ins_set) == 1 else "multiple"
            outs = outs_set.pop() if len(outs_set) == 1 else "multiple"
        return f"{{{head}|{{input:|output:}}|{{{{{_record(ins)}}}|{{{_record(outs)}}}}}}}"

    def model(self, model: Model, prefix: str, indent: str) -> tuple[list[list[str]], list[str]]:
        """Emit `model`'s layers; return the vertices each model input enters and each output leaves."""
        relevant = {id(n) for n in model.internal_nodes()}
        entries: dict[int, tuple[list[list[str]], list[str]]] = {}
        vertex: dict[int, str] = {}
        for layer in model.layers:
            nodes = [n for n in layer._inbound_nodes if id(n) in relevant]
            if isinstance(layer, InputLayer):
                nodes = layer._inbound_nodes[:1]
            vid = prefix + layer.name
            vertex[id(layer)] = vid
            if self.expand_nested and _is_model(layer):
                self.clusters += 1
                self.lines.append(f"{indent}subgraph {_quote(f'cluster_{self.clusters}')} {{")
                self.lines.append(f"{indent}  label={_quote(f'{layer.name} ({_class_name(layer)})')};")
                entries[id(layer)] = self.model(layer, vid + "/", indent + "  ")  # type: ignore[arg-type]
                self.lines.append(f"{indent}}}")
            else:
                self.lines.append(f"{indent}{_quote(vid)} [label={_quote(self.label(layer, nodes))}];")

        def source(tensor: Any) -> str | None:
            producer = tensor.node.layer
            if id(producer) in entries:
                return entries[id(producer)][1][tensor.index]
            return vertex.get(id(producer))  # None: a Sequential's own input, linked from outside

        for layer in model.layers:
            for node in layer._inbound_nodes:
                if id(node) not in relevant:
                    continue
                for k, tensor in enumerate(node.inputs):
                    src = source(tensor)
                    targets = entries[id(layer)][0][k] if id(layer) in entries else [vertex[id(layer)]]
                    for target in targets if src is not None else []:
                        self.edge(src, target)
        inputs = []
        for tensor in model.inputs:
            if id(tensor.node.layer) in vertex:
                inputs.append([vertex[id(tensor.node.layer)]])
            else:  # a Sequential: its InputLayer is not among its layers; enter at the consumers
                inputs.append([vertex[id(n.layer)] for lay in model.layers for n in lay._inbound_nodes
                               if id(n) in relevant and any(t is tensor for t in n.inputs)])
        return inputs, [source(t) or inputs[0][0] for t in model.outputs]

    def edge(self, src: str, dst: str) -> None:
        if (src, dst) not in self.edges:
            self.edges.append((src, dst))


def model_to_dot(model: Model, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                 rankdir: str = "TB", expand_nested: bool = False, dpi: int = 96,
                 show_layer_activations: bool = False, show_trainable: bool = False) -> str:
    """The model's layer graph as Graphviz DOT text (Keras' plot_model picture); needs no Graphviz."""
    if not _is_model(model):
        raise ConfigError(f"model_to_dot draws kir models, got {type(model).__name__}")
    if rankdir not in RANKDIRS:
        raise ConfigError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    check_positive_int(dpi, "dpi")
    model._require_built()
    writer = _DotWriter(show_shapes, show_dtype, show_layer_names, expand_nested, show_layer_activations,
                        show_trainable)
    writer.model(model, "", "  ")
    head = [
        f"digraph {_quote(model.name)} {{",
        f"  graph [rankdir={rankdir}, dpi={dpi}, concentrate=true, fontname=\"Helvetica\"];",
        '  node [shape=record, fontname="Helvetica", fontsize=11];',
    ]
    edges = [f"  {_quote(a)} -> {_quote(b)};" for a, b in writer.edges]
    return "\n".join(head + writer.lines + edges + ["}"]) + "\n"


def _output_format(to_file: str) -> str:
    ext = os.path.splitext(to_file)[1].lower().lstrip(".")
    return ext or "png"


def plot_model(model: Model, to_file: str = "model.png", show_shapes: bool = False, show_dtype: bool = False,
               show_layer_names: bool = True, rankdir: str = "TB", expand_nested: bool = False, dpi: int = 96,
               show_layer_activations: bool = False, show_trainable: bool = False) -> None:
    """Draw the model to `to_file`: `.dot`/`.gv` get the DOT text, anything else (png, svg, pdf, ...)
    is rendered by Graphviz's `dot` program, run directly (no shell)."""
    to_file = os.fspath(to_file)
    text = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                        rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                        show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    fmt = _output_format(to_file)
    folder = os.path.dirname(os.path.abspath(to_file))
    if not os.path.isdir(folder):
        raise ExportError(f"cannot write '{to_file}': folder '{folder}' does not exist")
    if fmt in TEXT_FORMATS:
        _atomic_write(to_file, folder, text.encode("utf-8"))
        return None
    dot = shutil.which("dot")
    if dot is None:
        raise MissingDependencyError(
            f"plot_model needs the Graphviz 'dot' program to draw '{to_file}', and it is not on PATH; "
            f"{INSTALL_HINT}. Without Graphviz, write DOT text instead: "
            f"plot_model(model, 'model.dot') or kir.utils.model_to_dot(model)"
        )
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(to_file)}.", suffix=".tmp")
    os.close(fd)
    try:
        result = subprocess.run([dot, f"-T{fmt}", "-o", tmp], input=text.encode("utf-8"), capture_output=True,
                                timeout=300, check=False)
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise ExportError(f"Graphviz 'dot' could not render '{to_file}' as {fmt}: {message}")
        _publish(tmp, to_file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return None


def _atomic_write(path: str, folder: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _publish(tmp: str, path: str) -> None:
    """Give the temp file the permissions a plain open() would have, then move it into place."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)
