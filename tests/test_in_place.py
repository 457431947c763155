"""In-place operators (+=, -=, *=, /=, **=) and index assignment: they change the Tensor
object (every reference sees it) and never overwrite an array a recorded rule saved."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg


def leaf(a: object, **kw: object) -> gg.Tensor:
    return gg.tensor(a, requires_grad=True, **kw)


# ------------------------------------------------------------------ parameter updates
def test_the_pytorch_parameter_update_keeps_a_trainable_leaf(rng: np.random.Generator) -> None:
    X = rng.standard_normal((16, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    W = leaf(np.zeros((3, 1)))
    arr = W.data
    losses = []
    for _ in range(50):
        loss = ((gg.tensor(X) @ W - y) ** 2).mean()
        loss.backward()
        expected = W.data - 0.1 * W.grad
        with gg.no_grad():
            W -= 0.1 * W.grad
        np.testing.assert_array_equal(W.data, expected)
        W.grad = None
        losses.append(loss.item())
    assert W.is_leaf and W.requires_grad and W.data is arr  # the same tensor, same array
    assert losses[-1] < 0.05 * losses[0]


def test_in_place_on_a_leaf_that_requires_grad_is_refused_while_recording() -> None:
    w = leaf([1.0, 2.0])
    for update in (
        lambda w: w.__iadd__(1.0),
        lambda w: w.__isub__(gg.tensor([1.0, 1.0])),
        lambda w: w.__imul__(2.0),
        lambda w: w.__itruediv__(2.0),
        lambda w: w.__ipow__(2.0),
    ):
        with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad.*gg\.no_grad"):
            update(w)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    assert w.is_leaf


def test_untracked_in_place_writes_into_the_shared_array() -> None:
    a = np.array([1.0, 2.0])
    t = gg.from_numpy(a)  # shares a, as in NumPy and PyTorch
    t += 1.0
    t *= gg.tensor([2.0, 3.0])
    t **= 2
    t /= 4.0
    np.testing.assert_array_equal(a, [4.0, 20.25])
    assert t.data is a and t.is_leaf and not t.requires_grad


def test_in_place_under_no_grad_on_a_non_leaf_is_not_differentiated() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3
    node = h.grad_fn
    with gg.no_grad():
        h *= 10  # not recorded: as in PyTorch, the gradient ignores it
    assert h.grad_fn is node
    np.testing.assert_array_equal(h.data, [30.0, 60.0])
    h.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_untracked_in_place_on_a_non_leaf_leaves_its_saved_output_alone() -> None:
    x = leaf([0.5, -1.0])
    y = x.tanh()  # Tanh saved its output y for the backward rule: 1 - y²
    out = y.data
    with gg.no_grad():
        y *= 10.0
        y[0] = 3.0
    np.testing.assert_allclose(y.data, [3.0, 10 * np.tanh(-1.0)])
    np.testing.assert_allclose(out, np.tanh([0.5, -1.0]))  # the saved array is untouched
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1 - np.tanh([0.5, -1.0]) ** 2)


# ------------------------------------------------------------------ recorded in-place
def test_recorded_in_place_updates_every_reference_and_differentiates(
    rng: np.random.Generator,
) -> None:
    def f(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        a = x.tanh()
        b = a * 3.0  # Mul saved a's array: the in-place ops below must not overwrite it
        alias = a
        a += y
        a *= x
        a -= 0.5
        a /= 2.0
        a **= 2.0
        assert alias is a
        return (a * b).sum()

    x, y = leaf(rng.standard_normal(5)), leaf(rng.standard_normal(5))
    assert gg.gradcheck(f, (x, y))
    xv, yv = x.data, y.data
    a0 = np.tanh(xv)
    closed = (((a0 + yv) * xv - 0.5) / 2.0) ** 2 * 3.0 * a0
    np.testing.assert_allclose(f(x, y).item(), closed.sum())


def test_accumulating_a_loss_in_place() -> None:
    ws = [leaf([float(i)]) for i in range(1, 4)]
    total = gg.tensor(0.0)
    for w in ws:
        total += (w * w).sum()
    assert not total.is_leaf and total.requires_grad
    total.backward()
    for i, w in enumerate(ws, 1):
        np.testing.assert_array_equal(w.grad, [2.0 * i])


def test_recorded_in_place_keeps_the_tensor_dtype() -> None:
    x32 = gg.tensor(np.ones(3, dtype=np.float32))
    w = leaf(np.full(3, 2.0))  # float64
    x32 += w  # x32 does not require grad; w makes the op recorded
    assert x32.dtype == np.float32 and x32.requires_grad
    x32.sum().backward()
    assert w.grad.dtype == np.float64
    np.testing.assert_array_equal(w.grad, np.ones(3))


def test_retain_grad_follows_the_new_value_hooks_stay_with_the_old() -> None:
    x = leaf([1.0, 2.0])
    h = x * 1.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(np.array(g)))
    h *= 3.0
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)  # ∂L/∂(new h)
    np.testing.assert_allclose(seen[0], 3 * 2 * h.data)  # ∂L/∂(old h)


def test_moving_retain_grad_leaves_no_entry_behind() -> None:
    from graphgrad.core.hooks import table as _hook_table

    h = leaf([1.0]) * 2.0
    h.retain_grad()
    old = h.grad_fn
    assert id(old) in _hook_table
    h += 1.0
    assert id(old) not in _hook_table and id(h.grad_fn) in _hook_table


# ------------------------------------------------------------------ shapes and errors
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    record=st.booleans(),
)
def test_in_place_needs_the_result_to_fit_the_tensor(shapes: object, record: bool) -> None:
    (s, o), result = shapes.input_shapes, shapes.result_shape  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(s), rng.standard_normal(o)
    t = gg.tensor(a) * 1.0 if record else gg.tensor(a)
    other = leaf(b) if record else b
    if tuple(result) == tuple(s):
        t += other
        np.testing.assert_allclose(t.data, a + b)
        assert t.requires_grad == record
    else:
        with pytest.raises(gg.ShapeError, match=r"\+=") as err:
            t += other
        assert f"tensor of shape {tuple(s)}" in str(err.value)


def test_in_place_into_a_read_only_array_says_so() -> None:
    a = np.zeros(3)
    a.flags.writeable = False
    t = gg.from_numpy(a)
    with pytest.raises(ValueError, match="read-only"):
        t += 1.0


def test_index_assignment_writes_when_nothing_is_recorded() -> None:
    w = leaf(np.zeros(4))
    with gg.no_grad():
        w[1:3] = gg.tensor([5.0, 6.0])
    np.testing.assert_array_equal(w.data, [0.0, 5.0, 6.0, 0.0])
    c = gg.tensor(np.zeros((2, 2)))
    c[c.data == 0] = 1.0  # a tensor that requires no grad: plain NumPy assignment
    np.testing.assert_array_equal(c.data, np.ones((2, 2)))
    with pytest.raises(TypeError, match="no_grad"):
        w[0] = 1.0
    with pytest.raises(TypeError, match="no_grad"):
        c[0] = w[:2]  # the value requires grad: assignment would be recorded
