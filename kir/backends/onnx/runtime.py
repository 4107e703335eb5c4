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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kir.backends.base import Backend
from kir.backends.cache import ArtifactCache
from kir.backends.feeds import check_feeds, order_feeds, run_in_batches
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


Provider = str | tuple[str, dict[str, Any]]
"""An onnxruntime provider: its name, or (name, options) as onnxruntime takes them, e.g.
('TensorrtExecutionProvider', {'trt_fp16_enable': True, 'trt_engine_cache_enable': True})."""


def _provider_entry(entry: Any) -> tuple[str, dict[str, Any] | None]:
    if isinstance(entry, str):
        return entry, None
    if (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str)
            and isinstance(entry[1], Mapping) and all(isinstance(k, str) for k in entry[1])):
        return entry[0], dict(entry[1])
    raise ConfigError(f"a provider is a name or a (name, options dict) pair like "
                      f"('CUDAExecutionProvider', {{'device_id': 0}}), got {entry!r}")


def resolve_providers(providers: Provider | Sequence[Provider] = "auto") -> list[Provider]:
    """'auto' -> TensorRT > CUDA > CPU among the available providers. Otherwise a name, a
    (name, options) pair, or a list of either, best first; names are checked against the
    installed onnxruntime and options passed through to it."""
    available = _ort().get_available_providers()
    if isinstance(providers, str) and providers == "auto":
        return [p for p in PREFERENCE if p in available] or list(available)
    single = isinstance(providers, str) or (isinstance(providers, tuple) and len(providers) == 2
                                            and isinstance(providers[1], Mapping))
    resolved: list[Provider] = []
    for entry in ([providers] if single else list(providers)):
        name, options = _provider_entry(entry)
        if name not in available:
            raise ConfigError(f"onnxruntime provider '{name}' is not available.{did_you_mean(name, available)} "
                              f"Available: {', '.join(available)}; use providers='auto' to pick the best")
        resolved.append(name if options is None else (name, options))
    if not resolved:
        raise ConfigError("providers is empty; give at least one, e.g. providers='auto'")
    return resolved


_NP_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
              "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
              "tensor(uint8)": "uint8", "tensor(int8)": "int8"}


def _check_ids(ids: np.ndarray, name: str, owner: str, bound: int) -> None:
    """Refuse token ids outside [0, bound): ONNX Gather would wrap negative ones silently."""
    if ids.size and (ids.min() < 0 or ids.max() >= bound):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise FeedError(f"input '{name}' of '{owner}' holds token id {int(bad)} outside [0, {bound}) "
                        f"(the Embedding's input_dim); map ids into range or raise input_dim")


class Runtime:
    """An onnxruntime session over an exported file (or a model, exported in memory).

    `Runtime('model.onnx').run(x)` takes a single array, a list in input order, or a dict keyed
    by input name, and returns the outputs as a list of arrays in output order."""

    def __init__(self, source: str | os.PathLike | Any, providers: Provider | Sequence[Provider] = "auto",
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
            from kir.backends.onnx.export import session_source, to_onnx

            given = hasattr(source, "SerializeToString")
            proto = source if given else to_onnx(source, **export_options)
            loadable, names, arrays = session_source(proto, keep=given)
            values = [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays]
            if names:  # weights near protobuf's 2 GB limit reach onnxruntime beside the graph's bytes
                session_options = session_options or ort.SessionOptions()
                session_options.add_external_initializers(names, values)
            self._external_weights = (arrays, values)  # onnxruntime reads these buffers: keep them alive
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
        self.metadata: dict[str, str] = dict(meta)
        """The file's metadata_props (docs/deploy.md: kir_labels, kir_layout, user keys)."""
        self.labels: list[str] | None = json.loads(meta["kir_labels"]) if "kir_labels" in meta else None
        """The class labels exported with the file (export(labels=...) / --labels), or None."""
        self._id_bounds = [(i, name, int(bounds[name])) for i, name in enumerate(self.input_names) if name in bounds]

    @property
    def provider(self) -> str:
        """The provider onnxruntime actually runs on first (e.g. CPUExecutionProvider)."""
        return self.session.get_providers()[0]

    @property
    def device(self) -> str:
        """Where the session computes: 'cuda' under the CUDA or TensorRT provider, else 'cpu'."""
        return "cuda" if self.provider in _DEVICE_PROVIDERS else "cpu"

    @property
    def device_id(self) -> int:
        """The GPU the session runs on (its provider's 'device_id' option; 0 on the CPU)."""
        options = self.session.get_provider_options().get(self.provider, {})
        return int(options.get("device_id", 0))

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
            _check_ids(arrays[index], name, self.name, bound)
        return run_in_batches(self._run_once, arrays, batch_size or self.batch_size)

    def _run_once(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        # host arrays in, host arrays out: plain run (IO binding would copy the same bytes)
        return self.session.run(self.output_names, dict(zip(self.input_names, arrays)))

    # ---------------------------------------------------------------- device-resident values
    def to_device(self, feeds: Any) -> list[Any]:
        """Checked feeds copied once to the session's device as OrtValues, for `run_on_device`
        (the token-id bounds are checked here, while the ids are still on the host)."""
        arrays = self.check_feeds(feeds)
        for index, name, bound in self._id_bounds:
            _check_ids(arrays[index], name, self.name, bound)
        ort = _ort()
        return [ort.OrtValue.ortvalue_from_numpy(a, self.device, self.device_id) for a in arrays]

    def run_on_device(self, feeds: Sequence[Any] | Mapping[str, Any], output_device: str | None = None) -> list[Any]:
        """Outputs as OrtValues left on `output_device` (default: the session's device) for inputs
        that are OrtValues already where the session wants them: with IO binding, a CUDA session
        chaining calls never copies through the host. `.numpy()` on a result copies it back."""
        ort = _ort()
        values = order_feeds("input", self.input_names, feeds, self.name)
        binding = self.session.io_binding()
        for name, value in zip(self.input_names, values):
            if not isinstance(value, ort.OrtValue):
                raise FeedError(f"input '{name}' of '{self.name}': run_on_device takes onnxruntime OrtValues "
                                f"(see Runtime.to_device), got {type(value).__name__}; use run() for arrays")
            binding.bind_ortvalue_input(name, value)
        device = output_device or self.device
        if device not in ("cpu", "cuda"):
            raise ConfigError(f"output_device must be 'cpu' or 'cuda', got {device!r}")
        for name in self.output_names:
            binding.bind_output(name, device, self.device_id if device == "cuda" else 0)
        self.session.run_with_iobinding(binding)
        return list(binding.get_outputs())

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
