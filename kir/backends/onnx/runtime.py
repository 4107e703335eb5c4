"""Running exported models in onnxruntime: `Runtime` and the 'onnx' predict backend.

onnxruntime is imported here, lazily, so `import kir.backends.onnx` stays light. Feeds are
checked against the file's declared inputs before onnxruntime sees them, so a wrong name, rank,
width or dtype is a FeedError naming the input and the expected shape instead of an
onnxruntime error. The per-call path is kept short (a service calling predict per request
needs tens of microseconds): well-formed float32 arrays pass through without a copy.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kir.backends.base import Backend
from kir.errors import ConfigError, FeedError, MissingDependencyError, did_you_mean
from kir.ir.spec import TensorSpec
from kir.models.feeds import batches, check_array, order_feeds, same_batch

if TYPE_CHECKING:
    from kir.models.functional import Model

PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
"""What providers='auto' picks among the available ones, best first."""

_DEVICE_PROVIDERS = {"TensorrtExecutionProvider", "CUDAExecutionProvider"}


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise MissingDependencyError("running ONNX models needs onnxruntime: pip install onnxruntime "
                                     "(or kir[gpu] for onnxruntime-gpu)") from exc
    return onnxruntime


def resolve_providers(providers: str | Sequence[str] = "auto") -> list[str]:
    """'auto' -> TensorRT > CUDA > CPU among the available providers; names are checked."""
    available = _ort().get_available_providers()
    if providers == "auto":
        return [p for p in PREFERENCE if p in available] or list(available)
    names = [providers] if isinstance(providers, str) else list(providers)
    for name in names:
        if name not in available:
            raise ConfigError(f"onnxruntime provider '{name}' is not available.{did_you_mean(name, available)} "
                              f"Available: {', '.join(available)}; use providers='auto' to pick the best")
    return names


_NP_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
              "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
              "tensor(uint8)": "uint8", "tensor(int8)": "int8"}


class Runtime:
    """An onnxruntime session over an exported file (or a model, exported in memory).

    `Runtime('model.onnx').run(x)` takes a single array, a list in input order, or a dict keyed
    by input name, and returns the outputs as a list of arrays in output order."""

    def __init__(self, source: str | os.PathLike | Any, providers: str | Sequence[str] = "auto",
                 batch_size: int | None = None, session_options: Any = None, **export_options: Any) -> None:
        ort = _ort()
        self.providers = resolve_providers(providers)
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if not os.path.isfile(path):
                raise ConfigError(f"Runtime: no ONNX file at '{path}'")
            loadable: Any = path
            self.name = os.path.basename(path)
        else:
            from kir.backends.onnx.export import to_onnx

            proto = source if hasattr(source, "SerializeToString") else to_onnx(source, **export_options)
            loadable = proto.SerializeToString()
            self.name = getattr(source, "name", None) or proto.graph.name
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size <= 0):
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.session = ort.InferenceSession(loadable, sess_options=session_options, providers=self.providers)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_specs = [
            TensorSpec(tuple(d if isinstance(d, int) else None for d in i.shape), _NP_DTYPES.get(i.type, "float32"))
            for i in self.session.get_inputs()
        ]
        meta = self.session.get_modelmeta().custom_metadata_map
        bounds = json.loads(meta.get("kir_embedding_ids", "{}"))
        self._id_bounds = [(i, name, int(bounds[name])) for i, name in enumerate(self.input_names) if name in bounds]
        self._binding = self.session.get_providers()[0] in _DEVICE_PROVIDERS

    @property
    def provider(self) -> str:
        """The provider onnxruntime actually runs on first (e.g. CPUExecutionProvider)."""
        return self.session.get_providers()[0]

    # ---------------------------------------------------------------- feeds
    def check_feeds(self, feeds: Any) -> list[np.ndarray]:
        """Input arrays in input order, checked and cast, or a FeedError naming the input."""
        names = self.input_names
        items = order_feeds("input", names, feeds, self.name)
        arrays = [check_array(item, spec, lambda name=name: f"input '{name}' of '{self.name}'")
                  for item, name, spec in zip(items, names, self.input_specs)]
        same_batch(arrays, names, self.name, "input")
        return arrays

    # ---------------------------------------------------------------- running
    def run(self, feeds: Any, batch_size: int | None = None) -> list[np.ndarray]:
        """Outputs (list, in output order) for `feeds`, `batch_size` samples per session run."""
        return self.run_arrays(self.check_feeds(feeds), batch_size)

    __call__ = run

    def run_arrays(self, arrays: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        """Outputs for arrays already checked and in input order (the predict fast path)."""
        for index, name, bound in self._id_bounds:
            ids = arrays[index]
            if ids.size and (ids.min() < 0 or ids.max() >= bound):
                bad = ids.min() if ids.min() < 0 else ids.max()
                raise FeedError(f"input '{name}' of '{self.name}' holds token id {int(bad)} outside [0, {bound}) "
                                f"(the Embedding's input_dim); map ids into range or raise input_dim")
        size = batch_size or self.batch_size
        n = arrays[0].shape[0] if arrays and arrays[0].ndim else 0
        if size is None or n <= size:
            return self._run_once(arrays)
        parts = [self._run_once([a[s] for a in arrays]) for s in batches(n, size)]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(self.output_names))]

    def _run_once(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if not self._binding:
            return self.session.run(self.output_names, dict(zip(self.input_names, arrays)))
        binding = self.session.io_binding()  # one host->device copy per input, outputs straight to host
        for name, array in zip(self.input_names, arrays):
            binding.bind_cpu_input(name, np.ascontiguousarray(array))
        for name in self.output_names:
            binding.bind_output(name, "cpu")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()

    def __repr__(self) -> str:
        return f"<Runtime {self.name} inputs={self.input_names} outputs={self.output_names} on {self.provider}>"


class OnnxBackend(Backend):
    """`model.predict(x, backend='onnx')`: one cached session per model, rebuilt when its
    weights change (the cache is keyed by `model.weights_version()`)."""

    name = "onnx"
    pipeline = "inference"

    def __init__(self, providers: str | Sequence[str] = "auto") -> None:
        self.providers = providers
        # id(model) -> (weak reference to the model, weights version, Runtime): a plain dict
        # lookup keeps the per-call cost down; entries go when their model is collected
        self._sessions: dict[int, tuple[weakref.ref, tuple, Runtime]] = {}

    def runtime(self, model: Model) -> Runtime:
        """The cached Runtime of `model` for its current weights."""
        version = model.weights_version()
        entry = self._sessions.get(id(model))
        if entry is None or entry[1] != version or entry[0]() is not model:
            key = id(model)
            ref = weakref.ref(model, lambda dead: self._forget(key, dead))
            entry = (ref, version, Runtime(model, providers=self.providers))
            self._sessions[key] = entry
        return entry[2]

    def _forget(self, key: int, dead: weakref.ref) -> None:
        entry = self._sessions.get(key)
        if entry is not None and entry[0] is dead:
            del self._sessions[key]

    def predict(self, model: Model, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        return self.runtime(model).run_arrays(inputs, batch_size)
