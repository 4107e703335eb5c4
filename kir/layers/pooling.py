"""Pooling layers: windowed max/average (1D, 2D, 3D) and global pooling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kir.layers import _args, _masks
from kir.layers.base import Layer

if TYPE_CHECKING:
    from kir.ir.graph import Ref
    from kir.layers.emitter import Emitter
    from kir.layers.node import Node


class _Pooling(Layer):
    rank: int = 2

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        self.pool_size = _args.int_tuple(pool_size, self.rank, "pool_size", where)
        self.strides = self.pool_size if strides is None else _args.int_tuple(strides, self.rank, "strides", where)
        self.padding = _args.padding(padding, where)
        self.data_format = _args.data_format(data_format, where)

    def ir_attrs(self) -> dict[str, Any]:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    rank = 1


class AveragePooling1D(_Pooling):
    rank = 1


class MaxPooling2D(_Pooling):
    rank = 2

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(MaxPooling2D):
    pass


class MaxPooling3D(_Pooling):
    rank = 3

    def __init__(self, pool_size: Any = (2, 2, 2), strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(MaxPooling3D):
    pass


class _GlobalPooling(Layer):
    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = _args.data_format(data_format, f"{type(self).__name__} '{self.name}'")
        self.keepdims = bool(keepdims)

    def ir_attrs(self) -> dict[str, Any]:
        return {"data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over time; with a masked input, the mean of the real steps only (Keras'), lowered to
    Where / Reduce sum / divide primitives. The output carries no mask."""

    call_takes_mask = True

    def emit(self, emitter: Emitter, inputs: list[Ref], node: Node | None) -> list[Ref]:
        mask = emitter.input_mask(node)
        if mask is None:
            return super().emit(emitter, inputs, node)
        base = self._vertex_name(node)
        steps = 1 if self.data_format == "channels_last" else 2
        dtype = emitter.graph.spec(inputs[0]).dtype
        cond = emitter.op("ExpandDims", [mask], {"axis": 3 - steps}, self, name=f"{base}_mask")[0]
        zero = _masks.constant(emitter, self, 0, dtype, f"{base}_zero")
        x = emitter.op("Where", [cond, inputs[0], zero], {}, self, name=f"{base}_masked")[0]
        reduce = {"fn": "sum", "axis": [steps], "keepdims": self.keepdims}
        total = emitter.op("Reduce", [x], reduce, self, name=f"{base}_sum")[0]
        weights = emitter.op("Cast", [cond], {"dtype": dtype}, self, name=f"{base}_weights")[0]
        count = emitter.op("Reduce", [weights], reduce, self, name=f"{base}_count")[0]
        return emitter.op("Binary", [total, count], {"fn": "divide"}, self, name=base)


class GlobalAveragePooling2D(_GlobalPooling):
    pass


class GlobalMaxPooling1D(_GlobalPooling):
    pass


class GlobalMaxPooling2D(_GlobalPooling):
    pass


class GlobalAveragePooling3D(_GlobalPooling):
    pass


class GlobalMaxPooling3D(_GlobalPooling):
    pass


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
