"""The backward engine: accumulation, graph lifetime, higher order, hooks, depth, memory."""

from __future__ import annotations

import gc
import itertools
import sys
import tracemalloc
import weakref
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg


def leaf(a: object, **kw: object) -> gg.Tensor:
    return gg.tensor(a, requires_grad=True, **kw)


# ------------------------------------------------------------------ accumulation
def test_fan_out_sums_gradients() -> None:
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2 + x * x + x  # x used three times
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 + 2 * x.data + 1)


_SLICING = st.sampled_from(["steps", "last", "first"])


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple),
    how=_SLICING,
    cuts=st.lists(st.integers(0, 4), max_size=4),
    shuffle=st.randoms(use_true_random=False),
    drop=st.booleans(),
    extra=st.sampled_from([None, "repeat", "dense_first", "dense_last"]),
)
def test_sliced_contributions_sum_like_a_dense_buffer(
    shape: tuple[int, ...], how: str, cuts: list[int], shuffle: Any, drop: bool, extra: str | None
) -> None:
    """Slices of a non-leaf tensor (time steps x[t], blocks x[a:b] or x[..., a:b]) give the
    same gradient whether they tile it (assembled in one pass), leave gaps, overlap, or mix
    with dense uses, in any order."""
    rng = np.random.default_rng(0)
    x = leaf(rng.standard_normal(shape))
    y = x * 2.0  # a node: its slices' gradients are collected by the engine
    axis = {"steps": 0, "first": 0, "last": len(shape) - 1}[how]
    n = shape[axis]
    if how == "steps":
        indices: list[Any] = list(range(n))
    else:
        bounds = sorted({0, n, *(c for c in cuts if c < n)})
        blocks = [slice(a, b) for a, b in itertools.pairwise(bounds)]
        indices = blocks if how == "first" else [(Ellipsis, b) for b in blocks]
    if drop and len(indices) > 1:
        indices.pop(0)  # a gap
    if extra == "repeat":
        indices.append(indices[-1])  # an overlap
    shuffle.shuffle(indices)
    expected = np.zeros(shape)
    terms = []
    if extra == "dense_first":
        terms.append((y * 3.0).sum())
        expected += 3.0
    for idx in indices:
        w = rng.standard_normal(np.shape(y.data[idx]))
        terms.append((y[idx] * w).sum())
        expected[idx] += w
    if extra == "dense_last":
        terms.append((y * 3.0).sum())
        expected += 3.0
    loss = terms[0]
    for t in terms[1:]:
        loss = loss + t
    loss.backward()
    np.testing.assert_allclose(x.grad, 2.0 * expected, rtol=1e-12, atol=1e-12)


def test_tiling_slices_are_assembled_without_a_zeroed_buffer() -> None:
    """The one-pass assembly is taken for tilings, and refused for everything else."""
    from graphgrad.core.sparse_grad import IndexedGrad, tile

    def parts(shape: tuple[int, ...], *indices: Any, dtype: Any = np.float64) -> list[Any]:
        z = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
        return [IndexedGrad(i, z[i].astype(dtype), shape, False) for i in indices]

    z = np.arange(24.0).reshape(2, 3, 4)
    gates = parts((2, 3, 4), (Ellipsis, slice(2, 4)), (Ellipsis, slice(0, 2)))
    np.testing.assert_array_equal(tile(gates, (2, 3, 4)), z)
    steps = parts((2, 3, 4), 1, -2)
    np.testing.assert_array_equal(tile(steps, (2, 3, 4)), z)
    rows = parts((2, 3, 4), slice(1, None), slice(None, 1))
    np.testing.assert_array_equal(tile(rows, (2, 3, 4)), z)
    for bad in (
        parts((2, 3, 4), (Ellipsis, slice(0, 2)), (Ellipsis, slice(1, 4))),  # overlap
        parts((2, 3, 4), (Ellipsis, slice(0, 2)), (Ellipsis, slice(3, 4))),  # gap
        parts((2, 3, 4), 0, (Ellipsis, slice(0, 4))),  # different axes
        parts((2, 3, 4), (Ellipsis, slice(0, 4, 2)), (Ellipsis, slice(1, 4, 2))),  # strided
        parts((2, 3, 4), (slice(None), 0), (slice(None), slice(1, 3))),  # other index forms
        parts((2, 3, 4), np.array([0, 1])),  # an integer array
        parts((2, 3, 4), 0, 1)[:1] + parts((2, 3, 4), 1, dtype=np.float32),  # mixed dtypes
    ):
        assert tile(bad, (2, 3, 4)) is None


def test_many_slices_of_one_tensor_turn_dense_before_they_outgrow_it() -> None:
    """Collected slices never hold more elements than the gradient buffer itself."""
    from graphgrad.core import engine as autograd
    from graphgrad.core.sparse_grad import IndexedGrad

    y = leaf(np.ones((2, 3))) * 1.0
    pending: dict[int, list[Any]] = {}
    heap: list[int] = []
    for k in range(4):
        ig = IndexedGrad(0, np.full(3, 1.0), (2, 3), False)
        autograd._contribute_indexed(y._node, ig, pending, {}, heap)
        held = pending[-y._node._seq][1]
        assert isinstance(held, np.ndarray) == (k >= 2)  # 3 rows of 3 > 6 elements
    np.testing.assert_array_equal(held, [[4.0] * 3, [0.0] * 3])


def test_grad_accumulates_across_calls_until_cleared() -> None:
    x = leaf([1.0, -2.0])
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_leaves_sharing_an_upstream_gradient_do_not_alias() -> None:
    # Add passes the same upstream array to both inputs; each leaf must get its own copy.
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad *= 10
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad, [11.0, 11.0])
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])


def test_user_grad_argument_is_not_aliased_or_modified() -> None:
    x = leaf(np.zeros(3))
    g = np.array([1.0, 2.0, 3.0])
    (x + 0).backward(g)
    (x + 0).backward(g)
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


def test_views_of_the_user_grad_are_never_accumulated_into() -> None:
    # Both reshape rules return views of the user's array; summing them must allocate.
    x = leaf(np.zeros((2, 3)))
    h = x * 1.0
    g = np.arange(6.0)
    (h.reshape(6) + (h * 2).reshape(6)).backward(g)
    np.testing.assert_array_equal(g, np.arange(6.0))
    np.testing.assert_array_equal(x.grad, 3 * np.arange(6.0).reshape(2, 3))


def test_zero_dim_gradients_accumulate_over_many_paths() -> None:
    # 0-d arithmetic returns NumPy scalars; accumulation must still be by value.
    s = leaf(1.5)
    total = sum((s * k for k in range(1, 6)), gg.tensor(0.0))
    total.backward()
    assert s.grad == pytest.approx(15.0)


# The sum's gradient is written out when small and a broadcast view when large.
@pytest.mark.parametrize("n", [3, 20_000])
def test_sum_gradient_spreads_and_is_never_written_through(n: int) -> None:
    x = leaf(np.linspace(-1.0, 1.0, n).reshape(-1, 1))
    h = x * 1.0
    # h receives the sum's spread gradient plus a second contribution: adding them must
    # not write into the first (it may be a read-only broadcast view, or aliased).
    (h.sum() + (h * h).sum() + h.sum(axis=0).sum()).backward()
    np.testing.assert_allclose(x.grad, 2.0 + 2 * x.data)


def test_broadcast_bias_gradients_are_independent_buffers() -> None:
    """A leaf's gradient summed back from a broadcast shape is a new array the engine
    owns: accumulating into it later must not change any other gradient."""
    x = gg.tensor(np.arange(6.0).reshape(3, 2))
    b1, b2 = leaf(np.zeros(2)), leaf(np.zeros(2))
    ((x + b1) * 2 + (x + b2)).sum().backward()
    np.testing.assert_array_equal(b1.grad, [6.0, 6.0])
    np.testing.assert_array_equal(b2.grad, [3.0, 3.0])
    ((x + b1) + b2).sum().backward()
    np.testing.assert_array_equal(b1.grad, [9.0, 9.0])
    np.testing.assert_array_equal(b2.grad, [6.0, 6.0])


def test_sum_of_small_integers_keeps_numpys_result_type() -> None:
    t = gg.tensor(np.array([100, 100], dtype=np.int8))
    assert t.sum().dtype == np.sum(t.data).dtype and t.sum().item() == 200


def test_shared_weight_gets_sum_over_uses() -> None:
    # W is used at every step; its gradient is Σ_t of the per-step gradients.
    rng = np.random.default_rng(0)
    W = leaf(rng.standard_normal((3, 3)) * 0.5)
    h0 = gg.tensor(rng.standard_normal((2, 3)))

    def unrolled(W: gg.Tensor) -> gg.Tensor:
        h, total = h0, gg.tensor(0.0)
        for _ in range(4):
            h = (h @ W).tanh()
            total = total + h.sum()
        return total

    assert gg.gradcheck(unrolled, (W,))
    per_step = []
    for t in range(1, 5):  # gradient of the t-th step's term alone, summed afterwards
        h = h0
        for _ in range(t):
            h = (h @ W).tanh()
        (g,) = gg.grad(h.sum(), W)
        per_step.append(g.data)
    unrolled(W).backward()
    np.testing.assert_allclose(W.grad, np.sum(per_step, axis=0), rtol=1e-12)


# ------------------------------------------------------------------ graph lifetime
def test_second_backward_through_released_graph_raises() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(gg.GraphReleasedError, match="retain_graph=True"):
        y.backward()


def test_released_graph_error_leaves_grads_untouched() -> None:
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * w
    (h * 2).sum().backward()  # frees h's node
    before = x.grad.copy()
    with pytest.raises(gg.GraphReleasedError):
        (h * 3 + x).sum().backward()
    np.testing.assert_array_equal(x.grad, before)


def test_retain_graph_allows_repeated_backward() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, 4 * x.data)


def test_backward_frees_saved_arrays() -> None:
    x = leaf(np.ones(4))
    h = x.tanh()
    node = h.grad_fn
    h.sum().backward()
    assert node.saved_tensors == () and node.inputs is None


# ------------------------------------------------------------------ higher order
def test_create_graph_gives_second_derivative() -> None:
    x = leaf([0.3, -1.2, 2.0])
    y = (x**3).sum()
    (g,) = gg.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)


def test_backward_create_graph_sets_differentiable_grad() -> None:
    x = leaf([0.5, 1.5])
    (x.exp() * x).sum().backward(create_graph=True)
    assert isinstance(x.grad, gg.Tensor)
    first = x.grad
    np.testing.assert_allclose(first.data, np.exp(x.data) * (1 + x.data))
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp(x.data) * (2 + x.data))


def test_hessian_vector_product() -> None:
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    A = A + A.T
    x = leaf(rng.standard_normal(4))
    v = rng.standard_normal(4)
    f = 0.5 * (x @ gg.tensor(A) @ x)
    (g,) = gg.grad(f, x, create_graph=True)
    (hv,) = gg.grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.data, A @ v, rtol=1e-12)


def test_third_order() -> None:
    x = leaf(0.7)
    (g1,) = gg.grad(x**4, x, create_graph=True)
    (g2,) = gg.grad(g1, x, create_graph=True)
    (g3,) = gg.grad(g2, x)
    assert g3.item() == pytest.approx(24 * 0.7)


# ------------------------------------------------------------------ gg.grad
def test_grad_does_not_touch_dot_grad() -> None:
    x = leaf([1.0, 2.0])
    (g,) = gg.grad((x * x).sum(), x)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    assert x.grad is None


def test_grad_wrt_intermediate_and_multiple_outputs() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    y1, y2 = (h * h).sum(), h.sum()
    gh, gx = gg.grad([y1, y2], [h, x])
    np.testing.assert_array_equal(gh.data, 2 * h.data + 1)
    np.testing.assert_array_equal(gx.data, 3 * (2 * h.data + 1))


def test_grad_unused_input() -> None:
    x, z = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        gg.grad((x * 2).sum(), [x, z], retain_graph=True)
    gx, gz = gg.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2.0


def test_grad_of_a_root_that_is_also_an_input_of_another_root() -> None:
    x = leaf(2.0)
    a = x * x
    b = a * 3
    (gx,) = gg.grad([a, b], [x])
    assert gx.item() == pytest.approx(2 * 2.0 + 3 * 2 * 2.0)


# ------------------------------------------------------------------ grad mode, detach
def test_no_grad_records_nothing_and_enable_grad_reenables() -> None:
    x = leaf([1.0])
    with gg.no_grad():
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None
        with gg.enable_grad():
            z = x * 2
    assert z.requires_grad
    assert gg.is_grad_enabled()


def test_no_grad_as_decorator_restores_on_error() -> None:
    @gg.no_grad()
    def f(t: gg.Tensor) -> gg.Tensor:
        return t * 2

    assert not f(leaf([1.0])).requires_grad

    with pytest.raises(ZeroDivisionError), gg.no_grad():
        1 / 0  # noqa: B018
    assert gg.is_grad_enabled()


def test_grad_mode_is_per_thread() -> None:
    """A no_grad block in one thread neither stops recording in another nor leaks into it,
    in both directions, and a thread's backward leaves other threads' mode alone."""
    import threading

    x = leaf([1.0, 2.0])
    inside, release, seen = threading.Event(), threading.Event(), {}

    def worker_without_grad() -> None:
        with gg.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = (x * 2).requires_grad
        seen["worker_after"] = (x * 2).requires_grad

    t = threading.Thread(target=worker_without_grad)
    t.start()
    assert inside.wait(5)
    seen["main"] = (x * 2).requires_grad  # the other thread is inside no_grad right now
    (x * x).sum().backward()
    release.set()
    t.join()
    assert seen == {"worker": False, "worker_after": True, "main": True}

    def worker_with_grad() -> None:
        seen["recorded"] = (x * 3).requires_grad

    with gg.no_grad():
        t = threading.Thread(target=worker_with_grad)
        t.start()
        t.join()
        assert not (x * 3).requires_grad
    assert seen["recorded"] and (x * 3).requires_grad


def test_set_grad_enabled_as_a_call_and_bare_decorators() -> None:
    x = leaf([1.0])
    try:
        gg.set_grad_enabled(False)  # PyTorch's function form: applies at once
        assert not gg.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        gg.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with gg.no_grad():
        with gg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not gg.is_grad_enabled()  # the mode from before the call comes back

    @gg.set_grad_enabled(False)
    def frozen() -> bool:
        return (x * 2).requires_grad

    assert gg.is_grad_enabled()  # decorating does not switch the mode for the caller
    assert frozen() is False and gg.is_grad_enabled()

    @gg.no_grad
    def bare() -> bool:
        return (x * 2).requires_grad

    @gg.enable_grad
    def bare_on() -> bool:
        return (x * 2).requires_grad

    assert bare() is False and bare.__name__ == "bare"
    with gg.no_grad():
        assert bare_on() is True


def test_nested_and_repeated_mode_switches_count_each_thread_once() -> None:
    """The fast "no thread has recording off" flag stays exact through nested blocks,
    repeated set_grad_enabled(False) and truthy non-bool modes, in several threads."""
    import threading

    from graphgrad.core.grad_mode import threads_off

    x = leaf([1.0])
    seen: list[tuple[bool, bool, bool, bool]] = []

    def churn() -> None:
        for _ in range(200):
            with gg.no_grad(), gg.set_grad_enabled(0), gg.no_grad():
                off = (x * 2).requires_grad
                with gg.enable_grad(), gg.set_grad_enabled(1):
                    on = (x * 2).requires_grad
                off_again = (x * 2).requires_grad
            seen.append((off, on, off_again, (x * 2).requires_grad))

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    churn()
    for t in threads:
        t.join()
    assert len(seen) == 1000 and set(seen) == {(False, True, False, True)}
    assert threads_off == [] and (x * 2).requires_grad


def test_detach_cuts_the_graph_and_shares_data() -> None:
    x = leaf([1.0, 2.0])
    h = x * 2
    d = h.detach()
    assert d.is_leaf and not d.requires_grad
    assert d.data is h.data
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, h.data)


def test_truncated_bptt_by_detach() -> None:
    W = leaf(np.eye(2) * 0.5)
    h = gg.tensor(np.ones((1, 2)))
    for _ in range(3):
        h = (h @ W).tanh()
    h = h.detach()
    out = (h @ W).sum()
    out.backward()
    np.testing.assert_allclose(W.grad, h.data.T @ np.ones((1, 2)))


# ------------------------------------------------------------------ retain_grad, hooks
def test_retain_grad_exposes_intermediate_gradients() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    y = (h * h).sum()
    y.backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    mid = x * 2
    assert mid.grad is None  # not retained


def test_hook_sees_total_gradient_and_can_replace_it() -> None:
    x = leaf([1.0, 2.0])
    h = x * 1
    seen = []
    h.register_hook(lambda g: seen.append(g.copy()))
    (h * 2 + h * 3).sum().backward()  # two paths: the hook sees their sum once
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [5.0, 5.0])

    x.grad = None
    h = x * 1
    handle = h.register_hook(lambda g: g * 0)
    (h * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    handle.remove()
    x.grad = None
    h2 = x * 1
    h2.register_hook(lambda g: g * 10).remove()
    (h2 * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_hook_table_entries_go_with_their_last_hook_or_their_owner() -> None:
    import gc

    from graphgrad.core.hooks import table

    before = len(table)
    x = leaf([1.0, 2.0])
    h = x * 1
    handle = h.register_hook(lambda g: g)
    x.register_hook(lambda g: g)
    assert len(table) == before + 2
    handle.remove()
    handle.remove()  # twice is harmless
    assert len(table) == before + 1
    del x, h  # the leaf's entry goes with the leaf (so its id can be reused safely)
    gc.collect()
    assert len(table) == before
    y = leaf([3.0])
    (y * 2).sum().backward()  # no hooks anywhere: the engine skips looking
    np.testing.assert_array_equal(y.grad, [2.0])


def test_leaf_hook_runs_before_accumulation_and_stored_grad_is_safe() -> None:
    x = leaf([1.0, 2.0])
    stored = []
    x.register_hook(stored.append)
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(stored[0], [2.0, 2.0])  # not changed by accumulation
    np.testing.assert_array_equal(x.grad, [4.0, 4.0])


# ------------------------------------------------------------------ depth and memory
def test_deep_chain_of_20000_recurrent_steps_backpropagates() -> None:
    T = 20_000
    W = leaf(np.array([[0.9, 0.1], [-0.1, 0.9]]))
    x = gg.tensor(np.ones((1, 2)) * 0.01)
    h = gg.tensor(np.zeros((1, 2)))
    for _ in range(T):
        h = (h @ W + x).tanh()
    h.sum().backward()
    assert W.grad is not None and np.all(np.isfinite(W.grad))
    assert sys.getrecursionlimit() < T  # the test is meaningful: recursion would fail


def test_deep_graph_is_freed_without_backward() -> None:
    x = leaf(np.ones(2))
    h = x
    for _ in range(100_000):
        h = h * 1.0
    del h  # deallocation of a 100,000-deep chain must not overflow the C stack
    gc.collect()


def _rnn_step(W: gg.Tensor, V: gg.Tensor, b: gg.Tensor, xs: np.ndarray) -> None:
    h = gg.tensor(np.zeros((2, 4)))
    loss = None
    for t in range(xs.shape[1]):
        h = (gg.tensor(xs[:, t]) @ W + h @ V + b).tanh()
        step = (h * h).sum()
        loss = step if loss is None else loss + step
    loss.backward()
    for p in (W, V, b):
        p.data -= 0.001 * p.grad
        p.grad = None


def test_no_reference_cycles_memory_flat_over_10000_steps() -> None:
    """10,000 training steps with the cyclic GC off: nothing accumulates.

    Python-level objects (tensors, nodes, ndarray headers) are counted over all 10,000
    steps with sys.getallocatedblocks (cheap); tracemalloc, which also sees NumPy's data
    buffers but slows every allocation several-fold, measures bytes over the last 1,000.
    """
    rng = np.random.default_rng(0)
    W, V, b = (leaf(rng.standard_normal(s) * 0.3) for s in [(3, 4), (4, 4), (4,)])
    xs = rng.standard_normal((2, 3, 3))
    gc.collect()
    gc.disable()
    try:
        for _ in range(200):  # warm-up: caches, free lists
            _rnn_step(W, V, b, xs)
        blocks_before = sys.getallocatedblocks()
        for _ in range(9_000):
            _rnn_step(W, V, b, xs)
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(1_000):
            _rnn_step(W, V, b, xs)
        end, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        blocks_after = sys.getallocatedblocks()
        cyclic_garbage = gc.collect()  # anything found here was kept alive only by a cycle
    finally:
        gc.enable()
    assert cyclic_garbage == 0
    assert end - base < 16 * 1024, f"traced memory grew by {end - base} bytes"
    # tracemalloc's own bookkeeping blocks are freed by stop(); allow a little slack.
    assert blocks_after - blocks_before < 500, f"{blocks_after - blocks_before} blocks leaked"


def test_leak_detection_is_sensitive() -> None:
    """The same measurement sees a leak of one small graph per step."""
    kept = []
    x = leaf(np.ones(3))
    gc.collect()
    before = sys.getallocatedblocks()
    for _ in range(1_000):
        kept.append((x * 2).tanh())
    assert sys.getallocatedblocks() - before > 1_000


def test_graph_objects_are_freed_by_refcount_alone() -> None:
    gc.collect()
    gc.disable()
    try:
        x = leaf(np.ones(3))
        mid = (x * 2).tanh()
        y = (mid @ gg.tensor(np.ones(3))).exp()
        node_ref, out_ref = weakref.ref(mid.grad_fn), weakref.ref(y)
        del mid
        assert node_ref() is not None  # y's graph holds mid's node (y -> node -> inputs)
        del y
        assert node_ref() is None and out_ref() is None  # freed without the cyclic GC
    finally:
        gc.enable()


def test_unsaved_intermediate_arrays_are_freed_during_forward() -> None:
    """The graph references producer nodes, not tensors: an intermediate array that no
    backward rule saved is freed as soon as the user drops it, before backward."""
    x = leaf(np.ones(1000))
    pre = x * 2 + 1  # Add saves nothing
    pre_data = weakref.ref(pre.data)
    out = pre.tanh()  # Tanh saves its output, not its input
    del pre
    assert pre_data() is None
    kept = weakref.ref(out.data)
    total = out.sum()
    del out
    assert kept() is not None  # saved by tanh's rule, needed in backward
    total.backward()
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(3.0) ** 2))


# ------------------------------------------------------------------ sparse getitem gradients
def test_slices_of_leaf_and_non_leaf_accumulate_sparsely_and_correctly() -> None:
    rng = np.random.default_rng(5)
    x = leaf(rng.standard_normal((4, 3)))

    def per_step(x: gg.Tensor) -> gg.Tensor:
        h = x * 1.5  # non-leaf: its slices' gradients accumulate into one engine buffer
        total = (h * h).sum()  # a dense contribution mixed in
        for t in range(4):
            total = total + (h[t] * (t + 1)).tanh().sum() + x[t, 1:].sum() * t
        return total + h[[0, 0, 3]].sum() + x[np.array([True, False, True, False])].sum()

    assert gg.gradcheck(per_step, (x,))
    assert gg.gradgradcheck(per_step, (x,))
    expected = gg.grad(per_step(x), x)[0].data
    per_step(x).backward()
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_collector_is_paused_only_inside_unroll_and_backward() -> None:
    """Unrolling and backward pause the cyclic collector and restore its state after,
    also when they fail, and never switch it on if the user had it off."""
    seen = []

    class Probe(gg.Function):
        @staticmethod
        def forward(ctx: object, x: np.ndarray) -> np.ndarray:
            return x * 1.0

        @staticmethod
        def backward(ctx: object, g: np.ndarray) -> np.ndarray:
            seen.append(gc.isenabled())
            return g

    rnn = gg.nn.ElmanRNN(1, 3, batch_first=True)
    assert gc.isenabled()
    h, _ = rnn(np.zeros((1, 4, 1)))
    assert gc.isenabled()
    Probe.apply(h).sum().backward()
    assert seen == [False] and gc.isenabled()
    cell_step = rnn.cells[0].step

    def failing_step(*args: object) -> gg.Tensor:
        raise RuntimeError("a step failed")

    rnn.cells[0].step = failing_step
    with pytest.raises(RuntimeError, match="a step failed"):
        rnn(np.zeros((1, 4, 1)))
    assert gc.isenabled()
    rnn.cells[0].step = cell_step

    class Failing(Probe):
        @staticmethod
        def backward(ctx: object, g: np.ndarray) -> np.ndarray:
            raise RuntimeError("a rule failed")

    with pytest.raises(RuntimeError, match="a rule failed"):
        Failing.apply(h).sum().backward()
    assert gc.isenabled()
    gc.disable()
    try:
        Probe.apply(rnn(np.zeros((1, 2, 1)))[0]).sum().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()
