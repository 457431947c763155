"""Closed-form gradients (seed 004): for Y = X W + b and any loss E,
∂E/∂X = ∂E/∂Y Wᵀ,  ∂E/∂W = Xᵀ ∂E/∂Y,  ∂E/∂b = Σ_samples ∂E/∂Y."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31))
def test_linear_layer_closed_forms(n: int, d_in: int, d_out: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = gg.tensor(rng.standard_normal((n, d_in)), requires_grad=True)
    W = gg.tensor(rng.standard_normal((d_in, d_out)), requires_grad=True)
    b = gg.tensor(rng.standard_normal(d_out), requires_grad=True)
    T = rng.standard_normal((n, d_out))
    Y = X @ W + b
    E = 0.5 * ((Y - T) ** 2).sum()  # squared error: ∂E/∂Y = Y − T
    E.backward()
    dY = Y.data - T
    np.testing.assert_allclose(X.grad, dY @ W.data.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(W.grad, X.data.T @ dY, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, dY.sum(axis=0), rtol=1e-12, atol=1e-12)


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma() -> None:
    x = gg.tensor(np.linspace(-5, 5, 11), requires_grad=True)
    s = x.sigmoid()
    s.sum().backward()
    np.testing.assert_allclose(x.grad, s.data * (1 - s.data), rtol=1e-14)
