"""What an exported file says about itself: user metadata, class labels, layouts, id bounds, dim names.

Why in the file: a served model travels without its Python code, so whatever a client needs to
feed it (layout, id range, names of the dynamic dims) and to read its answer (class labels) is
stored in the ONNX `metadata_props` and in the graph's input/output shapes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from onnx import ModelProto

from kir.errors import ConfigError
from kir.ir.graph import Graph

RESERVED_PREFIX = "kir_"
"""metadata keys kir writes itself; users' keys may not start with it."""

_LAYOUTS = {
    ("channels_last", 3): "NWC", ("channels_first", 3): "NCW",
    ("channels_last", 4): "NHWC", ("channels_first", 4): "NCHW",
    ("channels_last", 5): "NDHWC", ("channels_first", 5): "NCDHW",
}


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """User metadata as str -> str, refusing kir's reserved keys and non-string keys."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ConfigError(f"metadata must be a dict of str -> str, got {type(metadata).__name__}")
    out = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"metadata keys must be non-empty strings, got {key!r}")
        if key.startswith(RESERVED_PREFIX):
            raise ConfigError(f"metadata key '{key}': keys starting with '{RESERVED_PREFIX}' are kir's own; "
                              f"rename it")
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def parse_metadata(items: Sequence[str]) -> dict[str, str]:
    """`--metadata key=value` arguments -> dict (a ConfigError names the malformed one)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--metadata takes key=value, got '{item}'")
        out[key] = value
    return out


def load_labels(labels: str | os.PathLike | Sequence[str] | None) -> list[str] | None:
    """Class labels from a list or a text file with one label per line (blank lines at the end ignored)."""
    if labels is None:
        return None
    if isinstance(labels, (str, os.PathLike)):
        path = os.fspath(labels)
        if not os.path.isfile(path):
            raise ConfigError(f"labels file '{path}' does not exist; give a text file with one class label a line")
        with open(path, encoding="utf-8") as fh:
            labels = fh.read().rstrip("\n").split("\n")
    labels = [str(label) for label in labels]
    if not labels or any(not label.strip() for label in labels):
        raise ConfigError("labels must be non-empty, one label per class (a blank label was found)")
    return labels


def check_labels(labels: list[str] | None, model: ModelProto) -> None:
    """The labels must match the width of the model's (first) output."""
    if labels is None:
        return
    dims = model.graph.output[0].type.tensor_type.shape.dim
    width = dims[-1].dim_value if dims and dims[-1].HasField("dim_value") else None
    if width is not None and width != len(labels) and not (width == 1 and len(labels) == 2):
        raise ConfigError(f"{len(labels)} labels given but output '{model.graph.output[0].name}' has {width} "
                          f"classes; give one label per class")


def input_layouts(graph: Graph) -> dict[str, str]:
    """Input name -> layout letters (NHWC/NCHW, NWC/NCW, NDHWC/NCDHW) for image-like inputs."""
    layouts = {}
    for vid in graph.inputs:
        vertex = graph.vertex(vid)
        rank = len(vertex.outputs[0].shape)
        if rank < 3 or not str(vertex.outputs[0].dtype).startswith("float"):
            continue
        fmt = vertex.attrs.get("data_format", "channels_last")
        layouts[vertex.name] = _LAYOUTS.get((fmt, rank), fmt)
    return layouts


def dim_names(graph: Graph, vid: int) -> list[str | None]:
    """The names given to an Input's non-batch dims (`Input(dim_names=...)`), None where unnamed."""
    vertex = graph.vertex(vid)
    names = list(vertex.attrs.get("dim_names") or [])
    rank = len(vertex.outputs[0].shape) - 1
    return (names + [None] * rank)[:rank]


def set_props(model: ModelProto, props: Mapping[str, str]) -> None:
    """Add `props` to the model's metadata_props (replacing equal keys), sorted for determinism."""
    current = {p.key: p.value for p in model.metadata_props}
    current.update(props)
    del model.metadata_props[:]
    for key in sorted(current):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, current[key]


def describe(model: ModelProto, graph: Graph, metadata: Mapping[str, Any] | None,
             labels: list[str] | None) -> None:
    """Write user metadata, labels (`kir_labels`, JSON list) and input layouts (`kir_layout`)."""
    props = check_metadata(metadata)
    layouts = input_layouts(graph)
    if layouts:
        props["kir_layout"] = json.dumps(layouts, sort_keys=True)
    if labels is not None:
        check_labels(labels, model)
        props["kir_labels"] = json.dumps(labels)
    set_props(model, props)


def read_props(model: ModelProto) -> dict[str, str]:
    """metadata_props as a dict."""
    return {p.key: p.value for p in model.metadata_props}
