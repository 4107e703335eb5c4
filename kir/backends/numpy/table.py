"""The numpy backend's lowering table: op type -> lowering(ctx, attrs, inputs, params) -> outputs.

`inputs` are numpy arrays, `params` maps parameter roles to the store's arrays and `ctx` is a
`NumpyContext` (the vertex being run)."""

from kir.backends.table import LoweringTable

LOWERINGS: LoweringTable = LoweringTable("numpy")
