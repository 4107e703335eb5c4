"""The native `.kir` format: a zip holding `model.json` (the layer graph) and one `.npy` per weight.

Why this shape: JSON plus `.npy` files loaded with `allow_pickle=False` means a model file can never
run code; the JSON names only kir's own classes (looked up in a registry, never imported by name);
and restoring *replays* the saved layer calls, so names, shared layers (node indices) and nested
models come back as real kir objects that share weights exactly as the saved ones did.

Layout of `model.json`::

    {"format": "kir-model", "format_version": 1, "kir_version": "...",
     "model": <object>, "weights": [{"object": 3, "layer": "dense", "name": "kernel",
                                    "entry": "weights/3/0.npy"}, ...]}

An <object> is either `{"ref": n}` (the n-th object already described: how shared layers and
models are written once) or `{"id": n, "class_name": ..., "trainable": ..., "config": ...}`.
A functional model's config lists its `layers` (objects) and its `nodes` in call order, each node
with inbound links `[layer name, node index, tensor index]` as Keras' functional config has them;
a Sequential's config lists its `input` and stacked `layers`. Layers held inside another layer's
config (TimeDistributed's layer, Bidirectional's layer) are written as `{"__layer__": <object>}`.

A layer whose computation is traced user code (a `Lambda`, a subclassed layer with `call()`, the
layers tensor operators make) is written as class `TracedLayer` (format version 2): its `weights`
(name, shape, dtype, trainable), its sub-layers (`layers`, objects) and the trace of each call
(`calls`: the IR primitive steps with their JSON attrs, see docs/tracing.md). Loading replays the
traces, so it runs none of the user's code and needs none of it importable.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from kir.errors import ConfigError, ExportError, KirError, LoadError
from kir.layers.base import Layer
from kir.layers.input_layer import InputLayer
from kir.layers.lambda_layer import TracedLayer
from kir.layers.trace import trace_json
from kir.models.functional import Model
from kir.models.ordering import replay_order
from kir.models.sequential import Sequential
from kir.version import __version__

FORMAT = "kir-model"
FORMAT_VERSION = 2
TRACED_VERSION = 2
"""Files holding traced layers are version 2; the others stay version 1 (older kir reads them)."""
CONFIG_ENTRY = "model.json"
_LAYER_KEY = "__layer__"
_MAX_JSON_BYTES = 256 * 1024 * 1024
_SAFE_DTYPE_KINDS = "biuf"


# --------------------------------------------------------------------------- class registry
def class_registry() -> dict[str, type[Layer]]:
    """kir's own layer and model classes by class name: the only classes a file may name."""
    import kir.layers as layers_module

    classes: dict[str, type[Layer]] = {}
    for obj in vars(layers_module).values():
        if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer and obj.__module__.startswith("kir.") \
                and obj.call is Layer.call:  # traced classes (Lambda) are stored as TracedLayer, never by name
            classes[obj.__name__] = obj
    classes.update({"InputLayer": InputLayer, "Model": Model, "Sequential": Sequential, "TracedLayer": TracedLayer})
    return classes


# --------------------------------------------------------------------------- writing
class _Writer:
    """Turns a model into the JSON description plus the list of weight slots to write."""

    def __init__(self) -> None:
        self.registry = class_registry()
        self.ids: dict[int, int] = {}
        self.objects: list[Layer] = []
        self.traced = False

    def obj(self, layer: Layer) -> dict[str, Any]:
        if id(layer) in self.ids:
            return {"ref": self.ids[id(layer)]}
        cls_name = type(layer).__name__
        if layer._is_traced():
            return self.traced_layer(layer)
        if self.registry.get(cls_name) is not type(layer):
            raise ConfigError(
                f"layer '{layer.name}' is a {type(layer).__module__}.{cls_name}, not one of kir's own classes; "
                f"the .kir format stores only kir layers and models (loading never imports code)"
            )
        number = len(self.objects)
        self.ids[id(layer)] = number
        self.objects.append(layer)
        entry: dict[str, Any] = {"id": number, "class_name": cls_name, "trainable": bool(layer.trainable)}
        if isinstance(layer, Sequential):
            entry["config"] = self.sequential(layer)
        elif isinstance(layer, Model):
            entry["config"] = self.functional(layer)
        else:
            config = {k: v for k, v in layer.get_config().items() if k != "weights"}
            entry["config"] = {k: self.value(v, layer, k) for k, v in config.items()}
        return entry

    def traced_layer(self, layer: Layer) -> dict[str, Any]:
        """A traced layer as a TracedLayer: its weights, sub-layers and the distinct traces of its
        calls (never its code)."""
        number = len(self.objects)
        self.ids[id(layer)] = number
        self.objects.append(layer)
        self.traced = True
        sublayers = layer.sublayers()
        traces = [trace for _, trace in layer._traces.values()] + list(layer._spec_traces.values())
        calls: dict[str, dict[str, Any]] = {}
        for trace in traces:
            data = trace_json(trace, layer, sublayers)
            calls.setdefault(json.dumps(data, sort_keys=True, default=repr), data)
        weights = [{"name": n, "shape": list(layer.get_weight(n).shape), "dtype": layer.get_weight(n).dtype.name,
                    "trainable": layer.weight_trainable(n)} for n in layer.weight_names()]
        config = {"name": layer.name, "traced_class": getattr(layer, "traced_class", None) or type(layer).__name__,
                  "weights": weights, "layers": sublayers, "calls": list(calls.values())}
        return {"id": number, "class_name": "TracedLayer", "trainable": bool(layer.trainable),
                "config": {k: self.value(v, layer, k) for k, v in config.items()}}

    def value(self, value: Any, layer: Layer, key: str) -> Any:
        """A JSON-able form of one constructor argument (nested layers become objects)."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Layer):
            return {_LAYER_KEY: self.obj(value)}
        if isinstance(value, (list, tuple)):
            return [self.value(v, layer, key) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: self.value(v, layer, key) for k, v in value.items()}
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return np.dtype(value).name
        if callable(value) and isinstance(getattr(value, "__name__", None), str):
            from kir import activations

            if value.__name__ in activations.NAMES:
                return value.__name__
        raise ConfigError(
            f"layer '{layer.name}': argument {key}={value!r} cannot be saved in the .kir format; "
            f"pass plain values (numbers, strings, lists, activation names) to the layer instead"
        )

    def sequential(self, model: Sequential) -> dict[str, Any]:
        source = model._input_tensor
        return {
            "name": model.name,
            "input": None if source is None else self.obj(source.node.layer),
            "layers": [self.obj(layer) for layer in model._stack],
        }

    def functional(self, model: Model) -> dict[str, Any]:
        nodes = replay_order(model.internal_nodes())
        rank: dict[int, int] = {}
        counts: dict[int, int] = {}
        for node in nodes:
            rank[id(node)] = counts.get(id(node.layer), 0)
            counts[id(node.layer)] = rank[id(node)] + 1

        def link(tensor: Any) -> list:
            node = tensor.node
            index = 0 if isinstance(node.layer, InputLayer) else rank[id(node)]
            return [node.layer.name, index, tensor.index]

        return {
            "name": model.name,
            "layers": [self.obj(layer) for layer in model.layers],
            "nodes": [{"layer": n.layer.name, "inbound": [link(t) for t in n.inputs]} for n in nodes],
            "inputs": [link(t) for t in model.inputs],
            "outputs": [link(t) for t in model.outputs],
            "single_input": bool(model._single_input),
            "single_output": bool(model._single_output),
        }


def _owned_slots(layer: Layer, described: set[int]) -> list[tuple[Layer, str]]:
    """Weights stored under `layer`'s object: its own, plus those of sub-layers that the file
    does not describe as objects of their own (e.g. Bidirectional's forward/backward copies)."""
    slots = [(layer, name) for name in layer.weight_names()]
    for sub in layer.sublayers():
        if id(sub) not in described:
            slots.extend(_owned_slots(sub, described))
    return slots


def _weight_table(objects: list[Layer]) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    described = {id(obj) for obj in objects}
    for number, obj in enumerate(objects):
        for k, (layer, name) in enumerate(_owned_slots(obj, described)):
            entry = {"object": number, "layer": layer.name, "name": name, "entry": f"weights/{number}/{k}.npy"}
            yield entry, layer.get_weight(name)


def serialize(model: Model) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The JSON document and the weight arrays (in the document's `weights` order) for `model`."""
    if not isinstance(model, Model):
        raise ConfigError(f"only kir models can be saved, got {type(model).__name__}")
    writer = _Writer()
    description = writer.obj(model)
    table = list(_weight_table(writer.objects))
    doc = {
        "format": FORMAT,
        "format_version": TRACED_VERSION if writer.traced else 1,
        "kir_version": __version__,
        "model": description,
        "weights": [entry for entry, _ in table],
    }
    return doc, [array for _, array in table]


def _write_zip(handle: Any, doc: dict[str, Any], arrays: list[np.ndarray]) -> None:
    with zipfile.ZipFile(handle, "w") as zf:
        zf.writestr(CONFIG_ENTRY, json.dumps(doc, indent=1), compress_type=zipfile.ZIP_DEFLATED)
        for entry, array in zip(doc["weights"], arrays):
            with zf.open(entry["entry"], "w", force_zip64=True) as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_model(model: Model, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write `model` to `filepath` atomically: a temp file in the same folder, then `os.replace`."""
    path = os.fspath(filepath)
    if os.path.isdir(path):
        raise ExportError(f"cannot save model '{model.name}' to '{path}': it is a directory; give a file name "
                          f"such as '{os.path.join(path, model.name + '.kir')}'")
    if not overwrite and os.path.exists(path):
        raise ExportError(f"cannot save model '{model.name}': '{path}' already exists and overwrite=False")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ExportError(f"cannot save model '{model.name}' to '{path}': folder '{folder}' does not exist")
    doc, arrays = serialize(model)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_zip(handle, doc, arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise ExportError(f"cannot save model '{model.name}' to '{path}': {exc}") from exc
        raise


# --------------------------------------------------------------------------- reading
class _Reader:
    """Rebuilds objects from the JSON description by replaying the saved layer calls."""

    def __init__(self) -> None:
        self.registry = class_registry()
        self.objects: list[Layer | None] = []

    def obj(self, entry: Any) -> Layer:
        _expect(isinstance(entry, dict), f"an object description must be a JSON object, got {entry!r:.80}")
        if "ref" in entry:
            ref = entry["ref"]
            _expect(isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(self.objects)
                    and self.objects[ref] is not None, f"reference {ref!r} names no object described before it")
            return self.objects[ref]  # type: ignore[return-value]
        cls_name = entry.get("class_name")
        cls = self.registry.get(cls_name) if isinstance(cls_name, str) else None
        if cls is None:
            raise LoadError(f"unknown class name {cls_name!r}; a .kir file may only name kir's own layers and "
                            f"models ({', '.join(sorted(self.registry))})")
        _expect(entry.get("id") == len(self.objects), f"object ids must count up from 0 (found {entry.get('id')!r})")
        number = len(self.objects)
        self.objects.append(None)
        config = entry.get("config")
        _expect(isinstance(config, dict), f"{cls_name} object {number} has no config object")
        if cls is Sequential:
            layer: Layer = self.sequential(config)
        elif cls is Model:
            layer = self.functional(config)
        else:
            kwargs = {str(k): self.value(v) for k, v in config.items()}
            layer = cls.from_config(kwargs)
        if "trainable" in entry:
            layer.trainable = bool(entry["trainable"])
        self.objects[number] = layer
        return layer

    def value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {_LAYER_KEY}:
                return self.obj(value[_LAYER_KEY])
            return {k: self.value(v) for k, v in value.items()}
        return value

    def sequential(self, config: dict[str, Any]) -> Sequential:
        model = Sequential(name=_name(config))
        if config.get("input") is not None:
            source = self.obj(config["input"])
            _expect(isinstance(source, InputLayer), "a Sequential's input must be an InputLayer")
            model.add(source)
        for item in _list(config, "layers"):
            model.add(self.obj(item))
        return model

    def functional(self, config: dict[str, Any]) -> Model:
        name = _name(config)
        layers = [self.obj(item) for item in _list(config, "layers")]
        by_name: dict[str, Layer] = {}
        produced: dict[tuple[str, int], list] = {}
        for layer in layers:
            _expect(layer.name not in by_name, f"model '{name}' lists two layers named '{layer.name}'")
            by_name[layer.name] = layer
            if isinstance(layer, InputLayer):
                produced[(layer.name, 0)] = [layer.output]
        calls: dict[str, int] = {}

        def resolve(link: Any) -> Any:
            _expect(isinstance(link, list) and len(link) == 3, f"bad tensor link {link!r:.80} in model '{name}'")
            key = (link[0], link[1])
            _expect(key in produced, f"model '{name}' links to {link[0]}[{link[1]}], which no earlier call produced")
            outputs = produced[key]
            _expect(isinstance(link[2], int) and 0 <= link[2] < len(outputs),
                    f"model '{name}': {link[0]}[{link[1]}] has no output {link[2]!r}")
            return outputs[link[2]]

        for node in _list(config, "nodes"):
            _expect(isinstance(node, dict) and node.get("layer") in by_name,
                    f"model '{name}' calls a layer it does not list: {node!r:.80}")
            layer = by_name[node["layer"]]
            inputs = [resolve(link) for link in _list(node, "inbound")]
            _expect(bool(inputs), f"model '{name}': a call of layer '{layer.name}' has no inputs")
            layer(inputs if layer.takes_list or len(inputs) > 1 else inputs[0])
            produced[(layer.name, calls.get(layer.name, 0))] = list(layer._inbound_nodes[-1].outputs)
            calls[layer.name] = calls.get(layer.name, 0) + 1
        inputs = [resolve(link) for link in _list(config, "inputs")]
        outputs = [resolve(link) for link in _list(config, "outputs")]
        single_in = bool(config.get("single_input", True)) and len(inputs) == 1
        single_out = bool(config.get("single_output", True)) and len(outputs) == 1
        return Model(inputs=inputs[0] if single_in else inputs, outputs=outputs[0] if single_out else outputs,
                     name=name)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise LoadError(message)


def _name(config: dict[str, Any]) -> str:
    name = config.get("name")
    _expect(isinstance(name, str) and bool(name), f"a model config has no valid name: {name!r:.80}")
    return name


def _list(config: dict[str, Any], key: str) -> list:
    value = config.get(key)
    _expect(isinstance(value, list), f"'{key}' must be a list, got {value!r:.80}")
    return value


def deserialize(doc: Any, arrays: dict[str, np.ndarray]) -> Model:
    """Rebuild the model described by `doc`, with the weights in `arrays` (entry name -> array)."""
    _check_header(doc)
    reader = _Reader()
    model = reader.obj(doc["model"])
    _expect(isinstance(model, Model), f"the file describes a {type(model).__name__}, not a model")
    objects: list[Layer] = [o for o in reader.objects if o is not None]
    described = {id(o) for o in objects}
    slots = {number: _owned_slots(obj, described) for number, obj in enumerate(objects)}
    seen: set[tuple[int, int]] = set()
    for entry in _list(doc, "weights"):
        _expect(isinstance(entry, dict), f"bad weight entry {entry!r:.80}")
        number, file = entry.get("object"), entry.get("entry")
        _expect(isinstance(number, int) and number in slots, f"weight entry {entry!r:.80} names no object")
        match = re.fullmatch(rf"weights/{number}/(\d+)\.npy", str(file))
        _expect(match is not None, f"weight entry name {file!r:.80} is not weights/<object>/<n>.npy")
        k = int(match.group(1))  # type: ignore[union-attr]
        _expect(k < len(slots[number]), f"'{file}': layer '{objects[number].name}' has only "
                                        f"{len(slots[number])} weights")
        layer, name = slots[number][k]
        _expect(entry.get("name") == name and entry.get("layer") == layer.name,
                f"'{file}' is {entry.get('layer')}/{entry.get('name')} but the rebuilt model has {layer.name}/{name} "
                f"there")
        array = arrays[file]
        expected = layer.get_weight(name)
        _expect(array.shape == expected.shape and array.dtype == expected.dtype,
                f"weight {layer.name}/{name} in '{file}' is {array.dtype}{list(array.shape)}, the layer needs "
                f"{expected.dtype}{list(expected.shape)}")
        layer.assign_weight(name, array)
        seen.add((number, k))
    missing = [f"{objects[n].name}:{slots[n][k][0].name}/{slots[n][k][1]}"
               for n in slots for k in range(len(slots[n])) if (n, k) not in seen]
    _expect(not missing, f"the file has no values for weight(s) {', '.join(missing[:5])}")
    return model


def _check_header(doc: Any) -> None:
    _expect(isinstance(doc, dict) and doc.get("format") == FORMAT,
            f"{CONFIG_ENTRY} is not a kir model description (no \"format\": \"{FORMAT}\")")
    version = doc.get("format_version")
    _expect(isinstance(version, int) and 1 <= version <= FORMAT_VERSION,
            f"format version {version!r} is not supported (this kir reads versions 1..{FORMAT_VERSION}); "
            f"upgrade kir to load it")


def _check_entry_name(name: str) -> None:
    parts = re.split(r"[\\/]", name)
    if (name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name):
        raise LoadError(f"zip entry '{name}' has an absolute or escaping path; refusing the file")


def _read_array(zf: zipfile.ZipFile, name: str) -> np.ndarray:
    data = zf.read(name)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise LoadError(f"weight entry '{name}' holds pickled or object data ({exc}); kir never unpickles") from None
    except (OSError, EOFError) as exc:
        raise LoadError(f"weight entry '{name}' is not a valid .npy array: {exc}") from None
    if not isinstance(array, np.ndarray):
        raise LoadError(f"weight entry '{name}' is not a single .npy array")
    if array.dtype.kind not in _SAFE_DTYPE_KINDS or array.dtype.fields is not None:
        raise LoadError(f"weight entry '{name}' has dtype {array.dtype}; only numeric arrays are allowed")
    return array


def read_file(path: str) -> tuple[Any, dict[str, np.ndarray]]:
    """The parsed `model.json` and the weight arrays it lists, checked for safety."""
    with zipfile.ZipFile(path) as zf:
        names = [info.filename for info in zf.infolist()]
        for name in names:
            _check_entry_name(name)
        if len(set(names)) != len(names):
            raise LoadError("the zip holds duplicate entry names")
        if CONFIG_ENTRY not in names:
            raise LoadError(f"no '{CONFIG_ENTRY}' entry; this is not a .kir model file")
        if zf.getinfo(CONFIG_ENTRY).file_size > _MAX_JSON_BYTES:
            raise LoadError(f"'{CONFIG_ENTRY}' is implausibly large")
        try:
            doc = json.loads(zf.read(CONFIG_ENTRY).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LoadError(f"'{CONFIG_ENTRY}' is not valid JSON: {exc}") from None
        _check_header(doc)
        arrays: dict[str, np.ndarray] = {}
        for entry in _list(doc, "weights"):
            file = entry.get("entry") if isinstance(entry, dict) else None
            _expect(isinstance(file, str) and file in names, f"weight entry {file!r:.80} is not in the zip")
            arrays[file] = _read_array(zf, file)
    return doc, arrays


def load_model(filepath: str | os.PathLike) -> Model:
    """Load a `.kir` file. Never executes code from the file; every problem is a `LoadError`."""
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise LoadError(f"cannot load '{path}': no such file")
    try:
        doc, arrays = read_file(path)
        return deserialize(doc, arrays)
    except LoadError as exc:
        raise LoadError(f"cannot load '{path}': {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise LoadError(f"cannot load '{path}': not a valid zip file, it may be truncated or corrupt ({exc})") from None
    except OSError as exc:
        raise LoadError(f"cannot load '{path}': {exc}") from None
    except (KirError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise LoadError(f"cannot load '{path}': the model description is invalid "
                        f"({type(exc).__name__}: {exc})") from None


def clone_model(model: Model) -> Model:
    """A new model with the same architecture, names and copies of the weights."""
    doc, arrays = serialize(model)
    return deserialize(json.loads(json.dumps(doc)), {e["entry"]: a for e, a in zip(doc["weights"], arrays)})
