"""Rules that write ∂L/∂input into ∂L/∂output's array (``Function.backward_into``; today
log_softmax's) run only on an array the engine alone references. Every way a caller can
see that array — gg.grad's outputs, hooks, retain_grad, a second backward with
retain_graph, anomaly mode — must see the values it would see without the in-place rule,
and the input's gradient must be the closed form ∂L/∂x = g − softmax(x) Σ g."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.nn import functional as F

OBSERVERS = ["none", "grad", "hook", "retain_grad", "retain_graph", "anomaly"]


def _closed_form(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return g - e / e.sum(axis=1, keepdims=True) * g.sum(axis=1, keepdims=True)


@settings(max_examples=30)
@given(
    observer=st.sampled_from(OBSERVERS),
    dense_use=st.booleans(),
    twice=st.booleans(),
    rows=st.integers(1, 5),
    classes=st.integers(2, 6),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_owned_gradient_rules_change_nothing_a_caller_sees(
    observer: str, dense_use: bool, twice: bool, rows: int, classes: int, dtype: Any, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    xv = rng.standard_normal((rows, classes)).astype(dtype)
    t = rng.integers(0, classes, rows)
    R = rng.standard_normal((rows, classes)).astype(dtype)
    x = gg.tensor(xv, requires_grad=True)
    logp = F.log_softmax(x, dim=1)
    seen: list[np.ndarray] = []
    if observer == "hook":
        logp.register_hook(lambda g: seen.append(np.array(g)))
    if observer == "retain_grad":
        logp.retain_grad()
    loss = F.nll_loss(logp, t)  # an indexed use: the engine sums it into its own array
    if twice:
        loss = loss + F.nll_loss(logp, t[::-1].copy(), reduction="sum")
    if dense_use:
        loss = loss + (logp * gg.tensor(R)).sum()
    # ∂L/∂logp, written out
    g = np.zeros((rows, classes))
    g[np.arange(rows), t] -= 1 / rows
    if twice:
        g[np.arange(rows), t[::-1]] -= 1
    if dense_use:
        g += R
    want_x = _closed_form(xv.astype(np.float64), g)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)

    if observer == "grad":
        g_logp, g_x = gg.grad(loss, (logp, x))
        np.testing.assert_allclose(g_logp, g, **tol)
        np.testing.assert_allclose(g_x, want_x, **tol)
        return
    if observer == "anomaly":
        with gg.detect_anomaly():
            loss.backward()
    else:
        loss.backward(retain_graph=observer == "retain_graph")
    np.testing.assert_allclose(x.grad, want_x, **tol)
    if observer == "retain_graph":
        loss.backward()
        np.testing.assert_allclose(x.grad, 2 * want_x, **tol)
    if observer == "hook":
        assert len(seen) == 1
        np.testing.assert_allclose(seen[0], g, **tol)
    if observer == "retain_grad":
        np.testing.assert_allclose(logp.grad, g, **tol)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_log_softmax_in_place_rule_is_the_ordinary_rule_along_any_axis(axis: int) -> None:
    """Big enough to be taken in blocks (more than 2^18 elements)."""
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((300, 1000))
    t = rng.integers(0, xv.shape[axis], xv.shape[1 - axis % 2])
    x = gg.tensor(xv, requires_grad=True)
    logp = F.log_softmax(x, dim=axis)
    picked = logp.T if axis == 0 else logp
    F.nll_loss(picked, t).backward()
    ref = gg.tensor(xv, requires_grad=True)
    logp_ref = F.log_softmax(ref, dim=axis)
    # the same gradient through a dense (not engine-owned) path: the ordinary rule
    g = np.zeros(xv.shape)
    rows = np.arange(len(t))
    if axis == 0:
        g[t, rows] = -1 / len(t)
    else:
        g[rows, t] = -1 / len(t)
    (logp_ref * gg.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad, ref.grad, rtol=1e-12, atol=1e-15)
    e = np.exp(xv - xv.max(axis=axis, keepdims=True))
    want = xv - xv.max(axis=axis, keepdims=True) - np.log(e.sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(logp.data, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("owned", [False, True])
def test_log_softmax_keeps_a_wider_gradient_wide(owned: bool) -> None:
    """A float32 log_softmax under a float64 loss passes a float64 gradient on, as every
    rule does (NumPy's promotion), whether or not the engine owns the incoming array."""
    rng = np.random.default_rng(5)
    xv = rng.standard_normal((3, 4)).astype(np.float32)
    R = rng.standard_normal((3, 4))
    x = gg.tensor(xv, requires_grad=True)
    z = x * 1.0
    seen: list[np.ndarray] = []
    z.register_hook(lambda g: seen.append(np.array(g)))
    logp = F.log_softmax(z, dim=1)
    loss = (logp * gg.tensor(R)).sum()
    if owned:  # a second, indexed use: the engine sums the two into its own array
        loss = loss + (logp[np.arange(3), np.array([0, 2, 1])] * gg.tensor(np.ones(3))).sum()
        R = R.copy()
        R[np.arange(3), [0, 2, 1]] += 1
    loss.backward()
    (g,) = seen
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, _closed_form(xv.astype(np.float64), R), rtol=1e-6, atol=1e-7)
