"""The benchmark workloads: one training step (forward + backward) of each model, for each
backend.

Every workload has a ``problem`` (parameters and data as NumPy arrays, seeded) and, per
backend, a ``prepare(problem) -> step`` where ``step()`` runs forward + backward and returns
``(loss, {parameter name: gradient})`` as NumPy arrays, so the harness can check every
backend's gradients against the hand-written NumPy ones before timing them.

Backends: ``numpy`` (forward and backward written by hand — the physical limit of a
NumPy-based engine), ``graphgrad`` (the model as a user writes it, with graphgrad.nn where
the issue says so), ``torch`` (PyTorch eager built from the same primitive ops) and
``torch.nn`` (PyTorch's fused recurrent layers, for the recurrent workloads).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import graphgrad as gg
from graphgrad import nn, reference
from graphgrad.nn import functional as F

Step = Callable[[], tuple[float, dict[str, np.ndarray]]]
Problem = dict[str, Any]


@dataclass
class Workload:
    name: str
    make: Callable[[np.random.Generator, Any], Problem]
    backends: dict[str, Callable[[Problem], Step]]
    ops_per_step: int = 0  # > 0: also report time per primitive op
    target: float | None = None  # the target ratio of eager graphgrad to NumPy
    # the compiled backend's target: a ratio to NumPy, or "eager" (no slower than eager)
    compiled_target: float | str | None = None
    params: dict[str, Any] = field(default_factory=dict)


# A graphgrad model: (loss function, its arguments, the parameters by name, how each
# parameter's gradient maps to the NumPy backend's). The eager backend calls the loss
# function as it is; the compiled one calls gg.compile(loss function).
Model = tuple[Callable[..., gg.Tensor], tuple[Any, ...], dict[str, gg.Tensor], tuple[str, ...]]


def _eager(build: Callable[[Problem], Model]) -> Callable[[Problem], Step]:
    def prepare(p: Problem) -> Step:
        loss_fn, args, params, transposed = build(p)
        return _train_step(loss_fn, args, params, transposed)

    return prepare


def _compiled(build: Callable[[Problem], Model]) -> Callable[[Problem], Step]:
    """The same model through gg.compile; the first two calls (trace, check and generate)
    run here, and their time is the step's ``compile_seconds``."""

    def prepare(p: Problem) -> Step:
        loss_fn, args, params, transposed = build(p)
        fast = gg.compile(loss_fn)
        step = _train_step(fast, args, params, transposed)
        start = time.perf_counter()
        step()
        step()
        step.compile_seconds = time.perf_counter() - start  # type: ignore[attr-defined]
        return step

    return prepare


def _train_step(
    loss_fn: Callable[..., gg.Tensor],
    args: tuple[Any, ...],
    params: dict[str, gg.Tensor],
    transposed: tuple[str, ...],
) -> Step:
    qs = list(params.items())

    def step() -> tuple[float, dict[str, np.ndarray]]:
        for _, q in qs:
            q.grad = None
        loss = loss_fn(*args)
        loss.backward()
        return loss.item(), {k: q.grad.T if k in transposed else q.grad for k, q in qs}

    return step


def _torch() -> Any:
    import torch

    return torch


def _leaves(problem: Problem, names: list[str]) -> dict[str, gg.Tensor]:
    return {k: gg.tensor(problem[k], requires_grad=True) for k in names}


def _torch_leaves(problem: Problem, names: list[str]) -> dict[str, Any]:
    torch = _torch()
    return {k: torch.tensor(problem[k], requires_grad=True) for k in names}


def _torch_grads(params: dict[str, Any], transpose: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    out = {}
    for k, p in params.items():
        g = p.grad.numpy()
        out[k] = g.T if k in transpose else g
        p.grad = None
    return out


# ------------------------------------------------------------------ 1. op overhead
def _op_make(rng: np.random.Generator, dtype: Any) -> Problem:
    return {
        "a": (rng.standard_normal((8, 8)) * 0.3).astype(dtype),
        "b": (rng.standard_normal((8, 8)) * 0.3).astype(dtype),
        "y0": rng.standard_normal((8, 8)).astype(dtype),
        "n": 200,
    }


def _op_numpy(p: Problem) -> Step:
    A, B, Y0, n = p["a"], p["b"], p["y0"], p["n"]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        ys = [Y0]
        y = Y0
        for _ in range(n):
            y = np.tanh(y * A + B)
            ys.append(y)
        g = np.ones_like(y)
        gA, gB = np.zeros_like(A), np.zeros_like(B)
        for i in range(n, 0, -1):
            gz = g * (1 - ys[i] * ys[i])
            gA += gz * ys[i - 1]
            gB += gz
            g = gz * A
        return float(y.sum()), {"a": gA, "b": gB}

    return step


def _op_model(p: Problem) -> Model:
    params = _leaves(p, ["a", "b"])
    a, b, n = params["a"], params["b"], p["n"]

    def loss_fn(y: gg.Tensor) -> gg.Tensor:
        for _ in range(n):
            y = (y * a + b).tanh()
        return y.sum()

    return loss_fn, (gg.tensor(p["y0"]),), params, ()


def _op_torch(p: Problem) -> Step:
    torch = _torch()
    params = _torch_leaves(p, ["a", "b"])
    a, b, y0, n = params["a"], params["b"], torch.tensor(p["y0"]), p["n"]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        y = y0
        for _ in range(n):
            y = torch.tanh(y * a + b)
        loss = y.sum()
        loss.backward()
        return loss.item(), _torch_grads(params)

    return step


# ------------------------------------------------------------------ 2. MLP
def _mlp_make(
    rng: np.random.Generator,
    dtype: Any,
    sizes: tuple[int, ...] = (784, 256, 256, 10),
    batch: int = 128,
) -> Problem:
    p: Problem = {
        "x": rng.standard_normal((batch, sizes[0])).astype(dtype),
        "y": rng.integers(0, sizes[-1], batch),
    }
    for i, (m, n) in enumerate(itertools.pairwise(sizes), 1):
        p[f"W{i}"] = (rng.standard_normal((m, n)) * np.sqrt(2.0 / m)).astype(dtype)
        p[f"b{i}"] = (rng.standard_normal(n) * 0.1).astype(dtype)
    p["layers"] = len(sizes) - 1
    return p


def _mlp_numpy(p: Problem) -> Step:
    L, x, y = p["layers"], p["x"], p["y"]
    N = len(x)

    def step() -> tuple[float, dict[str, np.ndarray]]:
        hs = [x]
        h = x
        for i in range(1, L + 1):
            z = h @ p[f"W{i}"] + p[f"b{i}"]
            h = np.maximum(z, 0) if i < L else z
            hs.append(h)
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(N), y]))
        d = e / s
        d[np.arange(N), y] -= 1
        d /= N
        grads = {}
        for i in range(L, 0, -1):
            grads[f"W{i}"] = hs[i - 1].T @ d
            grads[f"b{i}"] = d.sum(axis=0)
            if i > 1:
                d = (d @ p[f"W{i}"].T) * (hs[i - 1] > 0)
        return loss, grads

    return step


def _mlp_model(p: Problem) -> Model:
    L = p["layers"]
    layers = []
    for i in range(1, L + 1):
        lin = nn.Linear(*p[f"W{i}"].shape, dtype=p[f"W{i}"].dtype)
        lin.weight.data[...] = p[f"W{i}"].T  # nn.Linear's weight is (out, in): W = weight.T
        lin.bias.data[...] = p[f"b{i}"]
        layers += [lin, nn.ReLU()] if i < L else [lin]
    model = nn.Sequential(*layers)
    names = {f"{2 * (i - 1)}.weight": f"W{i}" for i in range(1, L + 1)}
    names |= {f"{2 * (i - 1)}.bias": f"b{i}" for i in range(1, L + 1)}
    params = {names[k]: q for k, q in model.named_parameters()}

    def loss_fn(x: np.ndarray, y: np.ndarray) -> gg.Tensor:
        return F.cross_entropy(model(x), y)

    return loss_fn, (p["x"], p["y"]), params, tuple(k for k in params if k[0] == "W")


def _mlp_torch(p: Problem) -> Step:
    torch = _torch()
    L = p["layers"]
    params = _torch_leaves(p, [f"{k}{i}" for i in range(1, L + 1) for k in "Wb"])
    x, y = torch.tensor(p["x"]), torch.tensor(p["y"])

    def step() -> tuple[float, dict[str, np.ndarray]]:
        h = x
        for i in range(1, L + 1):
            h = h @ params[f"W{i}"] + params[f"b{i}"]
            if i < L:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, y)
        loss.backward()
        return loss.item(), _torch_grads(params)

    return step


# ------------------------------------------------------------------ 3. seed 002's RNN
def _seed_make(rng: np.random.Generator, dtype: Any, T: int = 8, H: int = 100) -> Problem:
    x, y = gg.data.alternating_sum(1, T, rng)
    return {
        "x": x.astype(dtype),
        "y": y.astype(dtype),
        "T": T,
        "W_in": rng.standard_normal((1, H)).astype(dtype),
        "W": (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype),
        "b": (rng.standard_normal(H) * 0.1).astype(dtype),
        "W_out": (rng.standard_normal((H, 1)) / np.sqrt(H)).astype(dtype),
        "b_out": (rng.standard_normal(1) * 0.1).astype(dtype),
    }


_SEED_PARAMS = ["W_in", "W", "b", "W_out", "b_out"]


def _seed_numpy(p: Problem) -> Step:
    args = [p[k] for k in _SEED_PARAMS]
    x, y = p["x"][0], p["y"][0]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        loss, _, grads = reference.seed002_rnn(x, y, *args)
        return loss, grads

    return step


def _seed_model(p: Problem) -> Model:
    H = p["W"].shape[0]
    rnn, out = (
        nn.ElmanRNN(1, H, dtype=p["W"].dtype, batch_first=True),
        nn.Linear(H, 1, dtype=p["W"].dtype),
    )
    cell = rnn.cells[0]
    for q, k in [
        (cell.W, "W_in"),
        (cell.V, "W"),
        (cell.b, "b"),
        (out.weight, "W_out"),
        (out.bias, "b_out"),
    ]:
        q.data[...] = p[k].T if k == "W_out" else p[k]  # (out, in): the seed's W_out.T
    names = {"W_in": cell.W, "W": cell.V, "b": cell.b, "W_out": out.weight, "b_out": out.bias}

    def loss_fn(x: np.ndarray, y: np.ndarray) -> gg.Tensor:
        h, _ = rnn(x)
        return F.squared_error(out(h)[..., 0].sigmoid(), y)

    return loss_fn, (p["x"][..., None], p["y"]), names, ("W_out",)


def _seed_torch(p: Problem) -> Step:
    torch = _torch()
    q = _torch_leaves(p, _SEED_PARAMS)
    x, y, T = torch.tensor(p["x"]), torch.tensor(p["y"]), p["T"]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        h = None
        loss = 0.0
        for t in range(T):
            z = x[:, t : t + 1] @ q["W_in"] + q["b"]
            h = torch.tanh(z if h is None else z + h @ q["W"])
            o = torch.sigmoid(h @ q["W_out"] + q["b_out"])
            loss = loss + 0.5 * ((o[:, 0] - y[:, t]) ** 2).sum()
        loss.backward()
        return loss.item(), _torch_grads(q)

    return step


def _seed_torch_nn(p: Problem) -> Step:
    torch = _torch()
    H = p["W"].shape[0]
    dtype = torch.float64 if p["W"].dtype == np.float64 else torch.float32
    rnn = torch.nn.RNN(1, H, batch_first=True, dtype=dtype)
    lin = torch.nn.Linear(H, 1, dtype=dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(p["W_in"].T))
        rnn.weight_hh_l0.copy_(torch.tensor(p["W"].T))
        rnn.bias_ih_l0.copy_(torch.tensor(p["b"]))
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(torch.tensor(p["W_out"].T))
        lin.bias.copy_(torch.tensor(p["b_out"]))
    x, y = torch.tensor(p["x"][..., None]), torch.tensor(p["y"])
    named = {
        "W_in": rnn.weight_ih_l0,
        "W": rnn.weight_hh_l0,
        "b": rnn.bias_ih_l0,
        "W_out": lin.weight,
        "b_out": lin.bias,
    }

    def step() -> tuple[float, dict[str, np.ndarray]]:
        h, _ = rnn(x)
        loss = 0.5 * ((torch.sigmoid(lin(h))[..., 0] - y) ** 2).sum()
        loss.backward()
        rnn.bias_hh_l0.grad = None
        return loss.item(), _torch_grads(named, transpose=("W_in", "W", "W_out"))

    return step


# ------------------------------------------------------------------ 4. batched RNN / LSTM / GRU
def _batch_make(kind: str) -> Callable[[np.random.Generator, Any], Problem]:
    def make(
        rng: np.random.Generator, dtype: Any, N: int = 64, T: int = 64, F_in: int = 32, H: int = 128
    ) -> Problem:
        g = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
        k = 1 / np.sqrt(H)
        p: Problem = {
            "x": rng.standard_normal((N, T, F_in)).astype(dtype),
            "y": rng.standard_normal((N, T, 1)).astype(dtype),
            "kind": kind,
            "W_out": (rng.standard_normal((H, 1)) * k).astype(dtype),
            "b_out": np.zeros(1, dtype=dtype),
        }
        if kind == "rnn":
            p["W"] = (rng.standard_normal((F_in, H)) / np.sqrt(F_in)).astype(dtype)
            p["V"] = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
            p["b"] = (rng.standard_normal(H) * 0.1).astype(dtype)
        else:
            p["W_ih"] = rng.uniform(-k, k, (g * H, F_in)).astype(dtype)
            p["W_hh"] = rng.uniform(-k, k, (g * H, H)).astype(dtype)
            p["b_ih"] = rng.uniform(-k, k, g * H).astype(dtype)
            p["b_hh"] = rng.uniform(-k, k, g * H).astype(dtype)
        return p

    return make


def _cell_names(kind: str) -> list[str]:
    return ["W", "V", "b"] if kind == "rnn" else ["W_ih", "W_hh", "b_ih", "b_hh"]


def _batch_numpy(p: Problem) -> Step:
    kind, x, y = p["kind"], p["x"], p["y"]
    W_out, b_out = p["W_out"], p["b_out"]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        if kind == "rnn":
            h, Z = reference.elman_forward(x, p["W"], p["V"], p["b"])
        else:
            fwd = reference.lstm_forward if kind == "lstm" else reference.gru_forward
            h, cache = fwd(x, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])
        o = h @ W_out + b_out
        d = o - y
        loss = 0.5 * float(np.sum(d * d))
        H = h.shape[-1]
        grads = {"W_out": h.reshape(-1, H).T @ d.reshape(-1, 1), "b_out": d.sum(axis=(0, 1))}
        dh = d @ W_out.T
        if kind == "rnn":
            r = reference.elman_backward(x, p["W"], p["V"], h, Z, dh)
        else:
            r = (reference.lstm_backward if kind == "lstm" else reference.gru_backward)(dh, cache)
        grads.update({k: r[k] for k in _cell_names(kind)})
        return loss, grads

    return step


def _batch_model(p: Problem) -> Model:
    kind, x, y = p["kind"], p["x"], p["y"]
    F_in, H = x.shape[-1], p["W_out"].shape[0]
    dtype = x.dtype
    layer = {"rnn": nn.ElmanRNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](
        F_in, H, dtype=dtype, batch_first=True
    )
    readout = nn.Linear(H, 1, dtype=dtype)
    cell = layer.cells[0]
    if kind == "rnn":
        names = {"W": cell.W, "V": cell.V, "b": cell.b}
    else:
        names = {
            "W_ih": cell.weight_ih,
            "W_hh": cell.weight_hh,
            "b_ih": cell.bias_ih,
            "b_hh": cell.bias_hh,
        }
    names |= {"W_out": readout.weight, "b_out": readout.bias}
    for k, q in names.items():
        q.data[...] = p[k].T if k == "W_out" else p[k]  # Linear's weight is (out, in)

    def loss_fn(x: np.ndarray, y: np.ndarray) -> gg.Tensor:
        h, _ = layer(x)
        return F.squared_error(readout(h), y)

    return loss_fn, (x, y), names, ("W_out",)


def _batch_torch(p: Problem) -> Step:
    torch = _torch()
    kind = p["kind"]
    q = _torch_leaves(p, [*_cell_names(kind), "W_out", "b_out"])
    x, y = torch.tensor(p["x"]), torch.tensor(p["y"])
    T, H = x.shape[1], p["W_out"].shape[0]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        outs = []
        if kind == "rnn":
            xp = x @ q["W"] + q["b"]
            h = None
            for t in range(T):
                h = torch.tanh(xp[:, t] if h is None else xp[:, t] + h @ q["V"])
                outs.append(h)
        elif kind == "lstm":
            xp = x @ q["W_ih"].T + q["b_ih"] + q["b_hh"]
            Whh = q["W_hh"].T
            h = c = None
            for t in range(T):
                a = xp[:, t] if h is None else xp[:, t] + h @ Whh
                i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H : 2 * H])
                g, o = torch.tanh(a[:, 2 * H : 3 * H]), torch.sigmoid(a[:, 3 * H :])
                c = i * g if c is None else f * c + i * g
                h = o * torch.tanh(c)
                outs.append(h)
        else:
            xp = x @ q["W_ih"].T + q["b_ih"]
            Whh = q["W_hh"].T
            h = torch.zeros(x.shape[0], H, dtype=x.dtype)
            for t in range(T):
                hp = h @ Whh + q["b_hh"]
                r = torch.sigmoid(xp[:, t, :H] + hp[:, :H])
                z = torch.sigmoid(xp[:, t, H : 2 * H] + hp[:, H : 2 * H])
                n = torch.tanh(xp[:, t, 2 * H :] + r * hp[:, 2 * H :])
                h = n + z * (h - n)
                outs.append(h)
        o = torch.stack(outs, 1) @ q["W_out"] + q["b_out"]
        loss = 0.5 * ((o - y) ** 2).sum()
        loss.backward()
        return loss.item(), _torch_grads(q)

    return step


def _batch_torch_nn(p: Problem) -> Step:
    torch = _torch()
    kind = p["kind"]
    x, y = torch.tensor(p["x"]), torch.tensor(p["y"])
    F_in, H = x.shape[-1], p["W_out"].shape[0]
    dtype = x.dtype
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        F_in, H, batch_first=True, dtype=dtype
    )
    readout = torch.nn.Linear(H, 1, dtype=dtype)
    with torch.no_grad():
        if kind == "rnn":
            layer.weight_ih_l0.copy_(torch.tensor(p["W"].T))
            layer.weight_hh_l0.copy_(torch.tensor(p["V"].T))
            layer.bias_ih_l0.copy_(torch.tensor(p["b"]))
            layer.bias_hh_l0.zero_()
        else:
            for ours, theirs in [
                ("W_ih", "weight_ih_l0"),
                ("W_hh", "weight_hh_l0"),
                ("b_ih", "bias_ih_l0"),
                ("b_hh", "bias_hh_l0"),
            ]:
                getattr(layer, theirs).copy_(torch.tensor(p[ours]))
        readout.weight.copy_(torch.tensor(p["W_out"].T))
        readout.bias.copy_(torch.tensor(p["b_out"]))
    if kind == "rnn":
        named = {"W": layer.weight_ih_l0, "V": layer.weight_hh_l0, "b": layer.bias_ih_l0}
        transpose: tuple[str, ...] = ("W", "V", "W_out")
    else:
        named = {
            "W_ih": layer.weight_ih_l0,
            "W_hh": layer.weight_hh_l0,
            "b_ih": layer.bias_ih_l0,
            "b_hh": layer.bias_hh_l0,
        }
        transpose = ("W_out",)
    named |= {"W_out": readout.weight, "b_out": readout.bias}

    def step() -> tuple[float, dict[str, np.ndarray]]:
        h, _ = layer(x)
        loss = 0.5 * ((readout(h) - y) ** 2).sum()
        loss.backward()
        if kind == "rnn":
            layer.bias_hh_l0.grad = None
        return loss.item(), _torch_grads(named, transpose=transpose)

    return step


# ------------------------------------------------------------------ 5. XOR MLP (pure overhead)
def _xor_make(rng: np.random.Generator, dtype: Any) -> Problem:
    X, T = gg.data.xor()
    p: Problem = {"x": X.astype(dtype), "y": T.astype(dtype)}
    for i, (m, n) in enumerate([(2, 16), (16, 16), (16, 1)], 1):
        p[f"W{i}"] = (rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype)
        p[f"b{i}"] = (rng.standard_normal(n) * 0.1).astype(dtype)
    return p


_XOR_PARAMS = ["W1", "b1", "W2", "b2", "W3", "b3"]


def _xor_numpy(p: Problem) -> Step:
    x, y = p["x"], p["y"]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        h1 = np.tanh(x @ p["W1"] + p["b1"])
        h2 = np.tanh(h1 @ p["W2"] + p["b2"])
        o = 1 / (1 + np.exp(-(h2 @ p["W3"] + p["b3"])))
        d = o - y
        loss = 0.5 * float(np.sum(d * d))
        d3 = d * o * (1 - o)
        d2 = (d3 @ p["W3"].T) * (1 - h2 * h2)
        d1 = (d2 @ p["W2"].T) * (1 - h1 * h1)
        return loss, {
            "W3": h2.T @ d3,
            "b3": d3.sum(0),
            "W2": h1.T @ d2,
            "b2": d2.sum(0),
            "W1": x.T @ d1,
            "b1": d1.sum(0),
        }

    return step


def _xor_model(p: Problem) -> Model:
    q = _leaves(p, _XOR_PARAMS)

    def loss_fn(x: np.ndarray, y: np.ndarray) -> gg.Tensor:
        h = (x @ q["W1"] + q["b1"]).tanh()
        h = (h @ q["W2"] + q["b2"]).tanh()
        return F.squared_error((h @ q["W3"] + q["b3"]).sigmoid(), y)

    return loss_fn, (p["x"], p["y"]), q, ()


def _xor_torch(p: Problem) -> Step:
    torch = _torch()
    q = _torch_leaves(p, _XOR_PARAMS)
    x, y = torch.tensor(p["x"]), torch.tensor(p["y"])

    def step() -> tuple[float, dict[str, np.ndarray]]:
        h = torch.tanh(x @ q["W1"] + q["b1"])
        h = torch.tanh(h @ q["W2"] + q["b2"])
        loss = 0.5 * ((torch.sigmoid(h @ q["W3"] + q["b3"]) - y) ** 2).sum()
        loss.backward()
        return loss.item(), _torch_grads(q)

    return step


# ------------------------------------------------------------------ 6. deep graph
def _deep_make(T: int) -> Callable[[np.random.Generator, Any], Problem]:
    def make(rng: np.random.Generator, dtype: Any, H: int = 16) -> Problem:
        return {
            "x": rng.standard_normal((1, T, 1)).astype(dtype),
            "y": (rng.standard_normal((1, T, H)) * 0.5).astype(dtype),
            "W": rng.standard_normal((1, H)).astype(dtype),
            "V": (rng.standard_normal((H, H)) / np.sqrt(H) * 0.9).astype(dtype),
            "b": (rng.standard_normal(H) * 0.1).astype(dtype),
        }

    return make


def _deep_numpy(p: Problem) -> Step:
    x, y, W, V, b = p["x"], p["y"], p["W"], p["V"], p["b"]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        h, Z = reference.elman_forward(x, W, V, b)
        d = h - y
        r = reference.elman_backward(x, W, V, h, Z, d)
        return 0.5 * float(np.sum(d * d)), {"W": r["W"], "V": r["V"], "b": r["b"]}

    return step


def _deep_model(p: Problem) -> Model:
    H = p["V"].shape[0]
    rnn = nn.ElmanRNN(1, H, dtype=p["V"].dtype, batch_first=True)
    cell = rnn.cells[0]
    names = {"W": cell.W, "V": cell.V, "b": cell.b}
    for k, q in names.items():
        q.data[...] = p[k]

    def loss_fn(x: np.ndarray, y: np.ndarray) -> gg.Tensor:
        h, _ = rnn(x)
        return F.squared_error(h, y)

    return loss_fn, (p["x"], p["y"]), names, ()


def _deep_torch(p: Problem) -> Step:
    torch = _torch()
    q = _torch_leaves(p, ["W", "V", "b"])
    x, y = torch.tensor(p["x"]), torch.tensor(p["y"])
    T = x.shape[1]

    def step() -> tuple[float, dict[str, np.ndarray]]:
        xp = x @ q["W"] + q["b"]
        h, outs = None, []
        for t in range(T):
            h = torch.tanh(xp[:, t] if h is None else xp[:, t] + h @ q["V"])
            outs.append(h)
        loss = 0.5 * ((torch.stack(outs, 1) - y) ** 2).sum()
        loss.backward()
        return loss.item(), _torch_grads(q)

    return step


# ------------------------------------------------------------------ 7. word language model
# pytorch/examples' word_language_model step: embedding 128, 2-layer LSTM 128, bptt 35,
# batch 20, decoder to the vocabulary of the corpus the port trains on (18 328 words:
# examples/pytorch_ports/word_language_model), log_softmax + NLL; dropout off so that the
# gradients can be compared.
WORD_LM_SIZES = {"V": 18328, "D": 128, "T": 35, "N": 20}


def _wlm_make(rng: np.random.Generator, dtype: Any, V: int, D: int, T: int, N: int) -> Problem:
    k = 1 / np.sqrt(D)
    p: Problem = {
        "tokens": rng.integers(0, V, size=(T + 1, N)),
        "encoder.weight": rng.uniform(-0.1, 0.1, (V, D)).astype(dtype),
        "decoder.weight": rng.uniform(-0.1, 0.1, (V, D)).astype(dtype),
        "decoder.bias": np.zeros(V, dtype=dtype),
    }
    for layer in range(2):
        for name, shape in (("weight_ih", (4 * D, D)), ("weight_hh", (4 * D, D))):
            p[f"rnn.{name}_l{layer}"] = rng.uniform(-k, k, shape).astype(dtype)
        for name in ("bias_ih", "bias_hh"):
            p[f"rnn.{name}_l{layer}"] = rng.uniform(-k, k, 4 * D).astype(dtype)
    return p


def _wlm_params(p: Problem) -> dict[str, np.ndarray]:
    return {k: v for k, v in p.items() if k != "tokens"}


def _wlm_numpy(p: Problem) -> Step:
    params, tokens = _wlm_params(p), p["tokens"]
    return lambda: reference.word_lm_step(tokens, params)


def _wlm_model(p: Problem) -> Model:
    V, D = p["encoder.weight"].shape
    dtype = p["encoder.weight"].dtype
    model = nn.ModuleDict(
        {
            "encoder": nn.Embedding(V, D, dtype=dtype),
            "rnn": nn.LSTM(D, D, 2, dtype=dtype),
            "decoder": nn.Linear(D, V, dtype=dtype),
        }
    )
    model.load_state_dict(_wlm_params(p))
    params = dict(model.named_parameters())
    data, targets = gg.tensor(p["tokens"][:-1]), gg.tensor(p["tokens"][1:].reshape(-1))
    h0 = (gg.zeros(2, data.shape[1], D, dtype=dtype),) * 2

    def forward(data: gg.Tensor) -> gg.Tensor:  # RNNModel.forward: the logits die here
        out, _ = model["rnn"](model["encoder"](data), h0)
        decoded = model["decoder"](out).view(-1, V)
        return F.log_softmax(decoded, dim=1)

    def loss_fn(data: gg.Tensor, targets: gg.Tensor) -> gg.Tensor:
        return F.nll_loss(forward(data), targets)

    return loss_fn, (data, targets), params, ()


def _wlm_torch_nn(p: Problem) -> Step:
    torch = _torch()
    V, D = p["encoder.weight"].shape
    dtype = torch.float64 if p["encoder.weight"].dtype == np.float64 else torch.float32
    model = torch.nn.ModuleDict(
        {
            "encoder": torch.nn.Embedding(V, D, dtype=dtype),
            "rnn": torch.nn.LSTM(D, D, 2, dtype=dtype),
            "decoder": torch.nn.Linear(D, V, dtype=dtype),
        }
    )
    model.load_state_dict({k: torch.tensor(v) for k, v in _wlm_params(p).items()})
    params = dict(model.named_parameters())
    data, targets = torch.tensor(p["tokens"][:-1]), torch.tensor(p["tokens"][1:].reshape(-1))
    h0 = (torch.zeros(2, data.shape[1], D, dtype=dtype),) * 2

    def forward() -> Any:
        out, _ = model["rnn"](model["encoder"](data), h0)
        decoded = model["decoder"](out).view(-1, V)
        return torch.log_softmax(decoded, dim=1)

    def step() -> tuple[float, dict[str, np.ndarray]]:
        loss = torch.nn.functional.nll_loss(forward(), targets)
        loss.backward()
        return loss.item(), _torch_grads(params)

    return step


# the eager and the compiled backend of each model
_op_graphgrad, _op_compiled = _eager(_op_model), _compiled(_op_model)
_mlp_graphgrad, _mlp_compiled = _eager(_mlp_model), _compiled(_mlp_model)
_seed_graphgrad, _seed_compiled = _eager(_seed_model), _compiled(_seed_model)
_batch_graphgrad, _batch_compiled = _eager(_batch_model), _compiled(_batch_model)
_xor_graphgrad, _xor_compiled = _eager(_xor_model), _compiled(_xor_model)
_deep_graphgrad, _deep_compiled = _eager(_deep_model), _compiled(_deep_model)
_wlm_graphgrad, _wlm_compiled = _eager(_wlm_model), _compiled(_wlm_model)


def workloads(quick: bool = False) -> list[Workload]:
    """All workloads; ``quick`` shrinks every size so the whole run takes seconds."""
    deep_lengths = (500,) if quick else (5000, 20000)
    seed_lengths = (8,) if quick else (8, 32)
    op = {
        "numpy": _op_numpy,
        "graphgrad": _op_graphgrad,
        "graphgrad compiled": _op_compiled,
        "torch": _op_torch,
    }
    mlp = {
        "numpy": _mlp_numpy,
        "graphgrad": _mlp_graphgrad,
        "graphgrad compiled": _mlp_compiled,
        "torch": _mlp_torch,
    }
    mlp_make = (lambda r, d: _mlp_make(r, d, (64, 32, 32, 10), 16)) if quick else _mlp_make
    out = [
        Workload("op-overhead", _op_make, op, ops_per_step=600, target=1.5, compiled_target=1.10),
        Workload("mlp", mlp_make, mlp, target=1.10, compiled_target=1.0),
    ]
    for T in seed_lengths:
        out.append(
            Workload(
                f"rnn-seed T={T}",
                lambda r, d, T=T: _seed_make(r, d, T),
                {
                    "numpy": _seed_numpy,
                    "graphgrad": _seed_graphgrad,
                    "graphgrad compiled": _seed_compiled,
                    "torch": _seed_torch,
                    "torch.nn": _seed_torch_nn,
                },
                target=1.5,
                compiled_target=1.10,
            )
        )
    for kind in ("rnn", "lstm", "gru"):
        make = _batch_make(kind)
        if quick:
            make = (lambda m: lambda r, d: m(r, d, N=4, T=6, F_in=3, H=5))(make)
        out.append(
            Workload(
                f"{kind}-batch",
                make,
                {
                    "numpy": _batch_numpy,
                    "graphgrad": _batch_graphgrad,
                    "graphgrad compiled": _batch_compiled,
                    "torch": _batch_torch,
                    "torch.nn": _batch_torch_nn,
                },
                target=1.10,
                compiled_target=1.0,
            )
        )
    out.append(
        Workload(
            "xor-mlp",
            _xor_make,
            {
                "numpy": _xor_numpy,
                "graphgrad": _xor_graphgrad,
                "graphgrad compiled": _xor_compiled,
                "torch": _xor_torch,
            },
            target=2.5,
            compiled_target=1.10,
        )
    )
    for T in deep_lengths:
        out.append(
            Workload(
                f"deep-graph T={T}",
                _deep_make(T),
                {
                    "numpy": _deep_numpy,
                    "graphgrad": _deep_graphgrad,
                    "graphgrad compiled": _deep_compiled,
                    "torch": _deep_torch,
                },
                target=1.5,
            )
        )
    sizes = dict(V=50, D=6, T=5, N=3) if quick else WORD_LM_SIZES
    out.append(
        Workload(
            "word-lm",
            lambda r, d: _wlm_make(r, d, **sizes),
            {
                "numpy": _wlm_numpy,
                "graphgrad": _wlm_graphgrad,
                "graphgrad compiled": _wlm_compiled,
                "torch.nn": _wlm_torch_nn,
            },
            target=1.10,
            compiled_target="eager",
        )
    )
    return out
