"""Bad input gets a clear error, raised where the mistake is (DESIGN rule 8)."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def leaf(a: object) -> gg.Tensor:
    return gg.tensor(a, requires_grad=True)


@pytest.mark.parametrize(
    "fn, op, shapes",
    [
        (lambda a, b: a + b, "Add", ["(2, 3)", "(4,)"]),
        (lambda a, b: a * b, "Mul", ["(2, 3)", "(4,)"]),
        (lambda a, b: a @ b, "MatMul", ["(2, 3)", "(4,)"]),
        (lambda a, b: gg.concat([a, b], axis=0), "Concat", ["(2, 3)", "(4,)"]),
        (
            lambda a, b: gg.nn.functional.linear(a, leaf(np.ones((5, 3))), b),
            "Linear",
            ["(2, 3)", "(5, 3)", "(4,)"],
        ),
        (
            lambda a, b: gg.nn.functional.linear(a, leaf(np.ones((5, 4))), leaf(np.ones(5))),
            "Linear",
            ["(2, 3)", "(5, 4)", "in_features (4"],
        ),
    ],
)
def test_shape_mismatch_names_op_and_both_shapes(fn, op, shapes) -> None:  # type: ignore[no-untyped-def]
    a, b = leaf(np.ones((2, 3))), leaf(np.ones(4))
    with pytest.raises(gg.ShapeError) as info:
        fn(a, b)
    msg = str(info.value)
    assert op in msg and all(s in msg for s in shapes)
    assert isinstance(info.value, ValueError)  # still catchable as NumPy's error type


def test_matmul_inner_dimension_mismatch() -> None:
    with pytest.raises(gg.ShapeError, match=r"MatMul: operands of shapes \(3, 4\) and \(5, 2\)"):
        leaf(np.ones((3, 4))) @ leaf(np.ones((5, 2)))


def test_matmul_of_zero_dim_operands_is_a_shape_error() -> None:
    with pytest.raises(gg.ShapeError, match=r"MatMul: operands of shapes \(\) and \(\)"):
        leaf(2.0) @ leaf(3.0)


def test_reshape_and_sum_axis_errors_name_the_op() -> None:
    with pytest.raises(gg.ShapeError, match=r"Reshape.*\(2, 3\)"):
        leaf(np.ones((2, 3))).reshape(4)
    with pytest.raises(gg.ShapeError, match="Sum"):
        leaf(np.ones((2, 3))).sum(axis=2)


def test_index_error_names_op_and_shape() -> None:
    with pytest.raises(IndexError, match=r"GetItem.*\(2, 3\)"):
        leaf(np.ones((2, 3)))[5]


@pytest.mark.parametrize("data", [[1, 2, 3], [True, False], np.arange(3)])
def test_requires_grad_on_integer_or_bool_data(data: object) -> None:
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        gg.tensor(data, requires_grad=True)
    t = gg.tensor(data)
    with pytest.raises(TypeError, match="dtype"):
        t.requires_grad = True


def test_non_numeric_data_is_refused() -> None:
    with pytest.raises(TypeError, match="real numbers"):
        gg.tensor(["a", "b"])


def test_backward_on_non_scalar_without_grad() -> None:
    y = leaf(np.ones((3, 4))) * 2
    with pytest.raises(RuntimeError, match=r"shape \(3, 4\).*grad=.*y.sum\(\).backward\(\)"):
        y.backward()


def test_backward_with_grad_of_wrong_shape() -> None:
    y = leaf(np.ones((3, 4))) * 2
    with pytest.raises(ValueError, match=r"grad has shape \(4, 3\) but the tensor .* \(3, 4\)"):
        y.backward(np.ones((4, 3)))


def test_tensor_backward_takes_its_gradient_as_a_nested_list() -> None:
    x = leaf(np.ones((2, 2)))
    (x * 2).backward([[1.0, 2.0], [3.0, 4.0]])  # one root: the list is its gradient
    np.testing.assert_array_equal(x.grad, [[2.0, 4.0], [6.0, 8.0]])
    x.grad = None
    (x[0] * 2).backward([1.0, 2.0])  # even when its length could pass for a count of roots
    np.testing.assert_array_equal(x.grad, [[2.0, 4.0], [0.0, 0.0]])


def test_backward_through_released_graph() -> None:
    y = (leaf([1.0, 2.0]) ** 2).sum()
    y.backward()
    with pytest.raises(gg.GraphReleasedError, match="retain_graph=True"):
        y.backward()


def test_backward_on_tensor_that_does_not_require_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.tensor(1.0).backward()
    x = leaf([1.0])
    with gg.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_assigning_grad_of_wrong_shape() -> None:
    x = leaf(np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2,\) to a tensor of shape \(3,\)"):
        x.grad = np.ones(2)


def test_in_place_assignment_is_refused_with_advice() -> None:
    with pytest.raises(TypeError, match=r"t\.data"):
        leaf(np.ones(3))[0] = 1.0


def test_a_list_holding_a_tensor_that_requires_grad_is_refused() -> None:
    # NumPy would turn the list into a constant array: the gradient would be silently lost
    a = leaf([1.0, 2.0])
    for build in (
        lambda: gg.tensor([a, a * 2]),
        lambda: gg.tensor([[1.0, 2.0], (a.sum(), 0.0)]),  # nested
        lambda: a * [a, a],
        lambda: gg.ops.Tanh.apply([a]),
        lambda: gg.tensor([1.0, 2.0]).__iadd__([a.sum(), 0.0]),  # c += [...]
    ):
        with pytest.raises(TypeError, match=r"gradient would be lost.*gg\.stack"):
            build()
    assert gg.stack([a, a * 2]).requires_grad  # the way to keep the graph
    with gg.no_grad():  # nothing recorded: a constant is what is asked for
        np.testing.assert_array_equal(gg.tensor([a, a]).data, [[1.0, 2.0], [1.0, 2.0]])
    assert (a.reshape([2, 1]) * [[1.0], [2.0]]).shape == (2, 1)  # plain lists still fine


def test_switching_off_requires_grad_on_non_leaf() -> None:
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad = False


def test_nan_producing_ops_follow_numpy_and_do_not_crash_the_engine() -> None:
    x = leaf([-1.0, 0.0, 4.0])
    with np.errstate(all="ignore"):
        logs = x.log()
        y = logs + x**0.5 + x / x
        y.sum().backward()
    assert np.isnan(y.data[0]) and np.isneginf(logs.data[1])
    assert x.grad.shape == (3,)
    assert np.isnan(x.grad[0]) and np.isfinite(x.grad[2])


def test_hook_returning_wrong_shape() -> None:
    x = leaf(np.ones(3))
    h = x * 2
    h.register_hook(lambda g: np.ones(2))
    with pytest.raises(gg.ShapeError, match="hook"):
        h.sum().backward()


def test_numpy_function_that_would_drop_the_gradient() -> None:
    x = leaf([0.5, 1.0])
    with pytest.raises(
        TypeError,
        match=r"np\.arctan \(on Tensor \(2,\) float64 requiring grad\) is not.*gg\.Function",
    ):
        np.arctan(x)
    assert np.arctan(gg.tensor([0.0]))[0] == 0.0  # no gradient to lose: computed on the data
