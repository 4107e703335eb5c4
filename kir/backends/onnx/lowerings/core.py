"""Core ops: Dense (Gemm for rank 2, MatMul + Add above), Dropout/Identity (vanish), Flatten,
Reshape, Permute, Transpose, RepeatVector, Embedding (Gather with int64 ids)."""

from __future__ import annotations

from kir.backends.onnx.context import Attrs, Initializers, OnnxContext
from kir.backends.onnx.lowerings.activations import activate
from kir.backends.onnx.table import LOWERINGS


def _bias(attrs: Attrs, params: Initializers) -> str | None:
    return params["bias"] if attrs.get("use_bias", True) and "bias" in params else None


@LOWERINGS.register("Dense")
def dense(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    x, kernel, bias = inputs[0], params["kernel"], _bias(attrs, params)
    if ctx.vertex.outputs[0].rank == 2:
        y = ctx.op("Gemm", x, kernel, *([bias] if bias else []), suffix="Gemm")
    else:
        y = ctx.op("MatMul", x, kernel)
        if bias and ctx.fused and attrs.get("activation") == "gelu":  # onnxruntime's fused bias + exact GELU
            return [ctx.op("BiasGelu", y, bias, suffix="BiasGelu", domain="com.microsoft")]
        if bias:
            y = ctx.op("Add", y, bias, suffix="bias")
    return [activate(ctx, attrs.get("activation"), y)]


@LOWERINGS.register("Dropout", "Identity")
def identity(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [inputs[0]]


@LOWERINGS.register("ByMode")
def by_mode(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """ONNX graphs run inference: the inference value (the cleanup passes drop the training branch)."""
    return [inputs[0]]


@LOWERINGS.register("Flatten")
def flatten(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    x = inputs[0]
    rank = ctx.input_spec(0).rank
    if attrs.get("data_format") == "channels_first" and rank > 2:
        x = ctx.transpose(x, [0, *range(2, rank), 1], "to_channels_last")
    return [ctx.op("Flatten", x, axis=1)]


@LOWERINGS.register("Reshape")
def reshape(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.reshape(inputs[0], [0, *(int(d) for d in attrs["target_shape"])])]


@LOWERINGS.register("ReshapeFull")
def reshape_full(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """ONNX Reshape semantics exactly: 0 copies the input dim, one -1 is inferred."""
    return [ctx.reshape(inputs[0], [int(d) for d in attrs["shape"]])]


@LOWERINGS.register("Permute")
def permute(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.op("Transpose", inputs[0], perm=[0, *(int(d) for d in attrs["dims"])])]


@LOWERINGS.register("Transpose")
def transpose(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    return [ctx.transpose(inputs[0], [int(p) for p in attrs["perm"]])]


@LOWERINGS.register("RepeatVector")
def repeat_vector(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """(b, f) -> (b, 1, f) -> Expand to (b, n, f)."""
    x = ctx.unsqueeze(inputs[0], [1])
    return [ctx.op("Expand", x, ctx.ints([1, int(attrs["n"]), 1]), suffix="Expand")]


@LOWERINGS.register("Embedding")
def embedding(ctx: OnnxContext, attrs: Attrs, inputs: list[str], params: Initializers) -> list[str]:
    """Gather rows; int32/int64 ids are used as they are, others are cast to int64 (float ids
    truncate, like Keras' cast)."""
    ids = inputs[0]
    if ctx.input_spec(0).dtype not in ("int32", "int64"):
        ids = ctx.op("Cast", ids, suffix="ids_int64", to=7)
    return [ctx.gather_rows(params["embeddings"], ids)]
