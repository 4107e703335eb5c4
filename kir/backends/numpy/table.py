"""The numpy backend's kernel table: op type -> kernel(attrs, inputs, params) -> outputs."""

from kir.backends.table import LoweringTable

KERNELS: LoweringTable = LoweringTable("numpy")
