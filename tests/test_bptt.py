"""BPTT is graph traversal: the graph's gradients equal the seeds' hand-written equations.

graphgrad.reference holds the equations written out loop by loop in NumPy (no graph):
seed 000's eqs. (3)–(10), seed 002's article loop, and the LSTM/GRU gate equations.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad import nn, reference
from graphgrad.nn import functional as F


def grad_or_zeros(t: gg.Tensor) -> np.ndarray:
    """A weight unused by the graph (V when T = 1: Φ'_0 = 0) has no gradient, i.e. zero."""
    return np.zeros(t.shape) if t.grad is None else t.grad


def _elman(n: int, t: int, f_in: int, h: int, seed: int, f: str = "tanh"):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, t, f_in))
    Y = rng.standard_normal((n, t, h))
    cell = nn.ElmanCell(f_in, h, nonlinearity=f, rng=rng)
    cell.b.data[...] = rng.standard_normal(h) * 0.1
    return X, Y, cell


def _graph_unroll(cell: nn.ElmanCell, X: gg.Tensor) -> list[gg.Tensor]:
    """Eqs. (1)–(2) written with graphgrad ops, one time step at a time."""
    outs, h = [], None
    for t in range(X.shape[1]):
        z = X[:, t] @ cell.W + cell.b
        if h is not None:
            z = z + h @ cell.V
        h = z.tanh() if cell.nonlinearity == "tanh" else z.relu()
        h.retain_grad()  # to read ∂L/∂Φ'_t afterwards
        outs.append(h)
    return outs


@given(
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(0, 2**31),
    st.sampled_from(["tanh", "relu"]),
)
def test_seed000_eqs_3_to_10_equal_graph_gradients(n, t, f_in, h, seed, f) -> None:  # type: ignore[no-untyped-def]
    X, Y, cell = _elman(n, t, f_in, h, seed, f)
    Xt = gg.tensor(X, requires_grad=True)
    outs = _graph_unroll(cell, Xt)
    loss = sum((F.squared_error(o, Y[:, i]) for i, o in enumerate(outs)), gg.tensor(0.0))
    loss.backward()

    W, V, b = cell.W.data, cell.V.data, cell.b.data
    out, Z = reference.elman_forward(X, W, V, b, f)
    L, dout = reference.squared_error_grad(out, Y)
    ref = reference.elman_backward(X, W, V, out, Z, dout, f)

    assert loss.item() == pytest.approx(L, rel=1e-12)
    np.testing.assert_allclose(np.stack([o.data for o in outs], axis=1), out, atol=1e-12)
    for name, got in [("W", cell.W), ("V", cell.V), ("b", cell.b), ("X", Xt)]:
        np.testing.assert_allclose(grad_or_zeros(got), ref[name], rtol=0, atol=1e-10, err_msg=name)


def test_nn_rnn_layer_equals_seed000_equations() -> None:
    X, Y, _ = _elman(3, 7, 2, 5, seed=11)
    rnn = nn.ElmanRNN(2, 5, rng=3, batch_first=True)
    rnn.cells[0].b.data[...] = np.linspace(-0.2, 0.2, 5)
    Xt = gg.tensor(X, requires_grad=True)
    out, h_T = rnn(Xt)
    F.squared_error(out, Y).backward()
    c = rnn.cells[0]
    ref_out, Z = reference.elman_forward(X, c.W.data, c.V.data, c.b.data)
    _, dout = reference.squared_error_grad(ref_out, Y)
    ref = reference.elman_backward(X, c.W.data, c.V.data, ref_out, Z, dout)
    np.testing.assert_allclose(out.data, ref_out, atol=1e-12)
    np.testing.assert_allclose(h_T.data[0], ref_out[:, -1], atol=1e-12)
    for name, got in [("W", c.W.grad), ("V", c.V.grad), ("b", c.b.grad), ("X", Xt.grad)]:
        np.testing.assert_allclose(got, ref[name], rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("tau", [0, 2, 4])
def test_misaligned_targets_give_exactly_zero_gradient_before_tau(tau: int) -> None:
    """Eqs. (13)–(14): with targets only for t ≥ τ, ∂L/∂Φ'_t is −(Y_t − Φ_t) for t ≥ τ and
    the loss sends nothing to t < τ (a mask is how the loss says so)."""
    X, Y, cell = _elman(2, 6, 3, 4, seed=5)
    outs = _graph_unroll(cell, gg.tensor(X))
    seq = gg.stack(outs, axis=1)
    mask = (np.arange(6) >= tau)[None, :, None]
    F.squared_error(seq, Y, mask=mask).backward()
    ref_out, Z = reference.elman_forward(X, cell.W.data, cell.V.data, cell.b.data)
    _, dout = reference.squared_error_grad(ref_out, Y, tau=tau)
    ref = reference.elman_backward(X, cell.W.data, cell.V.data, ref_out, Z, dout)
    np.testing.assert_allclose(cell.W.grad, ref["W"], atol=1e-10)
    # The loss's own contribution to ∂L/∂Φ'_t (eq. 14) is exactly 0 before τ; the retained
    # gradient also carries what flows back from later steps through V.
    (direct,) = gg.grad(F.squared_error(seq, Y, mask=mask), seq)
    assert np.all(direct.data[:, :tau] == 0.0)
    np.testing.assert_allclose(direct.data[:, tau:], (ref_out - Y)[:, tau:], atol=1e-12)


def test_many_to_one_is_tau_equal_T() -> None:
    X, Y, cell = _elman(2, 5, 3, 4, seed=8)
    outs = _graph_unroll(cell, gg.tensor(X))
    F.squared_error(outs[-1], Y[:, -1]).backward()
    ref_out, Z = reference.elman_forward(X, cell.W.data, cell.V.data, cell.b.data)
    _, dout = reference.squared_error_grad(ref_out, Y, tau=4)
    ref = reference.elman_backward(X, cell.W.data, cell.V.data, ref_out, Z, dout)
    for name in ("W", "V", "b"):
        np.testing.assert_allclose(getattr(cell, name).grad, ref[name], atol=1e-10)


@pytest.mark.parametrize("T", [1, 8, 16])
def test_seed002_article_loop_equals_graph(T: int) -> None:
    rng = np.random.default_rng(T)
    H = 10
    x, y = gg.data.alternating_sum(1, T, rng)
    params = dict(
        W_in=rng.standard_normal((1, H)),
        W=rng.standard_normal((H, H)) / np.sqrt(H),
        b=rng.standard_normal(H) * 0.1,
        W_out=rng.standard_normal((H, 1)) / np.sqrt(H),
        b_out=rng.standard_normal(1) * 0.1,
    )
    loss_ref, _, grads_ref = reference.seed002_rnn(x[0], y[0].astype(float), **params)

    p = {k: gg.tensor(v, requires_grad=True) for k, v in params.items()}
    h, loss = None, gg.tensor(0.0)
    for t in range(T):
        z = x[:, t : t + 1] @ p["W_in"] + p["b"]
        h = (z if h is None else z + h @ p["W"]).tanh()
        out = (h @ p["W_out"] + p["b_out"]).sigmoid()
        loss = loss + F.squared_error(out, y[:, t : t + 1].astype(float))
    loss.backward()
    assert loss.item() == pytest.approx(loss_ref, rel=1e-12)
    for k in params:
        np.testing.assert_allclose(grad_or_zeros(p[k]), grads_ref[k], rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@given(
    st.integers(1, 3),
    st.integers(1, 5),
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(0, 2**31),
)
def test_gated_layers_equal_numpy_gate_equations(kind, n, t, f_in, h, seed) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    layer = (nn.LSTM if kind == "lstm" else nn.GRU)(f_in, h, batch_first=True, rng=rng)
    x = rng.standard_normal((n, t, f_in))
    dout = rng.standard_normal((n, t, h))
    xt = gg.tensor(x, requires_grad=True)
    out, _ = layer(xt)
    out.backward(dout)
    c = layer.cells[0]
    args = (x, c.weight_ih.data, c.weight_hh.data, c.bias_ih.data, c.bias_hh.data)
    fwd, bwd = {
        "lstm": (reference.lstm_forward, reference.lstm_backward),
        "gru": (reference.gru_forward, reference.gru_backward),
    }[kind]
    ref_out, cache = fwd(*args)
    ref = bwd(dout, cache)
    np.testing.assert_allclose(out.data, ref_out, atol=1e-12)
    for name, got in [
        ("W_ih", c.weight_ih),
        ("W_hh", c.weight_hh),
        ("b_ih", c.bias_ih),
        ("b_hh", c.bias_hh),
        ("x", xt),
    ]:
        np.testing.assert_allclose(grad_or_zeros(got), ref[name], rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_layers_without_bias_equal_the_equations_with_zero_biases(kind: str) -> None:
    rng = np.random.default_rng(3)
    layer = (nn.LSTM if kind == "lstm" else nn.GRU)(3, 4, bias=False, batch_first=True, rng=rng)
    x = rng.standard_normal((2, 5, 3))
    dout = rng.standard_normal((2, 5, 4))
    out, _ = layer(x)
    out.backward(dout)
    c = layer.cells[0]
    zeros = np.zeros(c.weight_hh.shape[0])
    fwd, bwd = {
        "lstm": (reference.lstm_forward, reference.lstm_backward),
        "gru": (reference.gru_forward, reference.gru_backward),
    }[kind]
    ref_out, cache = fwd(x, c.weight_ih.data, c.weight_hh.data, zeros, zeros)
    ref = bwd(dout, cache)
    np.testing.assert_allclose(out.data, ref_out, atol=1e-12)
    np.testing.assert_allclose(c.weight_ih.grad, ref["W_ih"], atol=1e-10)
    np.testing.assert_allclose(c.weight_hh.grad, ref["W_hh"], atol=1e-10)


def test_reference_backward_passes_are_themselves_right() -> None:
    """The hand-written references agree with central differences of their own forward."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 2))
    for fwd, bwd, g in [
        (reference.lstm_forward, reference.lstm_backward, 4),
        (reference.gru_forward, reference.gru_backward, 3),
    ]:
        H = 2
        params = [
            rng.standard_normal((g * H, 2)),
            rng.standard_normal((g * H, H)),
            rng.standard_normal(g * H),
            rng.standard_normal(g * H),
        ]
        dout = rng.standard_normal((2, 3, H))
        _, cache = fwd(x, *params)
        grads = bwd(dout, cache)
        for name, arr in zip(["W_ih", "W_hh", "b_ih", "b_hh"], params):
            num = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                arr[idx] += 1e-6
                up = np.sum(fwd(x, *params)[0] * dout)
                arr[idx] -= 2e-6
                down = np.sum(fwd(x, *params)[0] * dout)
                arr[idx] += 1e-6
                num[idx] = (up - down) / 2e-6
            np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-8, err_msg=name)
