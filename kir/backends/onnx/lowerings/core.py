"""Core ops: Dense (Gemm for rank 2, MatMul + Add above), Dropout/Identity (vanish), Flatten,
Reshape, Permute, Transpose, RepeatVector, Embedding (Gather with int64 ids)."""

from __future__ import annotations

from kir.backends.onnx.lowering import ONNX_LOWERINGS, LoweringContext
from kir.backends.onnx.lowerings.activations import activate
from kir.ir.graph import Vertex


def _bias(ctx: LoweringContext, vertex: Vertex) -> str | None:
    return ctx.param("bias") if vertex.attrs.get("use_bias", True) and ctx.has_param("bias") else None


@ONNX_LOWERINGS.register("Dense")
def dense(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    x, kernel, bias = inputs[0], ctx.param("kernel"), _bias(ctx, vertex)
    if vertex.outputs[0].rank == 2:
        y = ctx.op("Gemm", x, kernel, *([bias] if bias else []), suffix="Gemm")
    else:
        y = ctx.op("MatMul", x, kernel)
        if bias:
            y = ctx.op("Add", y, bias, suffix="bias")
    return [activate(ctx, vertex.attrs.get("activation"), y)]


@ONNX_LOWERINGS.register("Dropout", "Identity")
def identity(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    return [inputs[0]]


@ONNX_LOWERINGS.register("Flatten")
def flatten(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    x = inputs[0]
    rank = ctx.input_spec(0).rank
    if vertex.attrs.get("data_format") == "channels_first" and rank > 2:
        x = ctx.transpose(x, [0, *range(2, rank), 1], "to_channels_last")
    return [ctx.op("Flatten", x, axis=1)]


@ONNX_LOWERINGS.register("Reshape")
def reshape(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    return [ctx.reshape(inputs[0], [0, *(int(d) for d in vertex.attrs["target_shape"])])]


@ONNX_LOWERINGS.register("ReshapeFull")
def reshape_full(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    """ONNX Reshape semantics exactly: 0 copies the input dim, one -1 is inferred."""
    return [ctx.reshape(inputs[0], [int(d) for d in vertex.attrs["shape"]])]


@ONNX_LOWERINGS.register("Permute")
def permute(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    return [ctx.op("Transpose", inputs[0], perm=[0, *(int(d) for d in vertex.attrs["dims"])])]


@ONNX_LOWERINGS.register("Transpose")
def transpose(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    return [ctx.transpose(inputs[0], [int(p) for p in vertex.attrs["perm"]])]


@ONNX_LOWERINGS.register("RepeatVector")
def repeat_vector(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    """(b, f) -> (b, 1, f) -> Expand to (b, n, f)."""
    x = ctx.unsqueeze(inputs[0], [1])
    return [ctx.op("Expand", x, ctx.ints([1, int(vertex.attrs["n"]), 1]), suffix="Expand")]


@ONNX_LOWERINGS.register("Embedding")
def embedding(ctx: LoweringContext, vertex: Vertex, inputs: list[str]) -> list[str]:
    """Gather rows; int32/int64 ids are used as they are, others are cast to int64 (float ids
    truncate, like Keras' cast)."""
    ids = inputs[0]
    if ctx.input_spec(0).dtype not in ("int32", "int64"):
        ids = ctx.op("Cast", ids, suffix="ids_int64", to=7)
    return [ctx.gather_rows(ctx.param("embeddings"), ids)]
