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

import contextlib
import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from kir import fileio
from kir.errors import ConfigError, ExportError, KirError, LoadError
from kir.ir.interpret import MAX_NESTING, recursion_room
from kir.layers.base import Layer
from kir.layers.budget import weight_budget
from kir.layers.input_layer import InputLayer
from kir.layers.lambda_layer import TracedLayer
from kir.layers.trace import trace_json
from kir.mixed_precision import is_policy_name
from kir.models.functional import Model, nesting_depth
from kir.models.keras_files import safety
from kir.models.ordering import replay_order
from kir.models.sequential import Sequential
from kir.models.subclassed import is_subclassed
from kir.version import __version__

FORMAT = "kir-model"
FORMAT_VERSION = 2
TRACED_VERSION = 2
"""Files holding traced layers are version 2; the others stay version 1 (older kir reads them)."""
CONFIG_ENTRY = "model.json"
_LAYER_KEY = "__layer__"
_SAFE_DTYPE_KINDS = "biuf"
_ENTRY = re.compile(r"weights/(\d+)/(\d+)\.npy")
_CHUNK = 1 << 20
WEIGHT_MARGIN_BYTES = 1 << 20
"""Bytes of weights layers may create beyond what the file holds (tiny non-saved state)."""


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
        as_graph = isinstance(layer, Model) and (is_subclassed(layer) if not isinstance(layer, Sequential)
                                                 else bool(layer._added_losses))
        if as_graph:  # a subclassed model (or a Sequential with add_loss tensors) is stored as its functional graph
            cls_name = "Model"
        elif self.registry.get(cls_name) is not type(layer):
            raise ConfigError(
                f"layer '{layer.name}' is a {type(layer).__module__}.{cls_name}, not one of kir's own classes; "
                f"the .kir format stores only kir layers and models (loading never imports code)"
            )
        number = len(self.objects)
        self.ids[id(layer)] = number
        self.objects.append(layer)
        entry: dict[str, Any] = {"id": number, "class_name": cls_name, "trainable": bool(layer.trainable)}
        if isinstance(layer, Sequential) and not as_graph:
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
                  "weights": weights, "layers": sublayers, "calls": list(calls.values()),
                  **({"supports_masking": True} if layer.supports_masking else {})}
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
        # the model with its add_loss tensors as extra outputs: loss-only calls are off the output path
        source = model._with_outputs(list(model._added_losses))
        nodes = replay_order(source.internal_nodes())
        rank: dict[int, int] = {}
        counts: dict[int, int] = {}
        for node in nodes:
            if any(t.index < 0 for t in node.masks.values()):
                raise ConfigError(f"layer '{node.layer.name}' is called with an explicit mask that is another "
                                  f"tensor's mask (tensor.mask), which the .kir format cannot store; pass a "
                                  f"model input or a layer's output as the mask")
            rank[id(node)] = counts.get(id(node.layer), 0)
            counts[id(node.layer)] = rank[id(node)] + 1

        def link(tensor: Any) -> list:
            node = tensor.node
            index = 0 if isinstance(node.layer, InputLayer) else rank[id(node)]
            return [node.layer.name, index, tensor.index]

        losses = {"added_losses": [link(t) for t in model._added_losses]} if model._added_losses else {}
        return {
            "name": model.name,
            "layers": [self.obj(layer) for layer in source.layers],
            "nodes": [{"layer": n.layer.name, "inbound": [link(t) for t in n.inputs], **_call_flags(n),
                       **({"masks": {str(i): link(t) for i, t in n.masks.items()}} if n.masks else {})}
                      for n in nodes],
            "inputs": [link(t) for t in model.inputs],
            "outputs": [link(t) for t in model.outputs],
            "single_input": bool(model._single_input),
            "single_output": bool(model._single_output),
            **losses,
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
    policy = dtype_policy_of(model)
    if policy != "float32":  # float32 files stay as they were (older kir reads them)
        doc["dtype_policy"] = policy
    return doc, [array for _, array in table]


def dtype_policy_of(model: Model) -> str:
    """The mixed precision policy `model` trains under: its compile's, else the one it was loaded
    with, else the global policy (saved so a loaded model trains the same without set_global_policy)."""
    from kir.mixed_precision import global_policy

    policy = getattr(getattr(model, "compiled", None), "policy", None)
    return getattr(policy, "name", None) or model.saved_dtype_policy or global_policy().name


def _write_zip(handle: Any, doc: dict[str, Any], arrays: list[np.ndarray]) -> None:
    with zipfile.ZipFile(handle, "w") as zf:
        # compact, not indented: indentation makes the text (and json's pure-Python indenting
        # encoder) quadratic in the nesting depth (issue 11: depth 1000 wrote 106 MB of spaces)
        zf.writestr(CONFIG_ENTRY, json.dumps(doc), compress_type=zipfile.ZIP_DEFLATED)
        for entry, array in zip(doc["weights"], arrays):
            with zf.open(entry["entry"], "w", force_zip64=True) as f:
                # (ascontiguousarray makes 0-d arrays 1-d; Attention's `scale` is a scalar weight)
                np.save(f, np.ascontiguousarray(array).reshape(np.shape(array)), allow_pickle=False)


def save_model(model: Model, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write `model` to `filepath` atomically (kir.fileio): the old file stays until the new one is complete."""
    path = os.fspath(filepath)
    if os.path.isdir(path):
        raise ExportError(f"cannot save model '{model.name}' to '{path}': it is a directory; give a file name "
                          f"such as '{os.path.join(path, model.name + '.kir')}'")
    fileio.check_target(path, f"model '{model.name}'", overwrite)
    doc, arrays = serialize(model)
    with fileio.atomic_write(path, f"model '{model.name}'", overwrite) as handle:
        _write_zip(handle, doc, arrays)


# --------------------------------------------------------------------------- reading
class _Reader:
    """Rebuilds objects from the JSON description by replaying the saved layer calls."""

    def __init__(self) -> None:
        self.registry = class_registry()
        self.objects: list[Layer | None] = []

    def obj(self, entry: Any) -> Layer:
        if not isinstance(entry, dict):  # messages built only on failure: a model's repr is its whole file
            raise LoadError(f"an object description must be a JSON object, got {entry!r:.80}")
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
            layer.set_trainable(bool(entry["trainable"]))  # the sub-layers' own flags were restored already
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
        name = _name(config)
        stack: list[Layer] = []
        if config.get("input") is not None:
            source = self.obj(config["input"])
            _expect(isinstance(source, InputLayer), "a Sequential's input must be an InputLayer")
            stack.append(source)
        stack += [self.obj(item) for item in _list(config, "layers")]
        return Sequential(stack, name=name)  # one graph build for the whole stack (linear time)

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
            if not (isinstance(node, dict) and node.get("layer") in by_name):
                raise LoadError(f"model '{name}' calls a layer it does not list: {node!r:.80}")
            layer = by_name[node["layer"]]
            inputs = [resolve(link) for link in _list(node, "inbound")]
            _expect(bool(inputs), f"model '{name}': a call of layer '{layer.name}' has no inputs")
            call = node.get("call") or {}  # per-call flags (attention's use_causal_mask, ...), bools only
            _expect(isinstance(call, dict) and all(isinstance(k, str) and isinstance(v, bool) for k, v in call.items())
                    and set(call) <= _CALL_FLAGS,
                    f"model '{name}': bad call flags {call!r:.80} of layer '{layer.name}'")
            masks = node.get("masks") or {}  # explicit masks: input index -> tensor link
            _expect(isinstance(masks, dict) and all(isinstance(k, str) and k.isdigit() for k in masks),
                    f"model '{name}': bad explicit masks {masks!r:.80} of layer '{layer.name}'")
            kwargs = layer.mask_call_kwargs({int(k): resolve(v) for k, v in masks.items()})
            layer(inputs if layer.takes_list or len(inputs) > 1 else inputs[0], **call, **kwargs)
            produced[(layer.name, calls.get(layer.name, 0))] = list(layer._inbound_nodes[-1].outputs)
            calls[layer.name] = calls.get(layer.name, 0) + 1
        inputs = [resolve(link) for link in _list(config, "inputs")]
        outputs = [resolve(link) for link in _list(config, "outputs")]
        single_in = bool(config.get("single_input", True)) and len(inputs) == 1
        single_out = bool(config.get("single_output", True)) and len(outputs) == 1
        model = Model(inputs=inputs[0] if single_in else inputs, outputs=outputs[0] if single_out else outputs,
                      name=name)
        losses = [resolve(link) for link in _list(config, "added_losses")] if "added_losses" in config else []
        if losses:
            try:
                model.add_loss(losses)
            except KirError as exc:
                raise LoadError(f"model '{name}': its added losses do not fit the model: {exc}") from None
        return model


_CALL_FLAGS = {"use_causal_mask", "return_attention_scores"}
"""The per-call flags a node may record (a layer with `call_flags(node)` gives them)."""


def _call_flags(node: Any) -> dict[str, Any]:
    flags = node.layer.call_flags(node) if hasattr(node.layer, "call_flags") else {}
    return {"call": flags} if flags else {}


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise LoadError(message)


def _name(config: dict[str, Any]) -> str:
    name = config.get("name")
    _expect(isinstance(name, str) and bool(name), f"a model config has no valid name: {name!r:.80}")
    return name


def _list(config: dict[str, Any], key: str) -> list:
    value = config.get(key)
    if not isinstance(value, list):  # the message only on failure: repr of a 400k-item value is not free
        raise LoadError(f"'{key}' must be a list, got {value!r:.80}")
    return value


def _json_depth(value: Any) -> int:
    """How deeply parsed JSON nests lists/objects (iterative)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def deserialize(doc: Any, arrays: Mapping[str, np.ndarray] | WeightSource) -> Model:
    """Rebuild the model described by `doc`, with the weights in `arrays` (entry name -> array, or a
    `WeightSource` that reads each entry once it knows the array the layer needs)."""
    _check_header(doc)
    source = arrays if isinstance(arrays, WeightSource) else _Arrays(arrays)
    reader = _Reader()
    budget = weight_budget(source.budget, source.what) if source.budget is not None else contextlib.nullcontext()
    # rebuilding recurses once per nested model (a model takes >= 2 JSON levels); deeper than
    # MAX_NESTING models is the RecursionError that load_model reports as "nests too deeply"
    with budget, recursion_room(min(_json_depth(doc["model"]) // 2 + 1, MAX_NESTING)):
        model = reader.obj(doc["model"])
    _expect(isinstance(model, Model), f"the file describes a {type(model).__name__}, not a model")
    policy = doc.get("dtype_policy", "float32")
    _expect(is_policy_name(policy), f"dtype_policy {policy!r:.40} is not a policy kir knows (float32, "
                                    f"mixed_float16, mixed_bfloat16)")
    model.saved_dtype_policy = None if policy == "float32" else policy
    levels = nesting_depth(model)
    if levels > MAX_NESTING:
        raise LoadError(f"the model nests {levels} models/wrappers deep; kir rebuilds at most {MAX_NESTING} "
                        f"levels (kir.ir.interpret.MAX_NESTING)")
    objects: list[Layer] = [o for o in reader.objects if o is not None]
    described = {id(o) for o in objects}
    slots = {number: _owned_slots(obj, described) for number, obj in enumerate(objects)}
    seen: set[tuple[int, int]] = set()
    for entry in _list(doc, "weights"):
        if not isinstance(entry, dict):
            raise LoadError(f"bad weight entry {entry!r:.80}")
        number, file = entry.get("object"), entry.get("entry")
        if not (isinstance(number, int) and number in slots):
            raise LoadError(f"weight entry {entry!r:.80} names no object")
        match = _ENTRY.fullmatch(str(file))
        if match is None or int(match.group(1)) != number:
            raise LoadError(f"weight entry name {file!r:.80} is not weights/<object>/<n>.npy")
        k = int(match.group(2))
        if (number, k) in seen:
            raise LoadError(f"weight entry '{file}' is listed twice")
        if k >= len(slots[number]):
            raise LoadError(f"'{file}': layer '{objects[number].name}' has only {len(slots[number])} weights")
        layer, name = slots[number][k]
        if entry.get("name") != name or entry.get("layer") != layer.name:
            raise LoadError(f"'{file}' is {entry.get('layer')}/{entry.get('name')} but the rebuilt model has "
                            f"{layer.name}/{name} there")
        array = source.read(file, layer.get_weight(name), f"weight {layer.name}/{name} in '{file}'")
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


def _mismatch(what: str, dtype: Any, shape: tuple, expected: np.ndarray) -> str:
    return f"{what} is {dtype}{list(shape)}, the layer needs {expected.dtype}{list(expected.shape)}"


class WeightSource:
    """Where `deserialize` gets weight arrays: `read(entry, expected, what)` returns the entry's
    array after checking it is exactly `expected`'s dtype and shape; `budget` bounds the bytes of
    weights the layers may create meanwhile (None: no bound)."""

    budget: int | None = None
    what = "the file"

    def read(self, entry: str, expected: np.ndarray, what: str) -> np.ndarray:
        raise NotImplementedError


class _Arrays(WeightSource):
    """Arrays already in memory (clone_model)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = arrays

    def read(self, entry: str, expected: np.ndarray, what: str) -> np.ndarray:
        array = self.arrays[entry]
        if array.shape != expected.shape or array.dtype != expected.dtype:
            raise LoadError(_mismatch(what, array.dtype, array.shape, expected))
        return array


class ZipWeights(WeightSource):
    """Weight entries of an open `.kir` zip, read one at a time: the `.npy` header is checked against
    the array the layer needs *before* any data is read, and the data is streamed in chunks up to
    exactly the declared size (a deflate bomb never expands past what the layer needs)."""

    def __init__(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], entries: list[str]) -> None:
        self.zf, self.infos = zf, infos
        listed = set(entries)
        for entry in listed:  # declared sizes and deflate ratios checked before anything is built
            safety.checked_info(zf, entry, safety.MAX_WEIGHTS_BYTES)
        self.budget = sum(infos[e].file_size for e in listed) + WEIGHT_MARGIN_BYTES
        self.what = "the file"

    def read(self, entry: str, expected: np.ndarray, what: str) -> np.ndarray:
        info = self.infos[entry]
        with self.zf.open(info) as f:
            dtype, shape, fortran = _npy_header(f, entry)
            if dtype != expected.dtype or shape != expected.shape:
                raise LoadError(_mismatch(what, dtype, shape, expected))
            header = f.tell()
            nbytes = expected.nbytes
            if info.file_size < header + nbytes:
                raise LoadError(f"weight entry '{entry}' is truncated: it holds {max(info.file_size - header, 0)} "
                                f"of the {nbytes} data bytes its header declares")
            if info.file_size > header + nbytes:
                raise LoadError(f"weight entry '{entry}' holds {info.file_size - header - nbytes} bytes after the "
                                f"array its header declares")
            data = np.empty(nbytes, np.uint8)
            view, done = memoryview(data), 0
            while done < nbytes:
                chunk = f.read(min(_CHUNK, nbytes - done))
                if not chunk:
                    raise LoadError(f"weight entry '{entry}' is truncated: it holds {done} of the {nbytes} data bytes "
                                    f"its header declares")
                view[done:done + len(chunk)] = chunk
                done += len(chunk)
            f.read(1)  # reach the end of the entry: zipfile checks its CRC there
        array = data.view(dtype)
        return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def _npy_header(f: Any, entry: str) -> tuple[np.dtype, tuple, bool]:
    """(dtype, shape, fortran_order) from the `.npy` header at the start of `f` (nothing else read)."""
    magic = f.read(6)
    if magic[:1] == b"\x80" or magic[:1] in (b"(", b"c", b"]", b"}"):
        raise LoadError(f"weight entry '{entry}' holds pickled or object data (not a .npy array); kir never "
                        f"unpickles")
    if magic != b"\x93NUMPY":
        raise LoadError(f"weight entry '{entry}' is not a valid .npy array (no .npy magic; the file may be corrupt)")
    version = tuple(f.read(2))
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise LoadError(f"weight entry '{entry}' has .npy format version {version}; kir reads 1.0 and 2.0")
    except LoadError:
        raise
    except (ValueError, SyntaxError, TypeError, EOFError) as exc:
        raise LoadError(f"weight entry '{entry}' has a corrupt .npy header ({exc})") from None
    if dtype.hasobject:
        raise LoadError(f"weight entry '{entry}' holds pickled or object data (dtype {dtype}); kir never unpickles")
    if dtype.kind not in _SAFE_DTYPE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise LoadError(f"weight entry '{entry}' has dtype {dtype}; only numeric arrays are allowed")
    return dtype, tuple(shape), bool(fortran)


def _read_doc(zf: zipfile.ZipFile) -> tuple[Any, dict[str, zipfile.ZipInfo]]:
    """The parsed, size- and depth-checked `model.json` and the zip's entries by name."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        _check_entry_name(info.filename)
        if info.filename in infos:
            raise LoadError("the zip holds duplicate entry names")
        infos[info.filename] = info
    if CONFIG_ENTRY not in infos:
        raise LoadError(f"no '{CONFIG_ENTRY}' entry; this is not a .kir model file")
    limit = safety.json_bytes_limit()
    if infos[CONFIG_ENTRY].file_size > limit:
        raise LoadError(f"'{CONFIG_ENTRY}' declares {infos[CONFIG_ENTRY].file_size} bytes, over the limit of {limit} "
                        f"(raise it with {safety.JSON_BYTES_ENV}=<bytes> if the file is trusted)")
    with zf.open(infos[CONFIG_ENTRY]) as f:  # capped at the declared size, itself under the limit (no ratio rule:
        data = f.read(infos[CONFIG_ENTRY].file_size + 1)  # a large regular model's JSON compresses very well)
    if len(data) != infos[CONFIG_ENTRY].file_size:
        raise LoadError(f"'{CONFIG_ENTRY}' holds {len(data)} bytes but declares {infos[CONFIG_ENTRY].file_size}")
    doc = safety.parse_json(data, f"'{CONFIG_ENTRY}'", limit, safety.json_depth_limit(safety.MAX_KIR_JSON_DEPTH))
    _check_header(doc)
    for entry in _list(doc, "weights"):
        file = entry.get("entry") if isinstance(entry, dict) else None
        if not (isinstance(file, str) and file in infos):
            raise LoadError(f"weight entry {file!r:.80} is not in the zip")
    return doc, infos


def read_file(path: str) -> tuple[Any, dict[str, np.ndarray]]:
    """The parsed `model.json` and every weight array it lists as stored (for inspection tools;
    `load_model` reads each array only once it knows the shape the layer needs)."""
    try:
        with _open_regular(path) as handle, zipfile.ZipFile(handle) as zf:
            doc, infos = _read_doc(zf)
            arrays = {}
            for entry in {e["entry"] for e in doc["weights"]}:
                with zf.open(infos[entry]) as f:
                    dtype, shape, _ = _npy_header(f, entry)
                safety.checked_info(zf, entry, safety.MAX_WEIGHTS_BYTES)
                arrays[entry] = ZipWeights(zf, infos, []).read(entry, np.empty(shape, dtype), f"'{entry}'")
    except LoadError as exc:
        raise LoadError(f"cannot read '{path}': {exc}") from None
    return doc, arrays


def _open_regular(path: str) -> Any:
    """`path` opened for reading if it is a regular file (a FIFO or device would block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise LoadError("no such file") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LoadError("it is not a regular file (a pipe, device or socket); kir reads only regular files")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def load_model(filepath: str | os.PathLike) -> Model:
    """Load a `.kir` file. Never executes code from the file; every problem is a `LoadError`.
    Bounded: what it allocates is at most the weights the file declares plus a fixed margin."""
    path = os.fspath(filepath)
    try:
        with _open_regular(path) as handle, zipfile.ZipFile(handle) as zf:
            doc, infos = _read_doc(zf)
            return deserialize(doc, ZipWeights(zf, infos, [e["entry"] for e in doc["weights"]]))
    except LoadError as exc:
        raise LoadError(f"cannot load '{path}': {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise LoadError(f"cannot load '{path}': not a valid zip file, it may be truncated or corrupt ({exc})") from None
    except NotImplementedError as exc:
        raise LoadError(f"cannot load '{path}': it uses a zip feature kir does not read ({exc})") from None
    except MemoryError:
        raise LoadError(f"cannot load '{path}': the model it describes does not fit in memory") from None
    except RecursionError:
        raise LoadError(f"cannot load '{path}': the model nests too deeply to rebuild (kir rebuilds at most "
                        f"{MAX_NESTING} nested models)") from None
    except OSError as exc:
        raise LoadError(f"cannot load '{path}': {exc.strerror or exc}") from None
    except (KirError, KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise LoadError(f"cannot load '{path}': the model description is invalid "
                        f"({type(exc).__name__}: {exc})") from None


def clone_model(model: Model) -> Model:
    """A new model with the same architecture, names and copies of the weights."""
    doc, arrays = serialize(model)
    return deserialize(json.loads(json.dumps(doc)), {e["entry"]: a for e, a in zip(doc["weights"], arrays)})
