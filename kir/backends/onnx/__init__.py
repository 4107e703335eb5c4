"""The ONNX backend: lowers a kir graph to an ONNX model and runs it with onnxruntime.

`export(model, 'model.onnx')` writes a checked, deterministic file (opset 13..21, default 17);
`Runtime('model.onnx')` runs one with the best available provider; `model.predict(x,
backend='onnx')` goes through `OnnxBackend`, which caches one session per model. Importing
this package does not import onnxruntime (the runtime imports it on first use).
"""

from kir.backends.onnx.export import EXTERNAL_DATA_THRESHOLD, ExportResult, export, to_onnx
from kir.backends.onnx.opset import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
from kir.backends.onnx.runtime import OnnxBackend, Runtime, resolve_providers
from kir.backends.onnx.table import LOWERINGS

__all__ = ["DEFAULT_OPSET", "EXTERNAL_DATA_THRESHOLD", "LOWERINGS", "MAX_OPSET", "MIN_OPSET", "ExportResult",
           "OnnxBackend", "Runtime", "export", "resolve_providers", "to_onnx"]
