"""Conventions at non-differentiable points, written down in the docstrings and tested:
max splits the gradient evenly among ties (the reduction, and elementwise maximum/minimum);
relu'(0) = 0."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def test_max_splits_gradient_evenly_among_ties() -> None:
    x = gg.tensor([1.0, 3.0, 3.0, 2.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0, 1 / 3, 1 / 3, 0, 1 / 3])


def test_max_ties_along_an_axis() -> None:
    x = gg.tensor([[2.0, 2.0], [1.0, 5.0]], requires_grad=True)
    x.max(axis=1).backward(np.array([10.0, 1.0]))
    np.testing.assert_allclose(x.grad, [[5.0, 5.0], [0.0, 1.0]])


def test_relu_derivative_at_zero_is_zero() -> None:
    x = gg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_min_mirrors_max() -> None:
    x = gg.tensor([0.0, -4.0, -4.0], requires_grad=True)
    x.min().backward()
    np.testing.assert_allclose(x.grad, [0, 0.5, 0.5])


def test_stable_softmax_for_huge_logits() -> None:
    x = gg.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    y = x.log_softmax(axis=1)
    assert np.all(np.isfinite(y.data))
    (y[0, 0] + x.softmax(axis=1)[0, 1]).backward()
    assert np.all(np.isfinite(x.grad))


def test_sigmoid_keeps_precision_for_large_negative_inputs() -> None:
    x = gg.tensor([-40.0, 40.0, -800.0])
    y = x.sigmoid().data
    np.testing.assert_allclose(y[0], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-14)
    assert y[1] == 1.0 and 0.0 <= y[2] < 1e-300  # below exp's range: ~1e-308, not 0


def test_sigmoid_result_dtypes_follow_numpy_exp() -> None:
    """float64/float32 keep their precision; integers and bools give floats, as np.exp does
    for integers; float16 is computed in float32 (its own exp overflows beyond 11, which
    would cap σ(x) at σ(−11) for every x below it)."""
    x = np.array([-12.0, -1.0, 0.0, 3.0])
    for dtype, want, rtol in (
        (np.float64, np.float64, 1e-15),
        (np.float32, np.float32, 1e-6),
        (np.float16, np.float32, 1e-3),  # the input is rounded to float16 first
        (np.int64, np.float64, 1e-15),
        (np.int8, np.float32, 1e-6),
    ):
        y = gg.tensor(x.astype(dtype)).sigmoid().data
        assert y.dtype == want, (dtype, y.dtype)
        np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)), rtol=rtol)
    assert gg.tensor(np.array([True, False])).sigmoid().dtype == np.float32
    assert gg.tensor(np.float16(-30.0)).sigmoid().data > 0  # no overflow, no warning


def test_elementwise_maximum_and_minimum_split_ties_evenly() -> None:
    a = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = gg.tensor([2.0, 2.0, 1.0], requires_grad=True)
    (gg.maximum(a, b) * [1.0, 10.0, 100.0]).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 5.0, 100.0])
    np.testing.assert_array_equal(b.grad, [1.0, 5.0, 0.0])
    a.grad = b.grad = None
    np.minimum(a, b).sum().backward()  # NumPy's spelling records the same op
    np.testing.assert_array_equal(a.grad, [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(b.grad, [0.0, 0.5, 1.0])


def test_maximum_with_a_broadcast_constant_is_relu_with_the_tie_shared() -> None:
    x = gg.tensor([[-1.0, 0.0, 2.0]], requires_grad=True)
    y = np.maximum(np.zeros((2, 1)), x)  # constant first, broadcast over rows
    assert y.shape == (2, 3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 2.0]])


def test_where_gives_the_unselected_side_an_exact_zero() -> None:
    # a mask product c*a + (1-c)*b would be NaN here (0 * inf), forward and backward
    a = gg.tensor([np.inf, 1.0], requires_grad=True)
    b = gg.tensor([5.0, -np.inf], requires_grad=True)
    y = gg.where(np.array([False, True]), a, b)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(y.data, [5.0, 1.0])
    np.testing.assert_array_equal(a.grad, [0.0, 2.0])
    np.testing.assert_array_equal(b.grad, [2.0, 0.0])


def test_where_before_a_singular_op_keeps_gradients_finite() -> None:
    # where(x > 0, log x, 0) still differentiates log at x <= 0 (0 * 1/0 = NaN, as in every
    # framework); masking the operand first is the documented way round
    x = gg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    safe = gg.where(x > 0, x, gg.tensor(1.0))
    y = gg.where(x > 0, safe.log(), gg.tensor(0.0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.5])


def test_np_where_records_and_its_one_argument_form_stays_numpy() -> None:
    x = gg.tensor([-2.0, 3.0], requires_grad=True)
    leaky = np.where(x > 0, x, 0.1 * x)
    assert leaky.grad_fn is not None
    leaky.sum().backward()
    np.testing.assert_allclose(x.grad, [0.1, 1.0])
    (idx,) = np.where(x > 0)
    np.testing.assert_array_equal(idx, [1])
    with pytest.raises(TypeError, match="either a condition alone"):
        np.where(x > 0, x)
