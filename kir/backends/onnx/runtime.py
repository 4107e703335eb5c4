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
from collections.abc import Sequence
from typing import Any

import numpy as np

from kir.backends.base import Backend
from kir.backends.cache import ArtifactCache
from kir.backends.feeds import check_feeds, run_in_batches
from kir.errors import ConfigError, FeedError, MissingDependencyError, check_positive_int, did_you_mean
from kir.ir.graph import Graph
from kir.ir.spec import TensorSpec

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
        self.batch_size = None if batch_size is None else check_positive_int(batch_size, "batch_size")
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
        return check_feeds(self.input_names, self.input_specs, feeds, self.name, f"'{self.name}'")

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
        return run_in_batches(self._run_once, arrays, batch_size or self.batch_size)

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
    """`predict(graph, ...)` on onnxruntime: one session per graph structure and weights version,
    made on first use and kept in a small LRU cache."""

    name = "onnx"

    def __init__(self, providers: str | Sequence[str] = "auto") -> None:
        self.providers = providers
        self.sessions: ArtifactCache[Runtime] = ArtifactCache(maxsize=16)

    def runtime(self, graph: Graph) -> Runtime:
        """The cached Runtime of `graph` for its current weights."""
        return self.sessions.get((graph.structure_key(), graph.store.version),
                                 lambda: Runtime(graph, providers=self.providers))

    def predict(self, graph: Graph, inputs: list[np.ndarray], batch_size: int | None = None) -> list[np.ndarray]:
        return self.runtime(graph).run_arrays(inputs, batch_size)
