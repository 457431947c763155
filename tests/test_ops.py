"""Every primitive, specified once in a table and checked by one hypothesis-driven helper
(and every op of graphgrad.ops has a row: ``test_every_op_has_a_row``):

* forward values equal NumPy's;
* gradcheck and gradgradcheck pass (float64, central differences);
* the gradient has the input's shape and dtype; neither the inputs nor the upstream
  gradient are modified;
* float32 in, float32 out (forward and gradients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from graphgrad import testing as ggt


@dataclass(frozen=True)
class OpSpec:
    name: str
    draw: st.SearchStrategy[tuple[tuple[np.ndarray, ...], dict[str, Any]]]
    graph: Callable[..., gg.Tensor]  # (*tensors, **params) -> Tensor
    numpy: Callable[..., np.ndarray]  # (*arrays, **params) -> ndarray

    def __repr__(self) -> str:
        return self.name


def no_params(arrays: st.SearchStrategy[tuple[np.ndarray, ...]]) -> st.SearchStrategy[Any]:
    return arrays.map(lambda a: (a, {}))


def unary(low: float = -2.0, high: float = 2.0, avoid: tuple[float, ...] = ()) -> Any:
    return no_params(st.tuples(ggt.arrays(ggt.shapes(), low, high, avoid=avoid)))


@st.composite
def binary(
    draw: Any,
    low_b: float = -2.0,
    high_b: float = 2.0,
    low_a: float = -2.0,
    high_a: float = 2.0,
    avoid_b: tuple[float, ...] = (),
) -> Any:
    sa, sb = draw(ggt.broadcastable_shapes(2))
    a = draw(ggt.arrays(sa, low_a, high_a))
    b = draw(ggt.arrays(sb, low_b, high_b, avoid=avoid_b, margin=0.5))
    return (a, b), {}


@st.composite
def untied(draw: Any) -> Any:
    """Broadcastable a, b on interleaved grids 0.1 apart: no ties, where max/min have
    no derivative."""
    (a, b), _ = draw(binary())
    return (np.round(a * 5) / 5 + 0.1, np.round(b * 5) / 5), {}


@st.composite
def matmul_operands(draw: Any) -> Any:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "bm", "mb", "bb", "vb", "bv"]))
    ba, bb = draw(ggt.broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=3))
    a_shape = {"v": (k,), "m": (n, k), "b": (*ba, n, k)}[kind[0]]
    b_shape = {"v": (k,), "m": (k, m), "b": (*bb, k, m)}[kind[1]]
    return (draw(ggt.arrays(a_shape)), draw(ggt.arrays(b_shape))), {}


@st.composite
def affine_operands(draw: Any, transposed: bool = False) -> Any:
    """x (..., k) or (k,), W (k, m) — (m, k) ``transposed`` — and b (m,) or a shape
    broadcasting against x W."""
    k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x_shape = draw(st.sampled_from([(k,), (2, k), (3, 2, k)]))
    b_shape = draw(st.sampled_from([(m,), (1, m), (*x_shape[:-1], m)]))
    w = draw(ggt.arrays((m, k) if transposed else (k, m)))
    return (draw(ggt.arrays(x_shape)), w, draw(ggt.arrays(b_shape))), {}


@st.composite
def with_axis(draw: Any, separated: bool = False, min_dims: int = 0) -> Any:
    shape = draw(ggt.shapes(min_dims=min_dims))
    x = draw(ggt.separated_arrays(shape) if separated else ggt.arrays(shape))
    return (x,), {"axis": draw(ggt.axes(len(shape))), "keepdims": draw(st.booleans())}


@st.composite
def softmax_input(draw: Any) -> Any:
    shape = draw(ggt.shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return (draw(ggt.arrays(shape, -3, 3)),), {"axis": axis}


@st.composite
def transpose_input(draw: Any) -> Any:
    shape = draw(ggt.shapes())
    axes = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    return (draw(ggt.arrays(shape)),), {"axes": axes}


@st.composite
def strided_input(draw: Any) -> Any:
    """x and a permutation that leaves x.transpose(axes) a strided (not C-order) view."""
    shape = draw(ggt.shapes(min_dims=2, min_side=2))
    axes = draw(
        st.permutations(range(len(shape))).map(tuple).filter(lambda a: a != tuple(sorted(a)))
    )
    return (draw(ggt.arrays(shape)),), {"axes": axes}


@st.composite
def reshape_input(draw: Any) -> Any:
    shape = draw(ggt.shapes())
    size = int(np.prod(shape))
    new = draw(st.sampled_from([(size,), (-1,), (1, size), (size, 1), tuple(reversed(shape))]))
    return (draw(ggt.arrays(shape)),), {"shape": new}


@st.composite
def getitem_input(draw: Any) -> Any:
    shape = draw(ggt.shapes(min_dims=1))
    x = draw(ggt.arrays(shape))
    kind = draw(st.sampled_from(["basic", "int_array", "bool_mask"]))
    if kind == "basic":
        index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    elif kind == "int_array":  # may repeat indices: gradients must accumulate
        index = draw(hnp.integer_array_indices(shape, result_shape=ggt.shapes(1, 2)))
    else:
        index = draw(hnp.arrays(np.bool_, shape))
    return (x,), {"index": index}


@st.composite
def concat_input(draw: Any, new_axis: bool = False) -> Any:
    shape = draw(ggt.shapes(min_dims=0 if new_axis else 1))
    count = draw(st.integers(1, 3))
    if new_axis:
        axis = draw(st.integers(-len(shape) - 1, len(shape)))
        xs = tuple(draw(ggt.arrays(shape)) for _ in range(count))
    else:
        axis = draw(st.integers(-len(shape), len(shape) - 1))
        xs = []
        for _ in range(count):
            s = list(shape)
            s[axis] = draw(st.integers(1, 3))
            xs.append(draw(ggt.arrays(tuple(s))))
        xs = tuple(xs)
    return xs, {"axis": axis}


@st.composite
def broadcast_input(draw: Any) -> Any:
    sa, sb = draw(ggt.broadcastable_shapes(2))
    return (draw(ggt.arrays(sa)),), {"shape": np.broadcast_shapes(sa, sb)}


@st.composite
def pow_const_input(draw: Any) -> Any:
    x = draw(ggt.arrays(ggt.shapes(), 0.3, 2.0))
    return (x,), {"c": draw(st.sampled_from([2, 3, 0.5, -1.0, 1.5]))}


@st.composite
def where_input(draw: Any) -> Any:
    """a, b and a constant mask, all three broadcasting together."""
    sc, sa, sb = draw(ggt.broadcastable_shapes(3))
    a, b = draw(ggt.arrays(sa)), draw(ggt.arrays(sb))
    return (a, b), {"cond": draw(hnp.arrays(np.bool_, sc))}


@st.composite
def clip_bounds_input(draw: Any) -> Any:
    """x with tensor bounds lo < hi, x kept 0.05 away from both (the rule's kinks)."""
    shape = draw(ggt.shapes())
    lo, hi = draw(ggt.arrays(shape, -1.0, -0.2)), draw(ggt.arrays(shape, 0.2, 1.0))
    x = draw(ggt.arrays(shape, -2.0, 2.0))
    x = np.where(np.abs(x - lo) < 0.05, lo - 0.1, x)
    x = np.where(np.abs(x - hi) < 0.05, hi + 0.1, x)
    return (x, lo, hi), {}


@st.composite
def bce_input(draw: Any) -> Any:
    shape = draw(ggt.shapes())
    return (draw(ggt.arrays(shape, 0.05, 0.95)), draw(ggt.arrays(shape, 0.0, 1.0))), {}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


SPECS = [
    OpSpec("add", binary(), lambda a, b: a + b, np.add),
    OpSpec("sub", binary(), lambda a, b: a - b, np.subtract),
    OpSpec("mul", binary(), lambda a, b: a * b, np.multiply),
    OpSpec("div", binary(avoid_b=(0.0,)), lambda a, b: a / b, np.divide),
    OpSpec("pow", binary(low_a=0.3, high_a=2.0), lambda a, b: a**b, np.power),
    OpSpec("pow_const", pow_const_input(), lambda x, c: x**c, lambda x, c: x**c),
    OpSpec("neg", unary(), lambda x: -x, np.negative),
    OpSpec("matmul", matmul_operands(), lambda a, b: a @ b, np.matmul),
    OpSpec("affine", affine_operands(), lambda x, w, b: gg.ops.Affine.apply(x, w, b),
           lambda x, w, b: x @ w + b),
    OpSpec("linear", affine_operands(transposed=True),
           lambda x, w, b: gg.ops.Linear.apply(x, w, b), lambda x, w, b: x @ w.T + b),
    OpSpec("transpose", transpose_input(), lambda x, axes: x.transpose(axes),
           lambda x, axes: x.transpose(axes)),
    OpSpec("contiguous", strided_input(), lambda x, axes: x.transpose(axes).contiguous(),
           lambda x, axes: x.transpose(axes).copy(order="C")),
    OpSpec("reshape", reshape_input(), lambda x, shape: x.reshape(shape),
           lambda x, shape: x.reshape(shape)),
    OpSpec("getitem", getitem_input(), lambda x, index: x[index], lambda x, index: x[index]),
    OpSpec("concat", concat_input(), lambda *xs, axis: gg.concat(xs, axis=axis),
           lambda *xs, axis: np.concatenate(xs, axis=axis)),
    OpSpec("stack", concat_input(new_axis=True), lambda *xs, axis: gg.stack(xs, axis=axis),
           lambda *xs, axis: np.stack(xs, axis=axis)),
    OpSpec("astype", unary(), lambda x: x.astype(x.dtype), lambda x: x.astype(x.dtype)),
    OpSpec("broadcast_to", broadcast_input(), lambda x, shape: gg.broadcast_to(x, shape),
           lambda x, shape: np.broadcast_to(x, shape)),
    OpSpec("sum", with_axis(), lambda x, axis, keepdims: x.sum(axis, keepdims),
           lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims)),
    OpSpec("mean", with_axis(), lambda x, axis, keepdims: x.mean(axis, keepdims),
           lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims)),
    OpSpec("max", with_axis(separated=True),
           lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims)),
    OpSpec("min", with_axis(separated=True),
           lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims)),
    OpSpec("exp", unary(), lambda x: x.exp(), np.exp),
    OpSpec("log", unary(0.2, 3.0), lambda x: x.log(), np.log),
    OpSpec("sin", unary(-4.0, 4.0), lambda x: x.sin(), np.sin),
    OpSpec("cos", unary(-4.0, 4.0), lambda x: np.cos(x), np.cos),
    OpSpec("sqrt", unary(0.2, 3.0), lambda x: gg.sqrt(x), np.sqrt),
    OpSpec("square", unary(), lambda x: x.square(), np.square),
    OpSpec("abs", unary(avoid=(0.0,)), lambda x: abs(x), np.abs),
    OpSpec("tanh", unary(), lambda x: x.tanh(), np.tanh),
    OpSpec("sigmoid", unary(-4.0, 4.0), lambda x: x.sigmoid(), _sigmoid),
    OpSpec("relu", unary(avoid=(0.0,)), lambda x: x.relu(), lambda x: np.maximum(x, 0)),
    OpSpec("softplus", unary(-30.0, 30.0, avoid=(20.0,)), lambda x: x.softplus(),
           lambda x: np.where(x > 20, x, np.logaddexp(0.0, x))),
    OpSpec("softplus_beta", unary(-8.0, 8.0, avoid=(5.0,)), lambda x: x.softplus(2.5, 12.5),
           lambda x: np.where(2.5 * x > 12.5, x, np.logaddexp(0.0, 2.5 * x) / 2.5)),
    OpSpec("clip", unary(avoid=(-0.5, 1.0)), lambda x: x.clip(-0.5, 1.0),
           lambda x: np.clip(x, -0.5, 1.0)),
    OpSpec("clip_low", unary(avoid=(0.25,)), lambda x: x.clip(0.25), lambda x: np.maximum(x, 0.25)),
    OpSpec("clip_tensor_bounds", clip_bounds_input(), lambda x, lo, hi: x.clip(lo, hi),
           np.clip),
    OpSpec("binary_cross_entropy", bce_input(),
           lambda p, t: gg.ops.BinaryCrossEntropy.apply(p, t),
           lambda p, t: -(t * np.log(p) + (1 - t) * np.log1p(-p))),
    OpSpec("maximum", untied(), lambda a, b: np.maximum(a, b), np.maximum),
    OpSpec("minimum", untied(), lambda a, b: gg.minimum(a, b), np.minimum),
    OpSpec("where", where_input(), lambda a, b, cond: gg.where(cond, a, b),
           lambda a, b, cond: np.where(cond, a, b)),
    OpSpec("softmax", softmax_input(), lambda x, axis: gg.softmax(x, axis),
           lambda x, axis: _softmax(x, axis)),
    OpSpec("log_softmax", softmax_input(), lambda x, axis: gg.log_softmax(x, axis),
           lambda x, axis: np.log(_softmax(x, axis))),
]  # fmt: skip


def _leaves(arrays: tuple[np.ndarray, ...], dtype: Any = np.float64) -> list[gg.Tensor]:
    return [gg.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_forward_matches_numpy(spec: OpSpec) -> None:
    @given(spec.draw)
    def check(drawn: Any) -> None:
        arrays, params = drawn
        out = spec.graph(*_leaves(arrays), **params)
        expected = spec.numpy(*arrays, **params)
        assert out.shape == np.shape(expected)
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-15)

    check()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_gradients_match_central_differences(spec: OpSpec) -> None:
    @given(spec.draw)
    def check(drawn: Any) -> None:
        arrays, params = drawn
        leaves = _leaves(arrays)

        def fn(*xs: gg.Tensor) -> gg.Tensor:
            return spec.graph(*xs, **params)

        assert gg.gradcheck(fn, leaves)
        assert gg.gradgradcheck(fn, leaves)

    check()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_compiled_equals_eager(spec: OpSpec) -> None:
    """gg.compile of each op gives the eager values and gradients bitwise (float64 and
    float32), and reads its inputs at every call: the third call, on other values of the
    same shapes, still matches."""

    @settings(max_examples=6)
    @given(spec.draw, st.sampled_from([np.float64, np.float32]))
    def check(drawn: Any, dtype: Any) -> None:
        arrays, params = drawn

        def fn(*xs: gg.Tensor) -> gg.Tensor:
            return spec.graph(*xs, **params)

        fast = gg.compile(fn, fullgraph=True)
        reordered = tuple(a.ravel()[::-1].reshape(a.shape) for a in arrays)
        for values in (arrays, arrays, reordered, arrays):
            got_in, want_in = _leaves(values, dtype), _leaves(values, dtype)
            got, want = fast(*got_in), fn(*want_in)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got.data, want.data)
            if want.requires_grad:
                g = np.random.default_rng(0).standard_normal(want.shape).astype(want.dtype)
                got.backward(g)
                want.backward(g)
                for a, b in zip(got_in, want_in):
                    assert (a.grad is None) == (b.grad is None)
                    if b.grad is not None:
                        assert a.grad.dtype == b.grad.dtype
                        np.testing.assert_array_equal(a.grad, b.grad)
        assert fast.stats[0]["ops"] > 0

    check()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_backward_shapes_and_no_mutation(spec: OpSpec) -> None:
    @given(spec.draw, st.integers(0, 2**32 - 1))
    def check(drawn: Any, seed: int) -> None:
        arrays, params = drawn
        before = [a.copy() for a in arrays]
        leaves = _leaves(arrays)
        out = spec.graph(*leaves, **params)
        upstream = np.random.default_rng(seed).standard_normal(out.shape)
        upstream_copy = upstream.copy()
        out.backward(upstream)
        np.testing.assert_array_equal(upstream, upstream_copy)
        for leaf, a, b in zip(leaves, arrays, before):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(leaf.data, b)
            assert leaf.grad is not None
            assert leaf.grad.shape == leaf.shape and leaf.grad.dtype == np.float64

    check()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_float32_stays_float32(spec: OpSpec) -> None:
    @given(spec.draw)
    def check(drawn: Any) -> None:
        arrays, params = drawn
        leaves = _leaves(arrays, np.float32)
        out = spec.graph(*leaves, **params)
        assert out.dtype == np.float32
        out.sum().backward()
        for leaf in leaves:
            assert leaf.grad.dtype == np.float32

    check()


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda a, b: a + b, [(0, 3), (3,)]),
        (lambda a, b: a * b, [(2, 0), (1, 1)]),
        (lambda a, b: a @ b, [(0, 3), (3, 2)]),
        (lambda a, b: a @ b, [(2, 0), (0, 3)]),
        (lambda a: a.sum(axis=0), [(0, 3)]),
        (lambda a: a[1:1], [(4,)]),
        (lambda a, b: gg.concat([a, b]), [(0, 2), (3, 2)]),
    ],
)
def test_empty_axes(fn: Callable[..., gg.Tensor], shapes: list[tuple[int, ...]]) -> None:
    leaves = [gg.tensor(np.ones(s), requires_grad=True) for s in shapes]
    out = fn(*leaves)
    out.backward(np.ones(out.shape))
    for leaf in leaves:
        assert leaf.grad.shape == leaf.shape
    np.testing.assert_array_equal(out.data, fn(*[np.ones(s) for s in shapes]))


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((3, 1), (1, 4)),  # outer product forward (contracted axis of length 1)
        ((1, 5), (5, 4)),  # batch of one: the weight gradient Xᵀ G is an outer product
        ((4, 5), (5, 1)),  # one output: the input gradient G Wᵀ is an outer product
        ((2, 3, 1), (1, 4)),  # a sequence with one input feature, batched
        ((1, 1, 5), (5, 1)),
        ((2, 3, 1), (2, 1, 4)),
    ],
)
def test_matmul_with_length_one_axes(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    ta, tb = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    np.testing.assert_allclose((ta @ tb).data, a @ b, rtol=1e-15)
    assert gg.gradcheck(lambda x, y: x @ y, (ta, tb))
    assert gg.gradgradcheck(lambda x, y: x @ y, (ta, tb))


@pytest.mark.parametrize("t", [0, 2, -1])
def test_affine_with_a_step_index_adds_that_row_of_b(t: int) -> None:
    """Affine(X, W, B, t) = X W + B[t]; B's gradient is G at row t, zero elsewhere (also
    under create_graph)."""
    rng = np.random.default_rng(1)
    x, w, big = (
        rng.standard_normal((2, 3)),
        rng.standard_normal((3, 4)),
        rng.standard_normal((3, 2, 4)),
    )
    kept = big.copy()
    np.testing.assert_array_equal(gg.ops.Affine.apply(x, w, big, t).data, x @ w + big[t])
    np.testing.assert_array_equal(big, kept)
    tx, tw, tb = (gg.tensor(a, requires_grad=True) for a in (x, w, big))
    assert gg.gradcheck(lambda a, b, c: gg.ops.Affine.apply(a, b, c, t), (tx, tw, tb))
    assert gg.gradgradcheck(lambda a, b, c: gg.ops.Affine.apply(a, b, c, t), (tx, tw, tb))
    out = gg.ops.Affine.apply(tx, tw, tb, t)
    out.backward(np.ones((2, 4)))
    expected = np.zeros_like(big)
    expected[t] = 1.0
    np.testing.assert_array_equal(tb.grad, expected)
    with pytest.raises(gg.ShapeError, match=r"Affine.*b\[0\] of shape \(4,\)"):
        gg.ops.Affine.apply(x, w, rng.standard_normal((3, 4)), 0)


def test_affine_equals_matmul_plus_add_and_promotes_like_numpy() -> None:
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    np.testing.assert_array_equal(gg.ops.Affine.apply(x, w, b).data, x @ w + b)
    full = rng.standard_normal((5, 4))  # a recurrent step's input term: added in place
    kept = full.copy()
    np.testing.assert_array_equal(gg.ops.Affine.apply(x, w, full).data, x @ w + full)
    np.testing.assert_array_equal(full, kept)  # into the product's buffer, not into b
    mixed = gg.ops.Affine.apply(x.astype(np.float32), w.astype(np.float32), b)
    assert mixed.dtype == (x.astype(np.float32) @ w.astype(np.float32) + b).dtype
    ta, tw, tb = (gg.tensor(a, requires_grad=True) for a in (x, w, b))
    assert gg.gradgradcheck(gg.ops.Affine.apply, (ta, tw, tb))


def test_linear_is_x_times_the_transposed_weight_and_its_gradient_is_in_the_weight_layout() -> None:
    """Linear(X, W, b) = X Wᵀ + b bitwise (F.linear, nn.Linear); ∂L/∂W is one product in
    W's (out, in) layout, a C-contiguous array of its own (the engine keeps it as .grad)."""
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((4, 3)), rng.standard_normal(4)
    for shape in [(3,), (1, 3), (5, 3), (2, 5, 3)]:
        x = rng.standard_normal(shape)
        np.testing.assert_array_equal(gg.ops.Linear.apply(x, w, b).data, x @ w.T + b)
        np.testing.assert_array_equal(gg.ops.Linear.apply(x, w).data, x @ w.T)
        ta, tw, tb = (gg.tensor(a, requires_grad=True) for a in (x, w, b))
        assert gg.gradgradcheck(gg.ops.Linear.apply, (ta, tw, tb))
        assert gg.gradgradcheck(gg.ops.Linear.apply, (ta, tw))
        gg.ops.Linear.apply(ta, tw, tb).sum().backward()
        g = np.ones((*shape[:-1], 4))
        np.testing.assert_allclose(tw.grad, g.reshape(-1, 4).T @ x.reshape(-1, 3), rtol=1e-15)
        assert tw.grad.flags.c_contiguous
    out = gg.nn.Linear(3, 4, rng=0)(x)
    assert out.grad_fn is not None and type(out.grad_fn).__name__ == "Linear"
    with pytest.raises(gg.ShapeError, match=r"Linear: .*in_features \(3"):
        gg.nn.functional.linear(np.ones((2, 5)), w)
    for bad in [(4, 3, 5), ()]:  # PyTorch refuses a weight of other ranks too
        with pytest.raises(gg.ShapeError, match=r"Linear: .*\(2, 3\).*weight must be"):
            gg.nn.functional.linear(np.ones((2, 3)), np.ones(bad))


def _recorded_ops(out: Any) -> set[type]:
    """The op classes of every node behind ``out`` (graph traversal, no recursion)."""
    seen: set[type] = set()
    stack = [out.grad_fn]
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        if node is None or isinstance(node, gg.Tensor) or id(node) in visited:
            continue
        visited.add(id(node))
        seen.add(type(node))
        stack.extend(node.inputs or ())
    return seen


def test_every_op_has_a_row() -> None:
    """Each primitive of graphgrad.ops is recorded by some row of SPECS (computed by running
    the rows, so a new op without a row fails here), and each declared spelling is the op
    it claims (method, function, operator and NumPy ufunc record that op)."""
    import graphgrad.ops as ops

    covered: set[type] = set()
    rng = np.random.default_rng(0)

    @settings(max_examples=1, database=None, derandomize=True)
    @given(st.data())
    def record(data: Any) -> None:
        for spec in SPECS:  # one example of each row, drawn in one test case
            arrays, params = data.draw(spec.draw)
            covered.update(_recorded_ops(spec.graph(*_leaves(arrays), **params)))

    record()
    # ScatterAdd is GetItem's backward (recorded under create_graph: gradgradcheck of getitem)
    x = gg.tensor(rng.standard_normal(4), requires_grad=True)
    (g,) = gg.grad((x[[0, 2]] ** 2).sum(), x, create_graph=True)
    covered |= _recorded_ops(g)
    missing = sorted(op.__name__ for op in ops.OPS if op not in covered)
    assert not missing, f"ops without a row in SPECS: {missing}"


def test_each_declared_spelling_records_its_op() -> None:
    import graphgrad.ops as ops

    assert len(ops.GENERATED) >= 40
    for made in ops.GENERATED:
        x = gg.tensor([0.3, 0.7], requires_grad=True) * 1.0  # (in-place: not on a leaf)
        n = made.fn.__code__.co_argcount - len(made.fn.__defaults__ or ())
        args = [x, gg.tensor([0.5, 0.25], requires_grad=True), x][:n]
        if made.op is ops.Where:
            args = [np.array([True, False]), x, x * 2]
        out = made.fn(*args)
        assert type(out.grad_fn) is made.op, (made.owner, made.name)
        assert made.fn.__doc__, made.name
    # the hand-written spellings (keywords reconciled by hand), called as users would
    x = gg.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)

    def args(name: str) -> tuple[Any, ...]:
        return _LISTS[name] if name in _LISTS else (x, *_EXTRA.get(name, ()))

    calls = {
        "method": lambda name: getattr(_RECEIVER.get(name, x), name)(*_EXTRA.get(name, ())),
        "function": lambda name: getattr(gg, name)(*args(name)),
        "numpy": lambda f: f(*args(f.__name__)),
    }
    hand = [op for op in ops.OPS if getattr(op.__dict__.get("spellings"), "by_hand", False)]
    assert len(hand) >= 10
    for op in hand:
        s = op.spellings
        for kind, spelled in (("method", s.method), ("function", s.function)):
            if spelled is not None:
                assert type(calls[kind](spelled).grad_fn) is op, (op.__name__, kind, spelled)
        for f in s.numpy:
            assert type(calls["numpy"](f).grad_fn) is op, (op.__name__, f)
    for ufunc, op in __import__("graphgrad.core.numpy_dispatch").core.numpy_dispatch.UFUNCS.items():
        t = gg.tensor([0.3, 0.7], requires_grad=True)
        out = ufunc(*([t] * ufunc.nin))
        assert type(out.grad_fn) is op, ufunc


_X23 = gg.tensor(np.ones((2, 3)), requires_grad=True)
# arguments after the tensor, for the hand-written spellings that need some
_EXTRA: dict[str, tuple[Any, ...]] = {"reshape": ((3, 2),), "astype": (np.float32,),
                                      "broadcast_to": ((4, 2, 3),)}  # fmt: skip
_LISTS = {name: ([_X23, _X23],) for name in ("concat", "concatenate", "stack")}
# a strided view: contiguous() of a C-order tensor is that tensor, as in PyTorch (no op)
_RECEIVER = {"contiguous": _X23.T}


# np functions a backward rule may call that are not graphgrad ops, and why each is sound
_NOT_RECORDED_OK = {
    "logical_and": "combines comparison masks (constants: no gradient flows through them)",
    "errstate": "a context manager for NumPy's warnings",
    "subtract": "LogSoftmax's ndarray-only branch (after a type test), with out=",
}


def test_numpy_calls_in_backward_rules_are_recorded_primitives() -> None:
    """Under create_graph a rule runs on Tensors, so every np.* it calls must dispatch to a
    recorded op (or the gradient of the gradient would silently lose that path). Found by
    reading each rule's source; ``_NOT_RECORDED_OK`` names the exceptions and why."""
    import ast
    import inspect
    import textwrap

    import graphgrad.ops as ops
    from graphgrad.core import numpy_dispatch

    numpy_dispatch.array_function(np.sum, (gg.tensor([1.0]),), {})  # build the lazy table
    answered = {u.__name__ for u in numpy_dispatch.UFUNCS} | {
        f.__name__ for f in numpy_dispatch._FUNCTIONS
    }
    found = []
    for op in ops.OPS:
        for rule in ("backward", "backward_into"):
            fn = op.__dict__.get(rule)
            if fn is None:
                continue
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn.__func__)))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "np"
                ):
                    found.append((op.__name__, node.func.attr))
    assert len(found) >= 8  # the reader sees the calls (Pow, Softplus, Where, BCE, ...)
    bad = [(op, f) for op, f in found if f not in answered and f not in _NOT_RECORDED_OK]
    assert not bad, f"backward rules call NumPy functions that are not recorded ops: {bad}"
