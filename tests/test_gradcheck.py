"""gg.gradcheck / gg.gradgradcheck as users call them on their own functions and layers."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def test_checks_every_input_that_requires_grad() -> None:
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    W = gg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    b = gg.tensor(rng.standard_normal(2), requires_grad=True)
    assert gg.gradcheck(lambda x, W, b: (x @ W + b).sigmoid(), (x, W, b))
    assert gg.gradgradcheck(lambda x, W, b: (x @ W + b).sigmoid(), (x, W, b))


class LeakyGrad(gg.Function):  # correct for a, 1% off for b
    @staticmethod
    def forward(ctx, a, b):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def]
        a, b = ctx.saved_tensors
        return g * b, g * a * 1.01


def test_a_wrong_gradient_in_the_second_input_is_found() -> None:
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    b = gg.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(gg.GradcheckError, match=r"input 1 \(shape \(2,\)\)"):
        gg.gradcheck(LeakyGrad.apply, (a, b))


def test_float32_inputs_are_refused_with_an_explanation() -> None:
    x = gg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match=r"float64.*float32.*rounding.*astype\(np.float64\)"):
        gg.gradcheck(lambda t: t * 2, (x,))


def test_float32_output_is_refused() -> None:
    x = gg.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="output of fn"):
        gg.gradcheck(lambda t: (t * 2).astype(np.float32), (x,))


def test_constants_pass_through_and_only_grad_inputs_are_checked() -> None:
    x = gg.tensor([0.3, 0.7], requires_grad=True)
    c = np.array([2.0, 3.0])
    assert gg.gradcheck(lambda x, c, k: (x * c) ** k, (x, c, 2))


def test_no_differentiable_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="no input requires grad"):
        gg.gradcheck(lambda t: t * 2, (gg.tensor([1.0]),))


def test_closure_over_parameters() -> None:
    # A "layer" whose parameters are reached through a closure: perturbing the same
    # tensors in place is seen by the closure.
    rng = np.random.default_rng(1)
    W = gg.tensor(rng.standard_normal((3, 3)), requires_grad=True)

    def layer(x: gg.Tensor) -> gg.Tensor:
        return (x @ W).tanh()

    x = gg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert gg.gradcheck(lambda x, _W: layer(x), (x, W))


def test_multiple_outputs() -> None:
    x = gg.tensor([0.2, 0.4, 0.6], requires_grad=True)
    assert gg.gradcheck(lambda t: (t.exp(), t.softmax(), t.sum()), (x,))


def test_fast_mode_agrees_on_correct_gradients() -> None:
    rng = np.random.default_rng(2)
    x = gg.tensor(rng.standard_normal((5, 6)), requires_grad=True)
    assert gg.gradcheck(lambda t: (t @ t.T).tanh(), (x,), fast_mode=True)
    assert gg.gradgradcheck(lambda t: (t @ t.T).tanh(), (x,), fast_mode=True)


def test_gradgradcheck_catches_a_rule_that_is_not_differentiable() -> None:
    class Opaque(gg.Function):  # correct first derivative, but backward leaves the graph
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            # the arrays, taken outside the graph on purpose (.data of a Tensor under
            # create_graph; the rule gets plain arrays otherwise)
            x, g = (a.data if isinstance(a, gg.Tensor) else a for a in (x, g))
            return 3 * x**2 * g

    x = gg.tensor([0.5, 1.5], requires_grad=True)
    assert gg.gradcheck(Opaque.apply, (x,))
    with pytest.raises(gg.GradcheckError):
        gg.gradgradcheck(Opaque.apply, (x,))

    class Converted(Opaque):  # np.asarray of a Tensor that requires grad: refused outright
        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return 3 * np.asarray(x) ** 2 * np.asarray(g)

    with pytest.raises(TypeError, match="constant array"):
        gg.gradgradcheck(Converted.apply, (x,))


def test_does_not_touch_grads_or_data() -> None:
    x = gg.tensor([0.1, 0.2], requires_grad=True)
    before = x.data.copy()
    gg.gradcheck(lambda t: t.tanh(), (x,))
    assert x.grad is None
    np.testing.assert_array_equal(x.data, before)


def test_a_random_function_is_reported_as_such_not_as_a_wrong_gradient() -> None:
    from graphgrad import nn
    from graphgrad.nn import functional as F
    from graphgrad.testing import check_module

    x = gg.tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    for fast in (False, True):
        with pytest.raises(gg.GradcheckError, match=r"not deterministic.*model\.eval\(\)"):
            gg.gradcheck(lambda x: F.dropout(x, 0.5), (x,), fast_mode=fast)
    assert not gg.gradcheck(lambda x: F.dropout(x, 0.5), (x,), raise_exception=False)
    assert gg.gradcheck(lambda x: F.dropout(x, 0.5, rng=1), (x,))  # a fixed mask is a function

    def layer(rng: np.random.Generator) -> nn.Module:
        return nn.Sequential(nn.Linear(5, 3, rng=rng), nn.Dropout(0.5))

    with pytest.raises(gg.GradcheckError, match="not deterministic"):
        check_module(layer, [(4, 5)], max_examples=2)
    check_module(lambda rng: layer(rng).eval(), [(4, 5)], max_examples=2)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_the_failure_is_carried_as_fields(fast_mode: bool) -> None:
    """GradcheckError says which input, element and values failed, as attributes (tools such
    as check_module read them, not the message)."""

    a = gg.tensor(np.full((2, 3), 0.5), requires_grad=True)
    b = gg.tensor(np.full((2, 3), 2.0), requires_grad=True)
    with pytest.raises(gg.GradcheckError) as info:
        gg.gradcheck(LeakyGrad.apply, [a, b], fast_mode=fast_mode)
    err = info.value
    assert err.input_index == 1 and err.element is not None and len(err.element) == 2
    assert err.analytical is not None and err.numerical is not None
    assert abs(err.analytical - 1.01 * err.numerical) < 1e-6 * abs(err.numerical)
    assert (err.output_index is None) == fast_mode


def test_a_random_function_carries_no_element() -> None:
    rng = np.random.default_rng(0)
    x = gg.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(gg.GradcheckError) as info:
        gg.gradcheck(lambda x: x * float(rng.random()), [x])
    assert info.value.input_index is None and info.value.element is None
