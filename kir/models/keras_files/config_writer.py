"""kir models -> Keras 3 model configs (what a `.keras` archive's `config.json` holds).

A Functional lists its layers in Keras' `model.layers` order (kir's `Model.layers` is that order, so
Keras' weights walk meets them as kir's does), each with its calls in this model as `{"args",
"kwargs"}`; a reference `[layer, i, j]` counts the calls inside this model, and in `input_layers` /
`output_layers` a nested Functional's count starts at 1, as Keras writes it.
"""

from __future__ import annotations

from typing import Any

from kir.errors import ConfigError
from kir.layers.base import Layer
from kir.layers.input_layer import InputLayer
from kir.layers.wrappers import Bidirectional, TimeDistributed
from kir.models.functional import Model
from kir.models.keras_files import layer_map, values
from kir.models.sequential import Sequential

_MODULES = {"Functional": "keras.src.models.functional", "Sequential": "keras"}


def _refuse_foreign(layer: Layer) -> None:
    cls = type(layer).__name__
    if layer_map.kir_classes().get(cls) is not type(layer) and not isinstance(layer, (Model, InputLayer)):
        raise ConfigError(f"layer '{layer.name}' is a {type(layer).__module__}.{cls}, not one of kir's own "
                          f"layer classes; only those can be written to a Keras file")
    if isinstance(layer, Model) and type(layer) not in (Model, Sequential):
        raise ConfigError(f"model '{layer.name}' is a {cls}; only Model and Sequential can be written to a Keras file")


class ConfigWriter:
    """Keras 3's serialized form of kir models and layers (what `config.json` holds)."""

    def entry(self, layer: Layer) -> dict[str, Any]:
        _refuse_foreign(layer)
        if isinstance(layer, Sequential):
            cls, config = "Sequential", self.sequential(layer)
        elif isinstance(layer, Model):
            cls, config = "Functional", self.functional(layer)
        elif isinstance(layer, InputLayer):
            cls = "InputLayer"
            config = {"batch_shape": list(layer.output.shape), "dtype": layer.dtype, "sparse": False,
                      "name": layer.name}
        else:
            cls, config = type(layer).__name__, layer_map.keras_config(layer)
            if isinstance(layer, TimeDistributed):
                config["layer"] = self.entry(layer.layer)
            elif isinstance(layer, Bidirectional):
                config["layer"] = self.entry(layer.forward_layer)
                config["backward_layer"] = self.entry(layer.backward_layer)
        return {"module": _MODULES.get(cls, "keras.layers"), "class_name": cls, "config": config,
                "registered_name": "Functional" if cls == "Functional" else None}

    def sequential(self, model: Sequential) -> dict[str, Any]:
        source = model._input_tensor
        layers = [] if source is None else [self.entry(source.node.layer)]
        config = {"name": model.name, "trainable": bool(model.trainable), "dtype": values.encode_policy("float32"),
                  "layers": layers + [self.entry(layer) for layer in model.layers]}
        if source is not None:
            config["build_input_shape"] = list(source.shape)
        return config

    def functional(self, model: Model) -> dict[str, Any]:
        own = {id(node) for node in model.internal_nodes()}
        rank: dict[int, int] = {}
        for layer in model.layers:
            for k, node in enumerate(n for n in layer._inbound_nodes if id(n) in own):
                rank[id(node)] = k

        def history(tensor: Any, io: bool) -> list:
            layer = tensor.node.layer
            index = 0 if isinstance(layer, InputLayer) else rank[id(tensor.node)]
            shift = 1 if io and isinstance(layer, Model) and not isinstance(layer, Sequential) else 0
            return [layer.name, index + shift, tensor.index]

        def keras_tensor(tensor: Any) -> dict[str, Any]:
            config = {"shape": list(tensor.shape), "dtype": tensor.dtype, "keras_history": history(tensor, False)}
            return {"class_name": "__keras_tensor__", "config": config}

        layers = []
        for layer in model.layers:
            entry = self.entry(layer)
            nodes = []
            for node in layer._inbound_nodes:
                if id(node) in own and any(t.index < 0 for t in node.masks.values()):
                    raise ConfigError(f"layer '{layer.name}' is called with an explicit mask that is another "
                                      f"tensor's mask (tensor.mask), which a Keras file cannot name; pass a model "
                                      f"input or a layer's output as the mask")
                if id(node) in own and node.inputs and hasattr(layer, "keras_call"):
                    nodes.append(layer.keras_call(node, keras_tensor))  # attention: positional tensors, flags
                elif id(node) in own and len(node.inputs) > 1 and not layer.takes_list and \
                        layer._accepts_several() and not layer._is_traced():
                    nodes.append({"args": [keras_tensor(node.inputs[0])],  # kir's [x, *states]: Keras' call form
                                  "kwargs": {"initial_state": [keras_tensor(t) for t in node.inputs[1:]]}})
                elif id(node) in own and node.inputs:
                    many = len(node.inputs) > 1 or layer.takes_list
                    arg = [keras_tensor(t) for t in node.inputs] if many else keras_tensor(node.inputs[0])
                    nodes.append({"args": [arg], "kwargs": {}})
                if id(node) in own and node.masks:  # explicit masks: Keras' mask= / value_mask= / key_mask=
                    extra = layer.mask_call_kwargs(node.masks)
                    nodes[-1]["kwargs"] = {**nodes[-1]["kwargs"], **{
                        k: [None if t is None else keras_tensor(t) for t in v] if isinstance(v, list)
                        else keras_tensor(v) for k, v in extra.items()}}
            layers.append({**entry, "name": layer.name, "inbound_nodes": nodes})

        def io(tensors: list, single: bool) -> list:
            refs = [history(t, True) for t in tensors]
            return refs[0] if single and len(refs) == 1 else refs

        return {"name": model.name, "trainable": bool(model.trainable), "layers": layers,
                "input_layers": io(model.inputs, model._single_input),
                "output_layers": io(model.outputs, model._single_output)}
