"""Every primitive of traced code (kir/ir/ops/math.py, array.py): the shape rule against the numpy
kernel, the numpy kernel against Keras' op (keras.ops) on random inputs, and the ONNX and
TensorFlow lowerings against the numpy kernel, on one-op graphs."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kir.errors import ShapeError  # noqa: E402
from kir.ir.ops import infer  # noqa: E402
from kir.ir.ops.math import BINARY, REDUCTIONS, UNARY  # noqa: E402
from kir.ir.spec import TensorSpec  # noqa: E402
from tests.helpers import assert_close  # noqa: E402
from tests.tracing.util import op_graph, run_numpy, run_onnx, run_tensorflow  # noqa: E402

ops = keras.ops
RNG = np.random.default_rng(0)


def f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype("float32")


def pos(*shape: int) -> np.ndarray:
    return (np.abs(RNG.standard_normal(shape)) + 0.5).astype("float32")


def ints(*shape: int, high: int = 5) -> np.ndarray:
    return RNG.integers(0, high, shape).astype("int32")


def bools(*shape: int) -> np.ndarray:
    return RNG.random(shape) > 0.5


def keras_np(x) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(x))


def check(op: str, attrs: dict, inputs: list[np.ndarray], expected: np.ndarray | None = None,
          params: dict | None = None, rtol: float = 1e-5) -> np.ndarray:
    """Shape rule == numpy kernel (dynamic and static first axis); numpy == Keras (`expected`);
    ONNX and TensorFlow lowerings == numpy."""
    graph = op_graph(op, attrs, inputs, params)
    (want,) = run_numpy(graph, inputs)
    (spec,) = graph.vertex(graph.outputs[0][0]).outputs
    assert want.dtype == np.dtype(spec.dtype), f"rule says {spec.dtype}, kernel gave {want.dtype}"
    assert len(spec.shape) == want.ndim and all(d is None or d == n for d, n in zip(spec.shape, want.shape)), \
        f"rule says {spec.shape}, kernel gave {want.shape}"
    static = [TensorSpec(x.shape, x.dtype.name) for x in inputs]
    param_shapes = {k: v.shape for k, v in (params or {}).items()}
    assert infer(op, attrs, static, param_shapes)[0].shape == want.shape
    if expected is not None:
        expected = np.asarray(expected)
        assert want.shape == expected.shape, f"{want.shape} != Keras' {expected.shape}"
        if want.dtype == bool or expected.dtype == bool:
            np.testing.assert_array_equal(want, expected)
        else:
            assert_close(want, expected.astype(want.dtype), rtol=rtol)
    for name, runner in (("onnx", run_onnx), ("tensorflow", run_tensorflow)):
        (got,) = runner(graph, inputs)
        assert got.dtype == want.dtype, f"{name} gave {got.dtype}, numpy {want.dtype}"
        if want.dtype == bool or want.dtype.kind in "iu":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            assert_close(got, want, rtol=rtol)
    return want


# ---------------------------------------------------------------- math


@pytest.mark.parametrize("fn", UNARY)
def test_unary_matches_keras(fn):
    if fn == "logical_not":
        x = bools(4, 3, 5)
    elif fn in ("sqrt", "log", "log1p"):
        x = pos(4, 3, 5)
    elif fn == "round":
        x = (np.arange(60, dtype="float32").reshape(4, 3, 5) - 30) / 4  # halves round to even
    else:
        x = f(4, 3, 5) * 3
    check("Unary", {"fn": fn}, [x], keras_np(getattr(ops, fn)(x)))


@pytest.mark.parametrize("fn", ["negative", "abs", "square", "sign", "relu"])
def test_unary_on_ints(fn):
    x = ints(4, 6) - 2
    check("Unary", {"fn": fn}, [x], keras_np(getattr(ops, fn)(x)))


@pytest.mark.parametrize("fn", BINARY)
@pytest.mark.parametrize("shapes", [((4, 3, 5), (4, 3, 5)), ((4, 3, 5), (4, 1, 5)), ((4, 3, 5), (3, 1))])
def test_binary_matches_keras_with_broadcasting(fn, shapes):
    if fn in ("logical_and", "logical_or"):
        a, b = bools(*shapes[0]), bools(*shapes[1])
    elif fn == "power":
        a, b = pos(*shapes[0]), f(*shapes[1])
    elif fn in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal"):
        a, b = ints(*shapes[0], high=3).astype("float32"), ints(*shapes[1], high=3).astype("float32")  # ties
    else:
        a, b = f(*shapes[0]), f(*shapes[1])
    check("Binary", {"fn": fn}, [a, b], keras_np(getattr(ops, fn)(a, b)))


@pytest.mark.parametrize("fn", ["add", "subtract", "multiply", "maximum", "minimum", "greater", "equal"])
def test_binary_on_ints(fn):
    a, b = ints(4, 6) - 2, ints(4, 6) - 2
    check("Binary", {"fn": fn}, [a, b], keras_np(getattr(ops, fn)(a, b)))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.lists(st.integers(1, 3), min_size=1, max_size=4))
def test_binary_broadcast_rule_agrees_with_numpy(a_shape, b_shape):
    """For any two shapes the rule broadcasts exactly when numpy does, to numpy's shape."""
    specs = [TensorSpec(tuple(a_shape)), TensorSpec(tuple(b_shape))]
    try:
        want = np.broadcast_shapes(tuple(a_shape), tuple(b_shape))
    except ValueError:
        with pytest.raises(ShapeError, match="cannot broadcast"):
            infer("Binary", {"fn": "add"}, specs)
        return
    assert infer("Binary", {"fn": "add"}, specs)[0].shape == want


def test_binary_rule_refuses_mismatched_shapes_and_dtypes():
    with pytest.raises(ShapeError, match="cannot broadcast"):
        infer("Binary", {"fn": "add"}, [TensorSpec((None, 3)), TensorSpec((None, 4))])
    with pytest.raises(ShapeError, match="one dtype"):
        infer("Binary", {"fn": "add"}, [TensorSpec((None, 3)), TensorSpec((None, 3), "int32")])
    with pytest.raises(ShapeError, match="does not take dtype int32"):
        infer("Binary", {"fn": "divide"}, [TensorSpec((None, 3), "int32")] * 2)


@pytest.mark.parametrize("fn", REDUCTIONS)
@pytest.mark.parametrize("axis,keepdims", [(None, False), ([1], True), ([-1], False), ([0, 2], False), ([1, 2], True)])
def test_reduce_matches_keras(fn, axis, keepdims):
    x = pos(4, 3, 5) if fn == "prod" else f(4, 3, 5)
    expected = getattr(ops, fn)(x, axis=None if axis is None else tuple(axis), keepdims=keepdims)
    check("Reduce", {"fn": fn, "axis": axis, "keepdims": keepdims}, [x], keras_np(expected))


def test_reduce_of_ints_keeps_the_dtype():
    x = ints(4, 6)
    check("Reduce", {"fn": "sum", "axis": [1], "keepdims": False}, [x], keras_np(ops.sum(x, axis=1)))


@pytest.mark.parametrize("src,dst", [("float32", "int32"), ("int32", "float32"), ("float32", "bool"),
                                     ("bool", "float32"), ("int32", "int64")])
def test_cast_matches_keras(src, dst):
    x = (f(4, 5) * 3).astype(src) if src != "bool" else bools(4, 5)
    check("Cast", {"dtype": dst}, [x], keras_np(ops.cast(x, dst)))


def test_where_matches_keras():
    cond, a, b = bools(4, 3, 1), f(4, 3, 5), f(4, 1, 5)
    check("Where", {}, [cond, a, b], keras_np(ops.where(cond, a, b)))


def test_clip_matches_keras():
    x = f(4, 6) * 3
    check("Clip", {"min": -1.0, "max": 0.5}, [x], keras_np(ops.clip(x, -1.0, 0.5)))
    y = ints(4, 6, high=9)
    check("Clip", {"min": 2, "max": 6}, [y], keras_np(ops.clip(y, 2, 6)))


@pytest.mark.parametrize("shapes", [((4, 3), (3, 5)), ((4, 2, 3), (4, 3, 5)), ((4, 2, 3), (3, 5)),
                                    ((4, 2, 2, 3), (2, 3, 5))])
def test_matmul_matches_keras(shapes):
    a, b = f(*shapes[0]), f(*shapes[1])
    check("MatMul", {}, [a, b], keras_np(ops.matmul(a, b)))


def test_constant_and_param():
    value = f(2, 3)
    attrs = {"value": value.tolist(), "shape": [2, 3], "dtype": "float32"}
    graph = op_graph("Constant", attrs, [])
    for runner in (run_numpy, run_onnx, run_tensorflow):
        np.testing.assert_array_equal(runner(graph, [])[0], value)
    w = f(3, 4)
    graph = op_graph("Param", {"dtype": "float32"}, [], params={"value": w})
    for runner in (run_numpy, run_onnx, run_tensorflow):
        np.testing.assert_array_equal(runner(graph, [])[0], w)


@pytest.mark.parametrize("dims", [[[0, 0], 3], [200, 3]])
def test_random_normal_draws_normal_samples_on_every_backend(dims):
    """Shapes per the rule; mean and stddev of many samples on every backend; a seed repeats
    the numpy kernel's draws and no seed draws anew each run (as Keras' K.random_normal)."""
    source = f(200, 1)
    attrs = {"shape": dims, "mean": 2.0, "stddev": 0.5, "seed": None, "dtype": "float32"}
    inputs = [source] if isinstance(dims[0], list) else []
    graph = op_graph("RandomNormal", attrs, inputs)
    assert graph.spec(graph.outputs[0]).shape == ((None, 3) if inputs else (200, 3))
    for runner in (run_numpy, run_onnx, run_tensorflow):
        (sample,) = runner(graph, inputs)
        assert sample.shape == (200, 3) and sample.dtype == np.float32
        assert abs(sample.mean() - 2.0) < 0.1 and abs(sample.std() - 0.5) < 0.1
    a, b = run_numpy(graph, inputs)[0], run_numpy(graph, inputs)[0]
    assert not np.array_equal(a, b)
    seeded = op_graph("RandomNormal", {**attrs, "seed": 3}, inputs)
    np.testing.assert_array_equal(run_numpy(seeded, inputs)[0], run_numpy(seeded, inputs)[0])


# ---------------------------------------------------------------- array


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_matches_keras(axis):
    a, b = f(4, 3, 2), f(4, 3, 2)
    check("Concat", {"axis": axis % 3}, [a, b], keras_np(ops.concatenate([a, b], axis=axis)))


SLICES = [
    ((slice(None), 0), {"starts": [None, 0], "ends": [None, 1], "steps": [1, 1], "squeeze": [1]}),
    ((slice(None), slice(1, 3)), {"starts": [None, 1], "ends": [None, 3], "steps": [1, 1], "squeeze": []}),
    ((slice(None), slice(None, None, -1)), {"starts": [None, None], "ends": [None, None], "steps": [1, -1],
                                            "squeeze": []}),
    ((slice(None), -1), {"starts": [None, -1], "ends": [None, None], "steps": [1, 1], "squeeze": [1]}),
    ((slice(1, None, 2), slice(-3, -1)), {"starts": [1, -3], "ends": [None, -1], "steps": [2, 1], "squeeze": []}),
    ((slice(None), slice(4, 0, -2)), {"starts": [None, 4], "ends": [None, 0], "steps": [1, -2], "squeeze": []}),
]


@pytest.mark.parametrize("key,attrs", SLICES, ids=[str(k) for k, _ in SLICES])
def test_slice_matches_keras_indexing(key, attrs):
    x = f(4, 6)
    check("Slice", attrs, [x], keras_np(ops.convert_to_tensor(x)[key]))


@pytest.mark.parametrize("dims,target", [([[0, 0], -1], (-1, 12)), ([[0, 0], 3, 4], (-1, 3, 4)),
                                         ([-1, 2], (-1, 2)), ([[0, 0], [0, 2], 3], (-1, 4, 3))])
def test_reshape_to_matches_keras(dims, target):
    x = f(4, 3, 4)
    check("ReshapeTo", {"shape": dims}, [x], keras_np(ops.reshape(x, target)))


def test_reshape_to_reads_sizes_of_other_inputs():
    x, other = f(4, 6), f(4, 2)
    check("ReshapeTo", {"shape": [[1, 0], [1, 1], -1]}, [x, other], x.reshape(4, 2, 3))


def test_reshape_to_rule_refuses_bad_targets():
    with pytest.raises(ShapeError, match="at most one -1"):
        infer("ReshapeTo", {"shape": [-1, -1]}, [TensorSpec((None, 4))])
    with pytest.raises(ShapeError, match="not divisible"):
        infer("ReshapeTo", {"shape": [[0, 0], 5, -1]}, [TensorSpec((None, 3, 4))])
    with pytest.raises(ShapeError, match="names no dimension"):
        infer("ReshapeTo", {"shape": [[2, 0], -1]}, [TensorSpec((None, 4))])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_expand_dims_and_squeeze_match_keras(axis):
    x = f(4, 3)
    y = check("ExpandDims", {"axis": axis}, [x], keras_np(ops.expand_dims(x, axis)))
    check("Squeeze", {"axes": [axis]}, [y], keras_np(ops.squeeze(y, axis)))


def test_tile_matches_keras():
    x = f(4, 2, 3)
    check("Tile", {"multiples": [1, 3, 2]}, [x], keras_np(ops.tile(x, [1, 3, 2])))


def test_fill_matches_keras():
    x = f(4, 3)
    check("Fill", {"shape": [[0, 0], [0, 1], 2], "value": 1.5, "dtype": "float32"}, [x],
          keras_np(ops.full((4, 3, 2), 1.5)))
    graph = op_graph("Fill", {"shape": [2, 2], "value": 0, "dtype": "int32"}, [])
    for runner in (run_numpy, run_onnx, run_tensorflow):
        np.testing.assert_array_equal(runner(graph, [])[0], np.zeros((2, 2), "int32"))


@pytest.mark.parametrize("start,step,dtype", [(0, 1, "int32"), (1, 2, "int32"), (0, 1, "float32")])
def test_range_matches_keras(start, step, dtype):
    x = f(3, 7)
    attrs = {"start": start, "stop": [0, 1], "step": step, "dtype": dtype}
    check("Range", attrs, [x], keras_np(ops.arange(start, 7, step, dtype=dtype)))


def test_gather_matches_keras():
    table, idx = f(6, 3), ints(4, 2, high=6)
    graph_inputs = [table, idx]
    check("Gather", {}, graph_inputs, keras_np(ops.take(table, idx, axis=0)))


def test_every_primitive_is_tested_here():
    """A new primitive must join this file (and docs/ops.md)."""
    import inspect

    import kir.ir.ops.array as array_ops
    import kir.ir.ops.math as math_ops
    from kir.ir.ops.registry import _RULES

    ours = sorted(op for op, rule in _RULES.items() if inspect.getmodule(rule) in (math_ops, array_ops))
    source = inspect.getsource(inspect.getmodule(test_every_primitive_is_tested_here))
    assert all(f'"{op}"' in source for op in ours), ours
    from pathlib import Path

    table = (Path(__file__).parents[2] / "docs" / "ops.md").read_text()
    assert all(f"| `{op}`" in table for op in ours), [op for op in ours if f"| `{op}`" not in table]
