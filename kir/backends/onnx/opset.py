"""The opsets kir writes (13..21, default 17) and the ONNX element types of kir dtypes.

The lowering itself is `kir.backends.onnx.interpreter` (the walk and `lower`), `context`
(`OnnxContext`, which collects nodes and initializers), `table` (`LOWERINGS`) and `lowerings/`
(one module per op family).
"""

from __future__ import annotations

from onnx import TensorProto

from kir.errors import ConfigError

MIN_OPSET = 13
MAX_OPSET = 21
DEFAULT_OPSET = 17
"""Opset 17 runs on onnxruntime >= 1.11, TensorRT >= 8.6 and OpenVINO 2022+, and has
LayerNormalization; 13 is the oldest with axes-as-input Squeeze/Unsqueeze that kir needs."""

_DTYPES = {
    "float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "float64": TensorProto.DOUBLE,
    "int32": TensorProto.INT32, "int64": TensorProto.INT64, "bool": TensorProto.BOOL,
    "uint8": TensorProto.UINT8, "int8": TensorProto.INT8,
}


def onnx_dtype(dtype: str) -> int:
    """The TensorProto element type of a kir dtype string."""
    return _DTYPES[dtype]


def check_opset(opset: int) -> int:
    """`opset` if kir can write it, else a ConfigError naming the range."""
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ConfigError(f"opset must be an integer from {MIN_OPSET} to {MAX_OPSET} "
                          f"(default {DEFAULT_OPSET}), got {opset!r}")
    return opset
