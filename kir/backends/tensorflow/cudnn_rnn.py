"""LSTM/GRU on TensorFlow's fused cuDNN kernel (`tf.raw_ops.CudnnRNNV3`), as Keras 3 does.

Keras 3's TensorFlow backend (keras/src/backend/tensorflow/rnn.py) runs an LSTM/GRU on cuDNN when
TensorFlow sees a GPU and the layer's arguments allow it (tanh/sigmoid, no unroll, a bias, GRU
`reset_after`, no recurrent dropout); `use_cudnn=False` opts out, `use_cudnn=True` makes an
impossible configuration an error. The same rules decide here (`unsupported_reason`, a pure
function), the params blob is packed as Keras packs it (`lstm_params`/`gru_params`), and the
op is called with the same arguments (batch-major, sequence lengths from the mask).

Differences from Keras 3, both so that the fused path computes exactly what the scan (and the
numpy/ONNX inference backends) compute: a mask that is not right-padded, or that masks a whole
sequence, falls back to the scan at run time (`tf.cond`, as tf.keras 2 did) where Keras 3 fails a
`tf.Assert`; and with `return_sequences` the padded steps repeat the last real output (zeros
with `zero_output_for_mask`) where Keras' cuDNN path leaves zeros. cuDNN ops do not compile under
XLA, so a model with a fused layer trains without `jit_compile` (`model_uses_cudnn`), as Keras'
`supports_jit = False` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import tensorflow as tf

from kir.errors import ConfigError
from kir.ir.graph import Graph

#: The dtypes CudnnRNNV3 takes (Keras 3 relies on the op refusing others; kir decides up front).
CUDNN_DTYPES = ("float16", "float32", "float64")
#: The recurrent ops with a fused kernel.
FUSED_OPS = ("LSTM", "GRU")


@lru_cache(maxsize=1)
def gpu_available() -> bool:
    """Keras' `_is_gpu_available`: TensorFlow sees a GPU (logical devices; fixed per process)."""
    return bool(tf.config.list_logical_devices("GPU"))


def unsupported_reason(op: str, attrs: Mapping[str, Any], dtype: str = "float32",
                       gpu: bool | None = None) -> str | None:
    """Why the fused kernel cannot run this LSTM/GRU vertex, or None when it can (Keras'
    `cudnn_ok` + its recurrent_dropout rule + the op's dtypes). `gpu` overrides the device check."""
    if op not in FUSED_OPS:
        return f"{op} has no cuDNN kernel"
    checks = [
        (attrs.get("activation", "tanh") != "tanh", "activation must be 'tanh'"),
        (attrs.get("recurrent_activation", "sigmoid") != "sigmoid", "recurrent_activation must be 'sigmoid'"),
        (bool(attrs.get("unroll", False)), "unroll must be False"),
        (not attrs.get("use_bias", True), "use_bias must be True"),
        (op == "GRU" and not attrs.get("reset_after", True), "reset_after must be True"),
        (float(attrs.get("recurrent_dropout", 0.0)) != 0.0, "recurrent_dropout must be 0"),
        (dtype not in CUDNN_DTYPES, f"compute dtype {dtype} is not one of {', '.join(CUDNN_DTYPES)}"),
        (not (gpu_available() if gpu is None else gpu), "TensorFlow sees no GPU"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    return None


def use_fused(op: str, attrs: Mapping[str, Any], dtype: str, layer: str | None) -> bool:
    """The decision for one vertex: `use_cudnn` False never, "auto" when possible, True when
    possible else a ConfigError naming the layer (Keras' ValueError)."""
    choice = attrs.get("use_cudnn", "auto")
    if choice is False:
        return False
    reason = unsupported_reason(op, attrs, dtype)
    if reason is not None and choice is True:
        raise ConfigError(f"{op} '{layer}': use_cudnn=True was specified, but cuDNN is not supported for this "
                          f"layer configuration with this backend ({reason}). Pass use_cudnn='auto' to fall back "
                          f"to a non-cuDNN implementation.")
    return reason is None


def model_uses_cudnn(graph: Graph, dtype: str = "float32", gpu: bool | None = None) -> bool:
    """Whether some LSTM/GRU of `graph` (nested models included) would run fused: such a model
    is not XLA-compatible (Keras sets the layer's `supports_jit = False`)."""
    for _, vertex in graph.vertices():
        if vertex.subgraph is not None and model_uses_cudnn(vertex.subgraph, dtype, gpu):
            return True
        if (vertex.op in FUSED_OPS and vertex.attrs.get("use_cudnn", "auto") is not False
                and unsupported_reason(vertex.op, vertex.attrs, dtype, gpu) is None):
            return True
    return False


def _pack(weights: Sequence[tf.Tensor], biases: Sequence[tf.Tensor]) -> tf.Tensor:
    """Keras' `_standardize_cudnn_weights(transpose_weights=True)`: each gate matrix transposed
    and flattened, then the biases, in one 1-D blob."""
    return tf.concat([tf.reshape(tf.transpose(w), [-1]) for w in weights]
                     + [tf.reshape(b, [-1]) for b in biases], axis=0)


def lstm_params(kernel: tf.Tensor, recurrent_kernel: tf.Tensor, bias: tf.Tensor, rocm: bool = False) -> tf.Tensor:
    """cuDNN's LSTM blob from Keras' kernel (in, 4u), recurrent kernel (u, 4u), bias (4u), gates
    i, f, c, o: cuDNN's input biases are zeros and Keras' bias is its recurrent one; MIOpen (ROCm)
    orders the gates i, f, o, c."""
    weights = tf.split(kernel, 4, axis=1) + tf.split(recurrent_kernel, 4, axis=1)
    biases = tf.split(tf.concat([tf.zeros_like(bias), bias], 0), 8)
    if rocm:
        order = (0, 1, 3, 2, 4, 5, 7, 6)
        weights, biases = [weights[i] for i in order], [biases[i] for i in order]
    return _pack(weights, biases)


def gru_params(kernel: tf.Tensor, recurrent_kernel: tf.Tensor, bias: tf.Tensor, cuda: bool = True) -> tf.Tensor:
    """cuDNN's GRU blob from Keras' kernel (in, 3u), recurrent kernel (u, 3u), bias (2, 3u)
    (input bias, recurrent bias), gates z, r, h: cuDNN orders them r, z, h (a CUDA build swaps
    z and r, as Keras does)."""
    weights = tf.split(kernel, 3, axis=1) + tf.split(recurrent_kernel, 3, axis=1)
    biases = tf.split(tf.reshape(bias, [-1]), 6)
    if cuda:
        for a, b in ((0, 1), (3, 4)):
            weights[a], weights[b] = weights[b], weights[a]
            biases[a], biases[b] = biases[b], biases[a]
    return _pack(weights, biases)


def valid_mask(mask: tf.Tensor) -> tf.Tensor:
    """Keras' cuDNN mask rule: every sequence right-padded (`_is_sequence_right_padded`) and none
    fully masked (`_has_fully_masked_sequence`), as a bool scalar tensor."""
    mask = tf.cast(mask, tf.bool)
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    right_padded = tf.reduce_all(tf.equal(mask, tf.sequence_mask(lengths, maxlen=tf.shape(mask)[1])))
    return tf.logical_and(right_padded, tf.reduce_all(lengths > 0))


def fused_call(op: str, attrs: Mapping[str, Any], x: tf.Tensor, states: tuple, params: Mapping[str, Any],
               mask: tf.Tensor | None) -> list:
    """The op's outputs ([sequence or last output] + final states with return_state) from
    CudnnRNNV3, batch-major with per-sequence lengths (Keras' `_cudnn_lstm`/`_cudnn_gru`)."""
    kernel, recurrent_kernel, bias = params["kernel"], params["recurrent_kernel"], params["bias"]
    x = tf.cast(x, kernel.dtype)
    batch, steps = tf.shape(x)[0], tf.shape(x)[1]
    lengths = tf.fill([batch], steps) if mask is None else tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    info = tf.sysconfig.get_build_info()
    if op == "LSTM":
        blob = lstm_params(kernel, recurrent_kernel, bias, rocm=bool(info.get("is_rocm_build", False)))
        init_c = tf.expand_dims(states[1], 1)
    else:
        blob = gru_params(kernel, recurrent_kernel, bias, cuda=bool(info.get("is_cuda_build", False)))
        init_c = tf.zeros([], kernel.dtype)
    backwards = bool(attrs.get("go_backwards", False))
    if backwards:  # reverse each sequence within its length, run, reverse back, then all of it
        x = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
    outputs, h, c, _, _ = tf.raw_ops.CudnnRNNV3(
        input=x, input_h=tf.expand_dims(states[0], 1), input_c=init_c, params=blob, is_training=True,
        rnn_mode=op.lower(), sequence_lengths=lengths, time_major=False)
    if backwards:
        outputs = tf.reverse(tf.reverse_sequence(outputs, lengths, seq_axis=1, batch_axis=0), axis=[1])
    h = tf.squeeze(h, 1)
    final = (h, tf.squeeze(c, 1)) if op == "LSTM" else (h,)
    if attrs.get("return_sequences", False):
        if mask is not None and not backwards and not attrs.get("zero_output_for_mask", False):
            # the scan repeats the last real output over the right padding; cuDNN leaves zeros
            outputs = tf.where(tf.sequence_mask(lengths, steps)[:, :, tf.newaxis], outputs, h[:, tf.newaxis])
        first = outputs
    else:
        first = h  # Keras: the final h is the last real step's output
    return [first] + (list(final) if attrs.get("return_state", False) else [])


def dispatch(ctx: Any, op: str, attrs: Mapping[str, Any], inputs: Sequence[tf.Tensor], params: Mapping[str, Any],
             states: tuple, scan: Callable[[], list]) -> list:
    """The fused kernel when `use_fused` says so (with a mask: only if it is valid at run time,
    else the scan), otherwise `scan()` untouched."""
    if not use_fused(op, attrs, ctx.compute_dtype, ctx.layer):
        return scan()
    return fused_or_scan(op, attrs, inputs, params, states, scan)


def fused_or_scan(op: str, attrs: Mapping[str, Any], inputs: Sequence[tf.Tensor], params: Mapping[str, Any],
                  states: tuple, scan: Callable[[], list]) -> list:
    """The fused kernel; with a mask, chosen at run time by `valid_mask`, else `scan()`."""
    if not attrs.get("masked", False):
        return fused_call(op, attrs, inputs[0], states, params, None)
    mask = tf.cast(inputs[-1], tf.bool)
    return tf.cond(valid_mask(mask), lambda: fused_call(op, attrs, inputs[0], states, params, mask), scan)
