"""kir's intermediate representation: the Graph, its ParamStore, tensor specs, op rules and the
Interpreter every walker subclasses. Imports nothing of kir but kir.ir and kir.errors."""

from kir.ir.graph import Graph, Ref, Vertex
from kir.ir.params import ParamStore
from kir.ir.spec import TensorSpec, format_shape

__all__ = ["Graph", "ParamStore", "Ref", "TensorSpec", "Vertex", "format_shape"]
