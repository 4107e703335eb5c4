"""Keras model configs (functional, Sequential, nested, wrappers) -> kir models.

Reading replays the saved layer calls as Keras' `functional_from_config` does: every layer is made
first, then each layer's calls run in order as soon as their inputs exist. Node references differ
between the two config flavours, and both are read:

- Keras 3 (`inbound_nodes` of `{"args", "kwargs"}`): a reference `[layer, i, j]` counts only the calls
  inside this model; in `input_layers`/`output_layers` a nested Functional's count starts at 1
  (its own node is number 0).
- tf.keras 2 (`inbound_nodes` of `[[layer, i, j, kwargs], ...]`): a nested Functional or Sequential's
  count starts at 1 everywhere.

Before anything is built, the whole config is surveyed, so a model with several layers kir lacks gets
one error naming all of them.
"""

from __future__ import annotations

from typing import Any

from kir.errors import KirError, LoadError
from kir.layers.base import Layer
from kir.layers.input_layer import InputLayer
from kir.layers.wrappers import Bidirectional, TimeDistributed
from kir.models.functional import Model
from kir.models.keras_files import layer_map, values
from kir.models.sequential import Sequential

_FUNCTIONAL = ("Functional", "Model")


class UnsupportedLayersError(LoadError):
    """A Keras model holds layers kir lacks; `layers` lists them as (name, class name, reason)."""

    def __init__(self, message: str, layers: list[tuple[str, str, str]]) -> None:
        super().__init__(message)
        self.layers = layers


class _NotReady(Exception):
    """A call whose inputs do not exist yet (retried on the next round, as in Keras)."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise LoadError(message)


def parts(entry: Any, where: str = "the config") -> tuple[str, Any, str]:
    """(class name, config, name) of a serialized layer or model."""
    _expect(isinstance(entry, dict) and isinstance(entry.get("class_name"), str),
            f"{where}: expected a serialized layer (an object with class_name), got {str(entry)[:80]!r}")
    config = entry.get("config")
    cls = entry["class_name"]
    if cls == "Sequential" and isinstance(config, list):  # Keras 2.2: the config is the list of layers
        config = {"layers": config}
    _expect(isinstance(config, dict), f"{where}: layer of class {cls} has no config object")
    name = entry.get("name", config.get("name"))
    if name is None and cls in layer_map.MODEL_CLASSES:
        name = "sequential" if cls == "Sequential" else "model"
    _expect(isinstance(name, str) and bool(name), f"{where}: a {cls} has no valid name ({name!r:.40})")
    return cls, config, name


def _history_names(value: Any) -> set[str]:
    """The layers whose outputs a serialized Keras 3 call argument refers to."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        return {history[0]} if isinstance(history, list) and history and isinstance(history[0], str) else set()
    if isinstance(value, dict):
        return set().union(*(_history_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_history_names(v) for v in value))
    return set()


def mask_only_layers(config: dict[str, Any]) -> set[str]:
    """Keras op layers (module `keras.src.ops.*`) that only compute masks: Keras 3 records the ops
    of `compute_mask` (NotEqual for Embedding(mask_zero), Any for Masking, LogicalOr for merges)
    as layers whose outputs feed `mask=` call arguments. kir derives the same masks itself, so
    these layers are skipped and those arguments dropped (docs/ops.md, "Masks")."""
    entries = [e for e in config.get("layers") or [] if isinstance(e, dict)]
    candidates = {e.get("name") for e in entries
                  if isinstance(e.get("module"), str) and e["module"].startswith("keras.src.ops.")}
    uses: list[tuple[str, set[str]]] = []  # (consumer, layers it uses other than as a mask)
    for e in entries:
        for node in e.get("inbound_nodes") or []:
            if isinstance(node, dict):
                kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if k != "mask"}
                uses.append((e.get("name"), _history_names(node.get("args")) | _history_names(kwargs)))
    mask_only = candidates - _history_names(config.get("output_layers")) - {
        ref[0] for ref in config.get("output_layers") or [] if isinstance(ref, list) and ref}
    changed = True
    while changed:
        used = set().union(*(names for consumer, names in uses if consumer not in mask_only), set())
        changed = bool(mask_only & used)
        mask_only -= used
    return mask_only


def _list(config: dict[str, Any], key: str, where: str) -> list:
    value = config.get(key)
    _expect(isinstance(value, list), f"{where}: '{key}' must be a list, got {str(value)[:60]!r}")
    return value


# --------------------------------------------------------------------------- reading
class ConfigReader:
    """Builds kir models from Keras configs; `orders` keeps each model's layers in config order (the
    order Keras' weights file walks)."""

    def __init__(self, flavour: str, dim_names: dict[str, list] | None = None) -> None:
        self.flavour = flavour
        self.orders: dict[int, list[Layer]] = {}
        self.unsupported: list[tuple[str, str, str]] = []
        self.problems: list[str] = []
        self.dim_names = dict(dim_names or {})
        """kir's input dim names (extras.py) for the top-level model's inputs, by input name."""
        self._named_inputs: dict[int, list] = {}

    def read(self, entry: Any) -> Model:
        self.survey(entry)
        self._place_dim_names(entry)
        if self.unsupported:
            listed = ", ".join(f"'{n}' ({c})" for n, c, _ in self.unsupported)
            reasons = sorted({f"{c}: {r}" for _, c, r in self.unsupported if r != "kir has no such layer"})
            message = (f"{len(self.unsupported)} layer(s) have no kir equivalent: {listed}"
                       + (f" ({'; '.join(reasons)})" if reasons else "")
                       + (f"; also: {'; '.join(self.problems)}" if self.problems else ""))
            raise UnsupportedLayersError(message, list(self.unsupported))
        if self.problems:
            raise LoadError(f"the model uses what kir cannot run: {'; '.join(self.problems)}")
        cls, _, _ = parts(entry)
        _expect(cls in layer_map.MODEL_CLASSES, f"the file holds a {cls}, not a Functional or Sequential model")
        model = self.layer(entry)
        return model  # type: ignore[return-value]

    def _place_dim_names(self, entry: Any) -> None:
        """Pin each recorded dim-name list to the config of the top-level input it names."""
        if not self.dim_names:
            return
        _, config, name = parts(entry)
        inputs = {}
        for sub in config.get("layers") or []:
            if isinstance(sub, dict) and sub.get("class_name") == "InputLayer" and isinstance(sub.get("config"), dict):
                inputs[parts(sub)[2]] = sub["config"]
        unknown = sorted(set(self.dim_names) - set(inputs))
        _expect(not unknown, f"kir's extras name dims of input(s) {', '.join(unknown)}, which model '{name}' does "
                             f"not have (inputs: {', '.join(inputs) or 'none'})")
        self._named_inputs = {id(inputs[key]): names for key, names in self.dim_names.items()}

    # ------------------------------------------------------------------ survey
    def survey(self, entry: Any) -> None:
        cls, config, name = parts(entry)
        if cls in layer_map.MODEL_CLASSES:
            skipped = mask_only_layers(config) if cls in _FUNCTIONAL else set()
            for sub in _list(config, "layers", f"model '{name}'"):
                if not (isinstance(sub, dict) and sub.get("name") in skipped):
                    self.survey(sub)
            return
        reason = layer_map.unsupported_reason(cls, entry.get("module"), entry.get("registered_name"))
        if reason is not None:
            self.unsupported.append((name, cls.rsplit(">", 1)[-1], reason))
            return
        if cls == "InputLayer":
            self.problems.extend(self._input_problems(config, name))
            return
        for key in layer_map.WRAPPED_KEYS:
            if cls in layer_map.WRAPPERS and config.get(key) is not None:
                self.survey(config[key])
        self.problems.extend(layer_map.translate(cls, name, config, self.flavour)[1])

    @staticmethod
    def _input_problems(config: dict[str, Any], name: str) -> list[str]:
        return [f"input '{name}': {key}=True is not supported ({layer_map.REFUSED[key]})"
                for key in ("sparse", "ragged", "optional") if config.get(key)]

    # ------------------------------------------------------------------ building
    def layer(self, entry: Any) -> Layer:
        cls, config, name = parts(entry)
        if cls in _FUNCTIONAL:
            layer: Layer = self.functional(config, name)
        elif cls == "Sequential":
            layer = self.sequential(config, name)
        elif cls == "InputLayer":
            layer = self.input_layer(config, name)
        else:
            kwargs, _ = layer_map.translate(cls, name, config, self.flavour)
            try:
                if cls == "TimeDistributed":
                    layer = TimeDistributed(self.layer(config.get("layer")), **kwargs)
                elif cls == "Bidirectional":
                    layer = self.bidirectional(config, kwargs)
                else:
                    layer = layer_map.kir_classes()[cls](**kwargs)
            except KirError as exc:
                raise LoadError(f"layer '{name}' ({cls}): {exc}") from None
        if config.get("trainable") is False:
            layer.set_trainable(False)  # sub-layers carry their own flags in the file
        return layer

    def input_layer(self, config: dict[str, Any], name: str) -> InputLayer:
        shape = config.get("batch_shape", config.get("batch_input_shape"))
        _expect(isinstance(shape, list), f"input '{name}' has no batch_shape")
        try:
            return InputLayer(batch_shape=shape, dtype=values.policy_name(config.get("dtype")), name=name,
                              dim_names=self._named_inputs.get(id(config)))
        except KirError as exc:
            raise LoadError(f"input '{name}': {exc}") from None

    def bidirectional(self, config: dict[str, Any], kwargs: dict[str, Any]) -> Bidirectional:
        """Keras 3 writes the forward copy as `layer` (named forward_<name>) and re-adds the prefix."""
        cls, inner, name = parts(config.get("layer"), f"Bidirectional '{kwargs['name']}'")
        renamed = {**config["layer"], "config": {**inner, "name": name.removeprefix("forward_")}}
        renamed.pop("name", None)
        backward = config.get("backward_layer")
        return Bidirectional(self.layer(renamed), backward_layer=None if backward is None else self.layer(backward),
                             **kwargs)

    def sequential(self, config: dict[str, Any], name: str) -> Sequential:
        model = Sequential(name=name)
        order: list[Layer] = []
        for index, entry in enumerate(_list(config, "layers", f"Sequential '{name}'")):
            cls, sub, sub_name = parts(entry, f"Sequential '{name}'")
            if cls == "InputLayer":
                _expect(index == 0, f"Sequential '{name}': an InputLayer can only come first")
                model.add(self.input_layer(sub, sub_name))
                continue
            shape = sub.get("batch_input_shape", sub.get("batch_shape"))
            if index == 0 and isinstance(shape, list):  # Keras 2 without an InputLayer: '<first>_input'
                dtype = "int32" if cls == "Embedding" else values.policy_name(sub.get("dtype"))
                model.add(InputLayer(batch_shape=shape, dtype=dtype, name=f"{sub_name}_input"))
            layer = self.layer(entry)
            try:
                model.add(layer)
            except KirError as exc:
                raise LoadError(f"Sequential '{name}', layer '{sub_name}' ({cls}): {exc}") from None
            order.append(layer)
        build_shape = config.get("build_input_shape")
        if not model.inputs and order and isinstance(build_shape, list):
            model.build(tuple(build_shape))
        self.orders[id(model)] = order
        return model

    def functional(self, config: dict[str, Any], name: str) -> Model:
        skipped = mask_only_layers(config)
        entries = [e for e in _list(config, "layers", f"model '{name}'")
                   if not (isinstance(e, dict) and e.get("name") in skipped)]
        by_name: dict[str, tuple[Layer, str]] = {}
        order: list[Layer] = []
        for entry in entries:
            cls, _, layer_name = parts(entry, f"model '{name}'")
            _expect(layer_name not in by_name, f"model '{name}' lists two layers named '{layer_name}'")
            layer = self.layer(entry)
            by_name[layer_name] = (layer, cls)
            order.append(layer)
        legacy = any(isinstance(node, list) for entry in entries for node in entry.get("inbound_nodes") or [])
        replay = _Replay(name, by_name, legacy, skipped)
        replay.run(entries)
        inputs, single_in = replay.io(config.get("input_layers"), "input_layers")
        outputs, single_out = replay.io(config.get("output_layers"), "output_layers")
        try:
            model = Model(inputs=inputs[0] if single_in else inputs, outputs=outputs[0] if single_out else outputs,
                          name=name)
        except KirError as exc:
            raise LoadError(f"model '{name}': {exc}") from None
        self.orders[id(model)] = order
        return model


class _Replay:
    """The layer calls of one functional config, replayed in Keras' order."""

    def __init__(self, model: str, layers: dict[str, tuple[Layer, str]], legacy: bool,
                 mask_only: set[str] | None = None) -> None:
        self.model, self.layers, self.legacy = model, layers, legacy
        self.mask_only = mask_only or set()
        self.produced: dict[tuple[str, int], list] = {}
        self.calls: dict[str, int] = {}
        for name, (layer, _) in layers.items():
            if isinstance(layer, InputLayer):
                self.produced[(name, 0)] = [layer.output]

    def _shift(self, name: str, io: bool) -> int:
        """How many of the layer's node numbers precede the calls inside this model."""
        cls = self.layers[name][1]
        if self.legacy:
            return 1 if cls in layer_map.MODEL_CLASSES else 0
        return 1 if io and cls in _FUNCTIONAL else 0

    def tensor(self, ref: Any, io: bool = False) -> Any:
        _expect(isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str)
                and all(isinstance(i, int) and not isinstance(i, bool) for i in ref[1:3]),
                f"model '{self.model}': bad tensor reference {str(ref)[:80]!r}")
        name, node, index = ref[0], ref[1], ref[2]
        _expect(name in self.layers, f"model '{self.model}' refers to layer '{name}', which it does not list")
        key = (name, node - self._shift(name, io))
        if key not in self.produced:
            _expect(node - self._shift(name, io) >= 0 and not io,
                    f"model '{self.model}': no call {node} of layer '{name}' exists")
            raise _NotReady
        outputs = self.produced[key]
        _expect(0 <= index < len(outputs), f"model '{self.model}': call {node} of '{name}' has no output {index}")
        return outputs[index]

    def _value(self, value: Any) -> Any:
        """A Keras 3 call argument with its serialized tensors resolved."""
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history")
            return self.tensor(history)
        if isinstance(value, dict) and value.get("class_name") == "__tuple__":
            return self._value((value.get("config") or {}).get("value"))
        if isinstance(value, list):
            return [self._value(v) for v in value]
        if isinstance(value, dict) and "class_name" not in value:  # call kwargs such as initial_state
            return {k: self._value(v) for k, v in value.items()}
        return value

    def _legacy_value(self, value: Any) -> Any:
        """A tf.keras 2 call argument: node references [layer, node, tensor(, kwargs)] become tensors."""
        if (isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)
                and all(isinstance(v, int) for v in value[1:3])):
            return self.tensor(value)
        if isinstance(value, list):
            return [self._legacy_value(v) for v in value]
        return value

    def _call_arguments(self, node: Any, name: str) -> tuple[list, bool, dict[str, Any]]:
        if isinstance(node, list):  # tf.keras 2: [[layer, node, tensor, kwargs], ...]
            tensors = [self.tensor(ref) for ref in node]
            kwargs = next((ref[3] for ref in node if isinstance(ref, list) and len(ref) > 3), {})
            _expect(isinstance(kwargs, dict), f"model '{self.model}': bad call arguments of layer '{name}'")
            return tensors, len(tensors) > 1, {k: self._legacy_value(v) for k, v in kwargs.items()}
        _expect(isinstance(node, dict), f"model '{self.model}': bad call of layer '{name}': {str(node)[:80]!r}")
        args = self._value(node.get("args") or [])
        raw = node.get("kwargs") or {}
        if isinstance(raw, dict) and "mask" in raw and _history_names(raw["mask"]) <= self.mask_only:
            # a mask Keras computed with op layers kir skips: kir derives it (mask_only_layers)
            raw = {k: v for k, v in raw.items() if k != "mask"}
        kwargs = self._value(raw)
        _expect(isinstance(kwargs, dict), f"model '{self.model}': bad call arguments of layer '{name}'")
        if isinstance(args, list) and len(args) > 1 and getattr(self.layers[name][0], "positional_inputs", False):
            return list(args), True, kwargs  # MultiHeadAttention(query, value): replayed as its list form
        _expect(isinstance(args, list) and len(args) == 1,
                f"model '{self.model}': layer '{name}' is called with {len(args) if isinstance(args, list) else 0} "
                f"positional arguments; kir layers take one tensor or a list of tensors")
        first = args[0]
        return (list(first), True, kwargs) if isinstance(first, list) else ([first], False, kwargs)

    def _call(self, name: str, node: Any) -> None:
        layer = self.layers[name][0]
        tensors, many, kwargs = self._call_arguments(node, name)
        for key in list(kwargs):
            value = kwargs[key]
            no_mask = key == "mask" and isinstance(value, (list, tuple)) and all(v is None for v in value)
            if value is None or (key == "training" and value is False) or no_mask:
                del kwargs[key]
            elif key == "training" and value is True and getattr(layer, "training_by_default", False):
                del kwargs[key]  # the augmentation layers' signature default, which Keras' predict overrides too
            elif key == "training" or (key == "mask" and not layer.call_takes_mask):
                why = ("runs every layer in inference mode" if key == "training" else
                       "derives masks itself (Embedding(mask_zero=True), Masking) and takes no mask computed by "
                       "other layers")
                raise LoadError(f"model '{self.model}': layer '{name}' is called with {key}={str(value)[:40]}; kir "
                                f"{why}")
        from kir.layers.tensor import KTensor

        _expect(all(isinstance(t, KTensor) for t in tensors),
                f"model '{self.model}': layer '{name}' is called on something other than tensors")
        try:
            layer(tensors if many or layer.takes_list else tensors[0], **kwargs)
        except KirError as exc:
            raise LoadError(f"model '{self.model}': calling layer '{name}' failed: {exc}") from None
        count = self.calls.get(name, 0)
        self.produced[(name, count)] = list(layer._inbound_nodes[-1].outputs)
        self.calls[name] = count + 1

    def run(self, entries: list) -> None:
        pending = {}
        for entry in entries:
            _, _, name = parts(entry)
            nodes = entry.get("inbound_nodes") or []
            _expect(isinstance(nodes, list), f"model '{self.model}': inbound_nodes of '{name}' must be a list")
            if nodes and not isinstance(self.layers[name][0], InputLayer):
                pending[name] = list(nodes)
        while pending:
            progress = False
            for name in list(pending):
                nodes = pending[name]
                while nodes:
                    try:
                        self._call(name, nodes[0])
                    except _NotReady:
                        break
                    nodes.pop(0)
                    progress = True
                if not nodes:
                    del pending[name]
            _expect(progress, f"model '{self.model}': the calls of {', '.join(sorted(pending))} refer to calls that "
                              f"never happen (a loop or a missing layer)")

    def io(self, spec: Any, key: str) -> tuple[list, bool]:
        """The tensors of `input_layers` / `output_layers`, and whether the model takes/returns one."""
        if isinstance(spec, dict):
            spec = list(spec.values())
        _expect(isinstance(spec, list) and bool(spec), f"model '{self.model}': '{key}' is missing or empty")
        if isinstance(spec[0], str):
            return [self._io_tensor(spec)], True
        tensors = [self._io_tensor(ref) for ref in spec]
        return tensors, self.legacy and len(tensors) == 1

    def _io_tensor(self, ref: Any) -> Any:
        try:
            return self.tensor(ref, io=True)
        except _NotReady:  # pragma: no cover - tensor() raises LoadError for io references
            raise LoadError(f"model '{self.model}': {ref!r:.60} names a call that never happens") from None
