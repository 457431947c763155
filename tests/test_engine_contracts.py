"""Engine contracts at the graph's edges: a failed backward changes nothing a caller can
see; gg.grad never silently skips a released part; grad modes hold inside generators."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg


class BoomError(Exception):
    pass


def _raise(g: Any) -> None:
    raise BoomError("a hook failed")


class FailingRule(gg.Function):
    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def]
        return x * 1.0

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def]
        raise BoomError("a rule failed")


@given(
    n_leaves=st.integers(2, 4),
    fail_at=st.integers(0, 10),
    prior=st.lists(st.booleans(), min_size=4, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_a_failed_backward_changes_no_grad_and_no_retained_grad(
    n_leaves: int, fail_at: int, prior: list[bool], seed: int
) -> None:
    """A graph over several leaves with retained intermediates; the failure (a raising
    hook on a leaf or an intermediate, or a raising rule) is put at a random place. Every
    leaf's .grad (None or accumulated before) and every retained .grad must be as before."""
    rng = np.random.default_rng(seed)
    leaves = [gg.tensor(rng.standard_normal(3), requires_grad=True) for _ in range(n_leaves)]
    for leaf, had in zip(leaves, prior):
        if had:
            leaf.grad = rng.standard_normal(3)
    h = [leaf.tanh() * (i + 1) for i, leaf in enumerate(leaves)]
    for t in h:
        t.retain_grad()
    places = [*leaves, *h]
    where = places[fail_at % (len(places) + 1)] if fail_at < len(places) else None
    if where is None:  # a rule fails instead
        h[0] = FailingRule.apply(h[0])
    else:
        where.register_hook(_raise)
    loss = sum((t * t).sum() for t in h)
    before = [None if leaf.grad is None else leaf.grad.copy() for leaf in leaves]
    with pytest.raises(BoomError):
        loss.backward()
    for leaf, b in zip(leaves, before):
        if b is None:
            assert leaf.grad is None
        else:
            np.testing.assert_array_equal(leaf.grad, b)
    assert all(t.grad is None for t in h)


def test_a_successful_backward_still_stores_everything() -> None:
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    h = a * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    np.testing.assert_array_equal(a.grad, 6 * h.data)


def test_grad_through_a_released_graph_raises_even_with_allow_unused() -> None:
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    h = x.tanh()
    loss = (h * h).sum()
    loss.backward()
    for allow in (False, True):
        with pytest.raises(gg.GraphReleasedError):
            gg.grad(loss, x, allow_unused=allow)
    # a released tensor as the target itself is fine: its gradient needs nothing behind it
    y = (h * 2.0).sum()
    (g,) = gg.grad(y, h)
    np.testing.assert_array_equal(g.data, [2.0, 2.0])


def test_grad_after_a_partial_grad_pass_raises_where_it_cannot_see() -> None:
    """gg.grad releases only what it ran: a node behind a released one may be unreleased,
    so a later gg.grad that reaches the released node refuses rather than guessing."""
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    w = gg.tensor([0.5, 0.5], requires_grad=True)
    side = w * 3.0  # behind the product below, not on the path to x
    prod = x.tanh() * side
    gg.grad(prod.sum(), x)  # runs (and releases) the product, not side's node
    with pytest.raises(gg.GraphReleasedError):
        gg.grad((prod * 2).sum(), side)


def test_grad_after_a_failed_pass_refuses_behind_its_frontier() -> None:
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    mid = x * 3.0
    top = FailingRule.apply(mid.tanh()) * 2.0
    with pytest.raises(BoomError):
        top.sum().backward()  # released the last Mul, then failed
    with pytest.raises(gg.GraphReleasedError):
        gg.grad((top * 1.0).sum(), mid)


@pytest.mark.parametrize(
    "make",  # made inside the test: set_grad_enabled(False) applies when it is called
    [gg.no_grad, lambda: gg.no_grad, lambda: gg.set_grad_enabled(False)],
    ids=["no_grad()", "no_grad", "set_grad_enabled(False)"],
)
def test_grad_mode_decorators_apply_inside_generators(make: Any) -> None:
    x = gg.tensor([1.0], requires_grad=True)

    @make()
    def steps(n: int) -> Any:
        for _ in range(n):
            got = yield (x * 2).requires_grad
            assert got is None or got == "sent"
        return "done"

    it = steps(3)
    assert next(it) is False  # recorded nothing inside
    assert gg.is_grad_enabled() and (x * 2).requires_grad  # the caller's mode between items
    assert it.send("sent") is False
    with pytest.raises(StopIteration) as stop:
        next(it), next(it)
    assert stop.value.value == "done"
    assert gg.is_grad_enabled()


def test_generator_decorator_handles_throw_and_close() -> None:
    seen = []

    @gg.no_grad()
    def gen() -> Any:
        try:
            yield 1
        except KeyError:
            seen.append(gg.is_grad_enabled())
            yield 2
        finally:
            seen.append(gg.is_grad_enabled())

    it = gen()
    next(it)
    assert it.throw(KeyError()) == 2
    it.close()
    assert seen == [False, False] and gg.is_grad_enabled()
    with gg.no_grad():

        @gg.enable_grad()
        def recording() -> Any:
            yield gg.is_grad_enabled()

        assert next(recording()) is True
        assert not gg.is_grad_enabled()
