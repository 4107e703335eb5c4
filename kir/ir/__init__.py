"""kir's intermediate representation: symbolic tensors, nodes, the networkx Graph, op rules."""

from kir.ir.graph import Graph, Ref, Vertex
from kir.ir.node import Node
from kir.ir.params import ParamStore
from kir.ir.spec import TensorSpec, format_shape
from kir.ir.tensor import KTensor

__all__ = ["Graph", "KTensor", "Node", "ParamStore", "Ref", "TensorSpec", "Vertex", "format_shape"]
