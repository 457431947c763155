"""Users' own primitives (gg.Function) take the same path as the built-in ops."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import graphgrad as gg


class Cube(gg.Function):
    """y = x³, ∂L/∂x = 3x² g."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 3 * x**2 * grad


class WrongCube(Cube):
    """A deliberately wrong rule: 2x² instead of 3x²."""

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 2 * x**2 * grad


class ScaledAdd(gg.Function):
    """z = a + alpha b, with a constant keyword argument; returns a broadcast gradient."""

    @staticmethod
    def forward(ctx: Any, a: np.ndarray, b: np.ndarray, alpha: float = 1.0) -> np.ndarray:
        ctx.alpha = alpha
        return a + alpha * b

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = ctx.needs_input_grad
        return (grad if need_a else None), (ctx.alpha * grad if need_b else None)


def test_custom_function_forward_backward_and_gradchecks() -> None:
    x = gg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert isinstance(y.grad_fn, Cube)
    np.testing.assert_array_equal(y.data, x.data**3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 3 * x.data**2)
    assert gg.gradcheck(Cube.apply, (x,))
    assert gg.gradgradcheck(Cube.apply, (x,))  # the rule, run on Tensors, is differentiable


def test_custom_function_composes_with_builtin_ops() -> None:
    x = gg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    w = gg.tensor(np.ones((3, 2)) * 0.3, requires_grad=True)
    assert gg.gradcheck(lambda x, w: Cube.apply(x @ w).tanh().sum(), (x, w))


def test_wrong_backward_rule_is_caught_and_reported() -> None:
    x = gg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with pytest.raises(gg.GradcheckError) as info:
        gg.gradcheck(WrongCube.apply, (x,))
    msg = str(info.value)
    assert "input 0" in msg
    # the worst element is x[2] = 2: analytical 2·4 = 8 vs numerical 3·4 = 12
    assert "input element (2,)" in msg
    analytical, numerical = map(float, re.findall(r"analytical (\S+) vs numerical (\S+)", msg)[0])
    assert analytical == pytest.approx(8.0) and numerical == pytest.approx(12.0, rel=1e-6)
    assert gg.gradcheck(WrongCube.apply, (x,), raise_exception=False) is False


def test_wrong_rule_is_caught_in_fast_mode_too() -> None:
    x = gg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with pytest.raises(gg.GradcheckError, match=r"fast mode.*element \(\d,\)"):
        gg.gradcheck(lambda t: WrongCube.apply(t).sum(), (x,), fast_mode=True)


def test_constants_keywords_and_broadcast_gradients() -> None:
    a = gg.tensor(np.ones((2, 3)), requires_grad=True)
    b = gg.tensor(np.arange(3.0), requires_grad=True)  # broadcast: engine sums its grad
    z = ScaledAdd.apply(a, b, alpha=2.0)
    z.sum().backward()
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(a.grad, np.ones((2, 3)))
    c = gg.tensor(np.ones(3))  # constant: needs_input_grad[1] is False
    ScaledAdd.apply(a, c, alpha=3.0).sum().backward()
    assert c.grad is None
    assert gg.gradcheck(lambda a, b: ScaledAdd.apply(a, b, alpha=0.5), (a, b))


def test_backward_returning_an_unreducible_shape_is_reported() -> None:
    class Bad(gg.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
            return x * 2

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return np.ones(7)

    x = gg.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(gg.ShapeError, match=r"backward of Bad .* shape \(7,\) .* shape \(3,\)"):
        Bad.apply(x).sum().backward()


class Product(gg.Function):
    """z = a ∘ b whose rule returns ``grads`` (set per test) instead of the right ones."""

    grads: Any = None

    @staticmethod
    def forward(ctx: Any, a: np.ndarray, b: Any) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        a, b = ctx.saved_tensors
        return Product.grads(grad, a, b)


@pytest.mark.parametrize(
    ("rule", "what"),
    [
        (lambda g, a, b: g * b, "a later one requires grad"),  # forgot b's gradient
        (lambda g, a, b: (g * b,), "a later one requires grad"),
        (lambda g, a, b: (g * b, g * a, g), "more"),
    ],
)
def test_a_rule_returning_the_wrong_number_of_gradients_is_an_error(rule: Any, what: str) -> None:
    # zip() over inputs and gradients would otherwise leave b without its gradient, silently
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    b = gg.tensor([3.0, 4.0], requires_grad=True)
    Product.grads = staticmethod(rule)
    with pytest.raises(TypeError, match=f"backward of Product returned .*, and {what}"):
        Product.apply(a, b).sum().backward()
    assert a.grad is None and b.grad is None  # nothing half-applied


def test_a_rule_may_leave_out_gradients_of_trailing_constants_and_return_a_list() -> None:
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    Product.grads = staticmethod(lambda g, a, b: g * b)  # b is a constant: no gradient needed
    Product.apply(a, np.array([3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])

    b = gg.tensor([3.0, 4.0], requires_grad=True)
    a.grad = None
    Product.grads = staticmethod(lambda g, a, b: [g * b, g * a])  # a list is one per input
    Product.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])


def test_forward_must_return_arrays() -> None:
    class Listed(gg.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> Any:
            return [x, x]

    with pytest.raises(TypeError, match="must return an ndarray or a tuple of ndarrays, got list"):
        Listed.apply(gg.tensor([1.0], requires_grad=True))

    class HalfEmpty(gg.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> Any:
            return x, None

    with pytest.raises(TypeError, match="got NoneType"):
        HalfEmpty.apply(gg.tensor([1.0], requires_grad=True))

    class Nothing(gg.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> Any:
            return ()

    with pytest.raises(TypeError, match="returned no outputs"):
        Nothing.apply(gg.tensor([1.0], requires_grad=True))


class ExpPair(gg.Function):
    """(eˣ, 2eˣ), saving its own first output: the rule needs it."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = np.exp(x)
        ctx.save_for_backward(e)
        return e, 2 * e

    @staticmethod
    def backward(ctx: Any, g1: Any, g2: Any) -> Any:
        (e,) = ctx.saved_tensors
        return (g1 + 2 * g2) * e


class ProductAndSum(gg.Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ctx.save_for_backward(x, y)
        return x * y, (x + y).sum(axis=-1)

    @staticmethod
    def backward(ctx: Any, g_prod: Any, g_sum: Any) -> Any:
        x, y = ctx.saved_tensors
        g_sum = g_sum[..., None]
        return g_prod * y + g_sum, g_prod * x + g_sum


def test_a_function_may_return_several_outputs() -> None:
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = gg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    p, s = ProductAndSum.apply(x, y)
    np.testing.assert_array_equal(p.data, x.data * y.data)
    np.testing.assert_array_equal(s.data, (x.data + y.data).sum(-1))
    assert repr(p.grad_fn) == "<Reshape>" and "ProductAndSum" in repr(p.grad_fn.inputs[0].inputs[0])
    (p.sum() + 2 * s.sum()).backward()
    np.testing.assert_allclose(x.grad, y.data + 2)
    np.testing.assert_allclose(y.grad, x.data + 2)
    assert gg.gradcheck(ProductAndSum.apply, (x, y))
    assert gg.gradgradcheck(ProductAndSum.apply, (x, y))
    # an output that never reaches the loss gets a zero gradient, as in PyTorch
    assert gg.gradcheck(lambda x, y: ProductAndSum.apply(x, y)[1], (x, y))
    # a saved output is the output itself under create_graph: second derivatives see eˣ's
    assert gg.gradgradcheck(ExpPair.apply, (x,))
    assert gg.gradgradcheck(lambda x: ExpPair.apply(x)[1], (x,))
    with gg.no_grad():
        a, b = ExpPair.apply(x)
    assert a.grad_fn is None and not b.requires_grad


def test_integer_outputs_are_not_differentiable_and_dtypes_are_kept() -> None:
    class MaxAndWhere(gg.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            i = x.argmax(axis=1)
            ctx.save_for_backward(i)
            return x.max(axis=1), i, x.astype(np.float32) * 2

        @staticmethod
        def backward(ctx: Any, g: Any, g_index: Any, g32: Any) -> Any:
            (i,) = ctx.saved_tensors
            assert g_index is None and g32.dtype == np.float32
            out = 2 * g32.astype(np.float64)
            out[np.arange(len(i)), i] += g
            return out

    x = gg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    v, i, d = MaxAndWhere.apply(x)
    assert i.dtype.kind == "i" and not i.requires_grad and d.dtype == np.float32
    (v.sum() + d.sum()).backward()
    expected = np.full((3, 4), 2.0)
    expected[np.arange(3), x.data.argmax(1)] += 1
    np.testing.assert_allclose(x.grad, expected)
    assert gg.gradcheck(lambda x: MaxAndWhere.apply(x)[0], (x,))


def test_a_multi_output_function_releases_and_guards_what_it_saved() -> None:
    x = gg.tensor(np.ones(3), requires_grad=True)
    a, b = ExpPair.apply(x)
    node = a.grad_fn.inputs[0].inputs[0]
    (a * b).sum().backward()
    assert node.saved_tensors == () and node.inputs is None  # released, as for one output
    with pytest.raises(gg.GraphReleasedError):
        (a * b).sum().backward()
    w = gg.tensor(np.ones(3), requires_grad=True)
    p, _ = ProductAndSum.apply(w, x)
    with gg.no_grad():
        w -= 1.0  # overwrites an array the rule saved
    with pytest.raises(RuntimeError, match="ProductAndSum"):
        p.sum().backward()


def test_nothing_is_recorded_without_grad() -> None:
    y = Cube.apply(gg.tensor([2.0]))
    assert y.grad_fn is None and not y.requires_grad
    with gg.no_grad():
        y = Cube.apply(gg.tensor([2.0], requires_grad=True))
    assert y.grad_fn is None


def test_zero_dim_output_keeps_saved_output_identity() -> None:
    class Square(gg.Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
            out = x * x  # a NumPy scalar for 0-d x
            ctx.save_for_backward(x, out)
            return out

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            x, out = ctx.saved_tensors
            return 2 * out / x * grad

    x = gg.tensor(1.5, requires_grad=True)
    assert gg.gradgradcheck(Square.apply, (x,))
