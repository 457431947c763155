"""Seed 000: backpropagation through time is nothing but graph traversal.

1. The RNN block of eqs. (1)–(2), Z_t = Φ_t W + Φ'_{t−1} V + b, Φ'_t = tanh(Z_t), is built
   from graphgrad primitives (matmul, add, tanh) and unrolled over T steps; backward()
   gives ∂L/∂W, ∂L/∂V, ∂L/∂b and ∂L/∂Φ_t. The same gradients are computed by eqs.
   (3)–(10) written out by hand (graphgrad.reference, a loop from t = T down to 1) and the
   largest difference of each is printed: they agree to rounding.
2. Targets only for t ≥ τ (eqs. 13–14): the loss sends ∂L/∂Φ'_t = −(Y_t − Φ'_t) for t ≥ τ
   and exactly 0 for t < τ.
3. A many-to-many regression on a real series: yearly sunspot numbers 1700–2008
   (``examples/data/sunspots.csv``, NOAA, public domain). From a window of past years the
   RNN predicts the next year's value at every step (squared error summed over time); on
   held-out years it is compared with the persistence baseline (next = last).

    python examples/bptt_equations.py
    python examples/bptt_equations.py --quick
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import markdown_table, progress, pyplot, write_results

import graphgrad as gg
from graphgrad import nn, optim, reference
from graphgrad.nn import functional as F

SUNSPOTS = Path(__file__).resolve().parent / "data" / "sunspots.csv"


def unrolled_block(X: gg.Tensor, W: gg.Tensor, V: gg.Tensor, b: gg.Tensor) -> list[gg.Tensor]:
    """Eqs. (1)–(2) with graphgrad primitives; Φ'_0 = 0, so step 1 has no V term."""
    outs, prev = [], None
    for t in range(X.shape[1]):
        Z = X[:, t] @ W + b if prev is None else X[:, t] @ W + prev @ V + b
        prev = Z.tanh()
        outs.append(prev)
    return outs


def part1(rng: np.random.Generator, N: int, T: int, F_in: int, H: int) -> dict[str, float]:
    X = gg.tensor(rng.standard_normal((N, T, F_in)), requires_grad=True)
    W = gg.tensor(rng.standard_normal((F_in, H)) / np.sqrt(F_in), requires_grad=True)
    V = gg.tensor(rng.standard_normal((H, H)) / np.sqrt(H), requires_grad=True)
    b = gg.tensor(rng.standard_normal(H) * 0.1, requires_grad=True)
    Y = rng.standard_normal((N, T, H))
    out = gg.stack(unrolled_block(X, W, V, b), axis=1)
    F.squared_error(out, Y).backward()  # eq. (11), summed over t, samples and units

    phi, Z = reference.elman_forward(X.data, W.data, V.data, b.data)
    _, dL_dphi = reference.squared_error_grad(phi, Y)  # eq. (12)
    ref = reference.elman_backward(X.data, W.data, V.data, phi, Z, dL_dphi)  # eqs. (3)–(10)
    diffs = {
        "∂L/∂W (9)": np.abs(W.grad - ref["W"]).max(),
        "∂L/∂V (10)": np.abs(V.grad - ref["V"]).max(),
        "∂L/∂b (8)": np.abs(b.grad - ref["b"]).max(),
        "∂L/∂Φ_t (4)": np.abs(X.grad - ref["X"]).max(),
    }
    print(f"\n1. RNN block, N={N}, T={T}, F={F_in}, H={H}: graph traversal vs eqs. (3)–(10)\n")
    print(
        markdown_table(
            ["gradient", "largest absolute difference, backward() vs hand-written"],
            [[k, f"{v:.2e}"] for k, v in diffs.items()],
        )
    )
    return {k: float(v) for k, v in diffs.items()}


def part2(
    rng: np.random.Generator, N: int, T: int, F_in: int, H: int, tau: int
) -> dict[str, float]:
    X = gg.tensor(rng.standard_normal((N, T, F_in)))
    W = gg.tensor(rng.standard_normal((F_in, H)) / np.sqrt(F_in), requires_grad=True)
    V = gg.tensor(rng.standard_normal((H, H)) / np.sqrt(H), requires_grad=True)
    b = gg.tensor(np.zeros(H), requires_grad=True)
    Y = rng.standard_normal((N, T, H))
    out = gg.stack(unrolled_block(X, W, V, b), axis=1)
    mask = (np.arange(T) >= tau)[None, :, None]  # targets only for t ≥ τ
    loss = F.squared_error(out, Y, mask=mask)  # eq. (13)
    (direct,) = gg.grad(loss, out, retain_graph=True)  # ∂L/∂Φ'_t as the loss sends it
    loss.backward()
    phi, Z = reference.elman_forward(X.data, W.data, V.data, b.data)
    _, dL = reference.squared_error_grad(phi, Y, tau=tau)  # eq. (14)
    ref = reference.elman_backward(X.data, W.data, V.data, phi, Z, dL)
    result = {
        "largest ∂L/∂Φ'_t sent by the loss for t < τ (eq. 14: 0)": float(
            np.abs(direct.data[:, :tau]).max()
        ),
        "largest difference from −(Y_t − Φ'_t) for t ≥ τ (eq. 14)": float(
            np.abs(direct.data[:, tau:] + (Y - phi)[:, tau:]).max()
        ),
        "largest ∂L/∂W difference from eqs. (3)–(10)": float(np.abs(W.grad - ref["W"]).max()),
        "largest ∂L/∂V difference from eqs. (3)–(10)": float(np.abs(V.grad - ref["V"]).max()),
    }
    print(f"\n2. Targets only for t ≥ τ = {tau + 1} of T = {T} (eqs. 13–14)\n")
    print(markdown_table(["quantity", "value"], [[k, f"{v:.2e}"] for k, v in result.items()]))
    return result


class Forecaster(nn.Module):
    """x (N, T) → RNN → linear → the next value at every step (N, T)."""

    def __init__(self, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.rnn = nn.ElmanRNN(1, hidden, rng=rng, batch_first=True)
        self.out = nn.Linear(hidden, 1, rng=rng)

    def forward(self, x: np.ndarray) -> gg.Tensor:
        h, _ = self.rnn(x[..., None])
        return self.out(h)[..., 0]


def part3(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, Any]:
    table = np.loadtxt(SUNSPOTS, delimiter=",", skiprows=1)  # YEAR, SUNACTIVITY
    years = table[:, 0].astype(int)
    series = table[:, 1] / 100.0  # ~[0, 2]
    W = args.window
    first_test = int(np.searchsorted(years, args.test_from))
    # Training windows end before the first held-out year; every window predicts the next
    # value at each of its W steps (many-to-many).
    starts = np.arange(0, first_test - W)
    x_train = np.stack([series[s : s + W] for s in starts])
    y_train = np.stack([series[s + 1 : s + W + 1] for s in starts])
    model = Forecaster(args.hidden, rng)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    start = time.perf_counter()
    for _ in progress(range(args.epochs), total=args.epochs, desc="sunspots"):
        loss = F.squared_error(model(x_train), y_train) / len(x_train)  # summed over time
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(list(model.parameters()), 1.0)
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    # Held-out years: predict year y from the W years before it (last step's output).
    test_idx = np.arange(first_test, len(series))
    x_test = np.stack([series[i - W : i] for i in test_idx])
    with gg.no_grad():
        pred = model(x_test).data[:, -1]
    truth = series[test_idx]
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)) * 100)
    persistence = float(np.sqrt(np.mean((series[test_idx - 1] - truth) ** 2)) * 100)
    print(
        f"\n3. Sunspots: train on {years[0]}–{years[first_test - 1]} "
        f"({len(x_train)} windows of {W} years), "
        f"test on {years[first_test]}–{years[-1]} ({len(test_idx)} years)\n"
    )
    print(
        markdown_table(
            ["one-year-ahead forecast", "RMSE (sunspot number)"],
            [["RNN (graphgrad)", rmse], ["persistence (next = last)", persistence]],
        )
    )
    result = {
        "rmse": rmse,
        "persistence_rmse": persistence,
        "train_seconds": seconds,
        "final_train_loss": losses[-1],
        "test_years": years[test_idx],
        "prediction": pred * 100,
        "truth": truth * 100,
    }
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.plot(years[test_idx], truth * 100, "k-", label="observed")
        ax.plot(years[test_idx], pred * 100, "C0-", label=f"RNN (RMSE {rmse:.1f})")
        ax.plot(
            years[test_idx],
            series[test_idx - 1] * 100,
            "C1:",
            label=f"persistence (RMSE {persistence:.1f})",
        )
        ax.set(
            xlabel="year", ylabel="sunspot number", title="Held-out years: one-year-ahead forecasts"
        )
        ax.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(args.out / "sunspots_forecast.png", dpi=120)
        result["plot"] = str(args.out / "sunspots_forecast.png")
        print(f"plot: {result['plot']}")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--tau", type=int, default=5, help="first step with a target, counting from 1"
    )
    parser.add_argument("--window", type=int, default=30, help="years per input window (sunspots)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1500, help="full-batch Adam steps (sunspots)")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--test-from", type=int, default=1950, help="first held-out year")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bptt"))
    parser.add_argument("--quick", action="store_true", help="seconds: 100 sunspot training steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 100
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    results = {
        "equations": part1(rng, N=4, T=12, F_in=3, H=5),
        "misaligned": part2(rng, N=3, T=10, F_in=2, H=4, tau=args.tau - 1),
        "sunspots": part3(args, rng),
    }
    path = write_results(
        args.out, "bptt_equations", {"config": vars(args) | {"out": str(args.out)}, **results}
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
