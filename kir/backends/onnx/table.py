"""The ONNX lowering table: op type -> lowering(ctx, attrs, inputs, params) -> outputs.

`inputs` and outputs are ONNX tensor names, `params` maps parameter roles to initializer names
(made on first access, see `Initializers`) and `ctx` is the `OnnxContext` that collects nodes.
"""

from kir.backends.table import LoweringTable

LOWERINGS: LoweringTable = LoweringTable("onnx")
