"""Hand-written NumPy forward and backward passes of the seeds' models — no graph.

These are the equations of the seed documents written out by hand, loop by loop, as an
independent ground truth: the tests check that graphgrad's graph traversal gives the same
gradients, ``examples/bptt_equations.py`` prints the comparison, and ``benchmarks/``
times graphgrad against them (hand-written NumPy is the physical limit for a NumPy-based
engine). Nothing here imports the engine.

Shapes follow the seeds: sequences are (N, T, F) — sample, time, unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------------------------------------------------ seed 000: Elman RNN BPTT
def elman_forward(
    X: Array, W: Array, V: Array, b: Array, f: str = "tanh", h0: Array | None = None
) -> tuple[Array, Array]:
    """Eqs. (1)–(2): Z_t = Φ_t W + Φ'_{t−1} V + b, Φ'_t = f(Z_t), Φ'_0 = h0 (default 0).

    X (N, T, F), W (F, H), V (H, H), b (H,) -> (Φ' (N, T, H), Z (N, T, H)).
    """
    N, T, _ = X.shape
    H = W.shape[1]
    dt = np.result_type(X, W)  # float32 in, float32 throughout
    out = np.zeros((N, T, H), dtype=dt)
    Z = np.zeros((N, T, H), dtype=dt)
    prev = np.zeros((N, H), dtype=dt) if h0 is None else h0
    for t in range(T):
        Z[:, t] = X[:, t] @ W + prev @ V + b
        out[:, t] = np.tanh(Z[:, t]) if f == "tanh" else np.maximum(Z[:, t], 0.0)
        prev = out[:, t]
    return out, Z


def elman_backward(
    X: Array,
    W: Array,
    V: Array,
    out: Array,
    Z: Array,
    dL_dout: Array,
    f: str = "tanh",
    h0: Array | None = None,
) -> dict[str, Array]:
    """Eqs. (3)–(10), from t = T down to 1 with Δ_{T+1} = 0:

        Δ_t       = (∂L/∂Φ'_t + Δ_{t+1} Vᵀ) ∘ f'(Z_t)      (3)
        ∂L/∂Φ_t   = Δ_t Wᵀ                                 (4)
        ∂L/∂b     = Σ_t [1 … 1] Δ_t                        (8)
        ∂L/∂W     = Σ_t Φ_tᵀ Δ_t                           (9)
        ∂L/∂V     = Σ_t Φ'_{t−1}ᵀ Δ_t                      (10)

    ``dL_dout`` (N, T, H) is ∂L/∂Φ'_t from the loss. Returns dW, dV, db, dX (= ∂L/∂Φ_t,
    (N, T, F)) and dh0.
    """
    N, T, _ = X.shape
    dt = np.result_type(X, W)
    dW, dV, db = np.zeros_like(W), np.zeros_like(V), np.zeros(W.shape[1], dtype=dt)
    dX = np.zeros_like(X)
    delta_next = np.zeros((N, W.shape[1]), dtype=dt)  # Δ_{T+1} = 0
    for t in reversed(range(T)):
        fprime = 1.0 - out[:, t] ** 2 if f == "tanh" else (Z[:, t] > 0).astype(float)
        delta = (dL_dout[:, t] + delta_next @ V.T) * fprime  # (3)
        dX[:, t] = delta @ W.T  # (4)
        db += np.ones(N, dtype=dt) @ delta  # (8)
        dW += X[:, t].T @ delta  # (9)
        prev = (
            out[:, t - 1] if t > 0 else (np.zeros((N, W.shape[1]), dtype=dt) if h0 is None else h0)
        )
        dV += prev.T @ delta  # (10)
        delta_next = delta
    return {"W": dW, "V": dV, "b": db, "X": dX, "h0": delta_next @ V.T}


def squared_error_grad(out: Array, Y: Array, tau: int = 0) -> tuple[float, Array]:
    """Eqs. (11)–(14): L = Σ_{t ≥ τ} ½ ‖Y_t − Φ_t‖², ∂L/∂Φ_t = −(Y_t − Φ_t) for t ≥ τ and
    0 for t < τ (τ counts from 0 here). Returns (L, ∂L/∂Φ)."""
    diff = out - Y
    diff[:, :tau] = 0.0
    return 0.5 * float(np.sum(diff * diff)), diff


# ------------------------------------------------------------------ seed 002: the article's loop
def seed002_rnn(
    x: Array, y: Array, W_in: Array, W: Array, b: Array, W_out: Array, b_out: Array
) -> tuple[float, Array, dict[str, Array]]:
    """Seed 002's RNN for one sequence, forward and backward exactly as the article's loop:
    tanh hidden, sigmoid output, squared error summed over time, batch size 1.

    x, y (T,); W_in (1, H), W (H, H), b (H,), W_out (H, 1), b_out (1,).
    Returns (loss, outputs (T,), gradients).
    """
    T = len(x)
    H = W.shape[0]
    dt = np.result_type(x, W)
    u = np.zeros((H, T), dtype=dt)
    z = np.zeros((H, T + 1), dtype=dt)  # z[:, 0] = 0: the initial state
    out = np.zeros(T, dtype=dt)
    for t in range(T):
        u[:, t] = x[t] * W_in[0] + z[:, t] @ W + b
        z[:, t + 1] = np.tanh(u[:, t])
        out[t] = _sigmoid(z[:, t + 1] @ W_out[:, 0] + b_out[0])
    loss = 0.5 * float(np.sum((out - y) ** 2))
    grads = {
        k: np.zeros_like(v) for k, v in dict(W_in=W_in, W=W, b=b, W_out=W_out, b_out=b_out).items()
    }
    delta = np.zeros(H, dtype=dt)  # delta[:, T] = 0
    for t in reversed(range(T)):
        delta_out = (out[t] - y[t]) * (1 - out[t]) * out[t]
        delta_out_2 = delta_out * W_out[:, 0]
        delta_ = (delta_out_2 + delta) * (1 - np.tanh(u[:, t]) ** 2)
        delta = delta_ @ W.T
        grads["W_out"][:, 0] += z[:, t + 1] * delta_out
        grads["b_out"] += delta_out
        grads["W"] += np.outer(z[:, t], delta_)
        grads["W_in"][0] += x[t] * delta_
        grads["b"] += delta_
    return loss, out, grads


# ------------------------------------------------------------------ LSTM and GRU (PyTorch layout)
def lstm_forward(
    x: Array, W_ih: Array, W_hh: Array, b_ih: Array, b_hh: Array
) -> tuple[Array, dict[str, Any]]:
    """LSTM over x (N, T, F) from zero state, gates (i, f, g, o); W_ih (4H, F), W_hh (4H, H).
    Returns (h (N, T, H), cache for ``lstm_backward``)."""
    N, T, _ = x.shape
    H = W_hh.shape[1]
    dt = np.result_type(x, W_ih)
    h, c = np.zeros((N, H), dtype=dt), np.zeros((N, H), dtype=dt)
    hs, cache = [], []
    for t in range(T):
        a = x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = (
            _sigmoid(a[:, :H]),
            _sigmoid(a[:, H : 2 * H]),
            np.tanh(a[:, 2 * H : 3 * H]),
            _sigmoid(a[:, 3 * H :]),
        )
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        cache.append((h, c, i, f, g, o, tc))
        h, c = o * tc, c_new
        hs.append(h)
    return np.stack(hs, axis=1), {"x": x, "W_ih": W_ih, "W_hh": W_hh, "steps": cache}


def lstm_backward(dout: Array, cache: dict[str, Any]) -> dict[str, Array]:
    """Backward of ``lstm_forward`` given ∂L/∂h_t (N, T, H); returns dW_ih, dW_hh, db_ih,
    db_hh, dx."""
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    N, T, _ = x.shape
    H = W_hh.shape[1]
    dt = np.result_type(x, W_ih)
    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(4 * H, dtype=dt)
    dx = np.zeros_like(x)
    dh_next, dc_next = np.zeros((N, H), dtype=dt), np.zeros((N, H), dtype=dt)
    for t in reversed(range(T)):
        h_prev, c_prev, i, f, g, o, tc = cache["steps"][t]
        dh = dout[:, t] + dh_next
        do = dh * tc
        dc = dh * o * (1 - tc * tc) + dc_next
        da = np.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                do * o * (1 - o),
            ],
            axis=1,
        )
        dW_ih += da.T @ x[:, t]
        dW_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dx[:, t] = da @ W_ih
        dh_next, dc_next = da @ W_hh, dc * f
    return {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db, "b_hh": db.copy(), "x": dx}


def gru_forward(
    x: Array, W_ih: Array, W_hh: Array, b_ih: Array, b_hh: Array
) -> tuple[Array, dict[str, Any]]:
    """GRU over x (N, T, F) from zero state, gates (r, z, n), PyTorch's equations:
    h' = (1 − z) ∘ n + z ∘ h. W_ih (3H, F), W_hh (3H, H). Returns (h (N, T, H), cache)."""
    N, T, _ = x.shape
    H = W_hh.shape[1]
    h = np.zeros((N, H), dtype=np.result_type(x, W_ih))
    hs, cache = [], []
    for t in range(T):
        gi = x[:, t] @ W_ih.T + b_ih
        gh = h @ W_hh.T + b_hh
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        cache.append((h, r, z, n, gh[:, 2 * H :]))
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, axis=1), {"x": x, "W_ih": W_ih, "W_hh": W_hh, "steps": cache}


def gru_backward(dout: Array, cache: dict[str, Any]) -> dict[str, Array]:
    """Backward of ``gru_forward`` given ∂L/∂h_t; returns dW_ih, dW_hh, db_ih, db_hh, dx."""
    x, W_ih, W_hh = cache["x"], cache["W_ih"], cache["W_hh"]
    N, T, _ = x.shape
    H = W_hh.shape[1]
    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    dt = np.result_type(x, W_ih)
    db_ih, db_hh = np.zeros(3 * H, dtype=dt), np.zeros(3 * H, dtype=dt)
    dx = np.zeros_like(x)
    dh_next = np.zeros((N, H), dtype=dt)
    for t in reversed(range(T)):
        h_prev, r, z, n, hn = cache["steps"][t]
        dh = dout[:, t] + dh_next
        dn = dh * (1 - z) * (1 - n * n)
        dz = dh * (h_prev - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        dgi = np.concatenate([dr, dz, dn], axis=1)
        dgh = np.concatenate([dr, dz, dn * r], axis=1)
        dW_ih += dgi.T @ x[:, t]
        db_ih += dgi.sum(axis=0)
        dW_hh += dgh.T @ h_prev
        db_hh += dgh.sum(axis=0)
        dx[:, t] = dgi @ W_ih
        dh_next = dh * z + dgh @ W_hh
    return {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh, "x": dx}


# ------------------------------------------------------------------ word-level language model
def word_lm_step(
    tokens: Array, params: dict[str, Array], kind: str = "LSTM", num_layers: int = 2
) -> tuple[float, dict[str, Array]]:
    """One step of pytorch/examples' word_language_model (its ``RNNModel`` without
    dropout) written out: for tokens (T + 1, N), time-major as there, the inputs are rows
    0 … T−1 and the targets rows 1 … T;

        e = E[inputs]                           (T, N, D)   embedding lookup
        h = layer_{L−1}(… layer_0(e))           (T, N, H)   LSTM or GRU from zero state
        z = h W_decᵀ + b_dec,  p = softmax(z)   (T·N, V)
        L = −(1/TN) Σ log p[target]

    and backward: ∂L/∂z = (p − onehot) / TN, then each layer's BPTT (``lstm_backward`` /
    ``gru_backward``), and ∂L/∂E scatter-added at the input tokens. ``params`` uses
    PyTorch's state-dict names (``encoder.weight``, ``rnn.weight_ih_l0`` …,
    ``decoder.weight``, ``decoder.bias``); without ``decoder.weight`` the decoder is tied
    to the embedding, and the two gradients add. Returns (L, gradients by name)."""
    layers = {"LSTM": (lstm_forward, lstm_backward), "GRU": (gru_forward, gru_backward)}
    forward, backward = layers[kind]
    inputs, targets = tokens[:-1], tokens[1:].reshape(-1)
    T, N = inputs.shape
    E, b_dec = params["encoder.weight"], params["decoder.bias"]
    W_dec = params.get("decoder.weight", E)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    x = E[inputs].transpose(1, 0, 2)  # the layers here are batch-major
    caches = []
    for k in range(num_layers):
        x, cache = forward(x, *(params[f"rnn.{w}_l{k}"] for w in names))
        caches.append(cache)
    h = x.transpose(1, 0, 2).reshape(T * N, -1)
    z = h @ W_dec.T + b_dec
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(T * N)
    loss = -float(logp[rows, targets].mean())
    dz = np.exp(logp)
    dz[rows, targets] -= 1
    dz /= T * N
    grads = {"decoder.weight": dz.T @ h, "decoder.bias": dz.sum(axis=0)}
    dx = (dz @ W_dec).reshape(T, N, -1).transpose(1, 0, 2)
    for k in reversed(range(num_layers)):
        g = backward(dx, caches[k])
        for w, key in zip(names, ("W_ih", "W_hh", "b_ih", "b_hh")):
            grads[f"rnn.{w}_l{k}"] = g[key]
        dx = g["x"]
    dE = np.zeros_like(E)
    np.add.at(dE, inputs, dx.transpose(1, 0, 2))
    if "decoder.weight" not in params:
        dE += grads.pop("decoder.weight")
    grads["encoder.weight"] = dE
    return loss, grads
