"""Code kir cannot trace is refused with a TraceError (a KirError) that names the layer and the
operation and says what to write instead, never a raw TypeError."""

from __future__ import annotations

import numpy as np
import pytest

import kir.backend as K
from kir import layers as L
from kir.errors import KirError, ShapeError
from kir.layers import TraceError


def branch(t):
    if K.sum(t) > 0:
        return t
    return -t


UNTRACEABLE = {
    "python_if": (branch, "as a Python bool", "K.where"),
    "numpy_ufunc": (lambda t: np.exp(t), "numpy's exp", "K.exp"),
    "numpy_function": (lambda t: np.mean(t, axis=1), "numpy's mean", "K.mean"),
    "float": (lambda t: float(K.sum(t)), "as a Python number", "K"),
    "k_op_without_trace": (lambda t: K.argmax(t), "K.argmax cannot be traced", "docs/tracing.md"),
    "dynamic_size_arithmetic": (lambda t: K.reshape(t, (K.shape(t)[0] * 2, 2)), "known only at run time", "-1"),
    "len": (lambda t: len(t), "len()", "K.int_shape"),
    "iteration": (lambda t: [row for row in t], "iterating", "index it"),
    "tensor_index": (lambda t: t[t > 0], "indexing with a tensor", "K.gather"),
    "wrong_arity": (lambda t, u: t, "raised TypeError", "K"),
    "returns_none": (lambda t: None, "returned None", "return the output"),
    "string_operand": (lambda t: t + "a", "not a tensor or a number", "numeric"),
    "tensorflow_op": (lambda t: __import__("tensorflow").exp(t), "to a numpy array", "K"),
    "value": (lambda t: K.get_value(t), "no value while tracing", "predict"),
}


@pytest.mark.parametrize("name", list(UNTRACEABLE))
def test_untraceable_code_is_a_trace_error_naming_lambda_and_operation(name):
    fn, operation, advice = UNTRACEABLE[name]
    if name == "tensorflow_op":
        pytest.importorskip("tensorflow")
    with pytest.raises(TraceError) as info:
        L.Lambda(fn, name=f"my_{name}")(L.Input((4,)))
    message = str(info.value)
    assert f"'my_{name}'" in message and operation in message and advice in message, message
    assert isinstance(info.value, KirError)


def test_a_tensor_from_outside_the_call_is_refused():
    x = L.Input((4,))
    outer = L.Dense(4, name="outer")(x)
    with pytest.raises(TraceError, match="tensor 'outer/0:0' comes from outside this call; .*pass it in"):
        L.Lambda(lambda t: t + outer, name="closes_over")(x)


def test_a_tensor_kept_from_an_earlier_call_is_refused():
    class Keeper(L.Layer):
        def call(self, x):
            if not hasattr(self, "kept"):
                self.kept = x * 2
            return x + self.kept

    layer = Keeper(name="keeper")
    layer(L.Input((3,)))
    with pytest.raises(TraceError, match="'keeper'.*finished"):
        layer(L.Input((3,)))


def test_subclassed_layer_errors_name_the_layer_class():
    class Bad(L.Layer):
        def call(self, x):
            return np.tanh(x)

    with pytest.raises(TraceError, match=r"layer 'bad' \(Bad\) while tracing its call\(\): numpy's tanh"):
        Bad(name="bad")(L.Input((3,)))


def test_shape_errors_of_traced_ops_name_the_layer():
    with pytest.raises(ShapeError, match=r"layer 'mismatch' \(Lambda\).*cannot broadcast shapes \(None, 3\) and "
                                         r"\(None, 4\)"):
        L.Lambda(lambda ts: ts[0] + ts[1], name="mismatch")([L.Input((3,)), L.Input((4,))])


def test_numpy_on_a_layer_output_names_the_tensor():
    t = L.Dense(2, name="d")(L.Input((3,)))
    with pytest.raises(TraceError, match="tensor 'd/0:0': numpy's exp .* K.exp"):
        np.exp(t)
    with pytest.raises(TraceError, match="tensor 'd/0:0': converting a symbolic tensor to a numpy array"):
        np.asarray(t)


def test_comparisons_trace_but_equality_stays_identity():
    t = L.Dense(2)(L.Input((3,)))
    assert (t == t) is True and (t != t) is False and t in [t]
    assert (t > 0).dtype == "bool"


def test_add_weight_refuses_what_kir_does_not_support():
    class Reg(L.Layer):
        def build(self, input_shape):
            self.add_weight(shape=(3,), quantization_mode="int8")

        def call(self, x):
            return x

    with pytest.raises(KirError, match="add_weight argument 'quantization_mode'"):
        Reg()(L.Input((3,)))
