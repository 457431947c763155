"""In-place writes to arrays a recorded graph saved: backward refuses instead of computing a
gradient from the new values (graphgrad.core.in_place)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.core.in_place import _writes

STALE = r"modified in place after the op was recorded"


def test_an_optimizer_step_before_backward_is_caught() -> None:
    m = nn.Linear(3, 1, rng=0)
    opt = optim.SGD(m.parameters(), lr=0.1)
    x = np.ones((2, 3))
    loss = (m(x) ** 2).sum()
    loss.backward()  # backward, then step: the usual order
    opt.step()
    loss = (m(x) ** 2).sum()
    opt.step()  # the graph above saved the weight that this step changes
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


def test_a_saved_view_of_a_written_array_is_caught() -> None:
    w = gg.tensor(np.ones((3, 2)), requires_grad=True)
    y = (gg.tensor(np.ones((4, 2))) @ w.T).sum()  # MatMul saves w.T, a view of w's array
    with gg.no_grad():
        w -= 0.5
    with pytest.raises(RuntimeError, match=r"backward through MatMul"):
        y.backward()


@pytest.mark.parametrize(
    "write",
    [
        lambda c: c.__iadd__(1.0),  # c += 1 on a constant: not recorded, written in place
        lambda c: c.__setitem__(0, 5.0),
        lambda c: np.add(c, 1.0, out=c),
    ],
)
def test_writing_a_saved_constant_is_caught(write) -> None:  # type: ignore[no-untyped-def]
    c = gg.tensor([1.0, 2.0])
    w = gg.tensor([3.0, 4.0], requires_grad=True)
    y = (c * w).sum()  # Mul saved c: ∂y/∂w = c
    write(c)
    with pytest.raises(RuntimeError, match=r"backward through Mul"):
        y.backward()


def test_load_state_dict_between_forward_and_backward_is_caught() -> None:
    m = nn.Linear(2, 2, rng=0)
    state = nn.Linear(2, 2, rng=1).state_dict()
    loss = m(np.ones((1, 2))).sum() * m(np.ones((1, 2))).sum()
    m.load_state_dict(state)
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


def test_writes_that_no_saved_array_sees_are_fine() -> None:
    c = gg.tensor([1.0, 2.0])
    w = gg.tensor([3.0, 4.0], requires_grad=True)
    y = (c + w).sum() + (c.tanh() * w).sum()  # Add saves nothing; Tanh saved its own output
    c += 1.0
    y.backward()
    np.testing.assert_allclose(w.grad, 1 + np.tanh([1.0, 2.0]))
    z = (c * w).sum()  # recorded after the write: sees the new c, and may backpropagate
    w.grad = None
    z.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 3.0])


def test_training_loops_in_the_usual_order_never_trip() -> None:
    rnn, head = nn.LSTM(2, 3, rng=0, batch_first=True), nn.Linear(3, 1, rng=1)
    params = [*rnn.parameters(), *head.parameters()]
    opt = optim.Adam(params, lr=0.01)
    x = np.random.default_rng(0).standard_normal((4, 5, 2))
    for _ in range(3):
        out, _ = rnn(x)
        loss = (head(out) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with gg.no_grad():  # and a manual update on top
            for p in params:
                p -= 0.001 * p.grad


def test_the_record_of_a_write_goes_with_its_array() -> None:
    t = gg.tensor(np.zeros(3))
    key = id(t.data)
    t += 1.0
    assert key in _writes
    del t
    gc.collect()
    assert key not in _writes


def test_ufunc_out_on_a_non_leaf_under_no_grad_writes_a_copy() -> None:
    x = gg.tensor([0.5, -1.0], requires_grad=True)
    y = x.tanh()  # saved its output
    with gg.no_grad():
        np.multiply(y, 10.0, out=y)
    np.testing.assert_allclose(y.data, 10 * np.tanh([0.5, -1.0]))
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1 - np.tanh([0.5, -1.0]) ** 2)
