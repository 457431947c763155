"""Seed 003 as a picture: how the error signal of the last step reaches earlier steps.

The seed shows that the gradient of a loss at step T with respect to h(t) is
⟨d(T)| G(T) J_h G(T−1) ⋯ J_h G(t): the recurrent matrix J_h is applied T − t times, so
‖∂L/∂h_t‖ vanishes when its gain is below 1 and explodes above 1. On seed 002's
alternating-sum sequences (length --length, a batch of --batch), with the loss on the last
step only, this script measures ‖∂L/∂h_t‖ for every t (graphgrad.diagnostics.gradient_flow):

1. an Elman RNN whose recurrent matrix is scaled to spectral radius 0.5, 1.0 and 1.5
   (tanh, and linear units for radius 1.5, where nothing saturates), next to an LSTM and
   a GRU (default initialisation) and an LSTM whose forget-gate bias is 3 (σ(3) ≈ 0.95:
   seed 001's point that the cell path keeps a gradient the forget gate keeps);
2. training the exploding case — the linear radius-1.5 RNN, on sequences of length
   --train-length — with plain SGD, with and without gradient clipping (global norm ≤ 1):
   unclipped, the gradient norm explodes and the parameters become NaN; clipped, it trains.

    python examples/gradient_flow.py
    python examples/gradient_flow.py --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from common import markdown_table, pyplot, write_results

import graphgrad as gg
from graphgrad import diagnostics, nn, optim
from graphgrad.nn import functional as F
from graphgrad.nn import init


def scaled_rnn(
    radius: float, hidden: int, nonlinearity: str, rng: np.random.Generator
) -> nn.ElmanRNN:
    """An RNN whose recurrent matrix V is rescaled to the given spectral radius."""
    rnn = nn.ElmanRNN(1, hidden, nonlinearity=nonlinearity, rng=rng, batch_first=True)
    V = rnn.cells[0].V
    V.data *= radius / init.spectral_radius(V)
    return rnn


def forget_biased_lstm(hidden: int, bias: float, rng: np.random.Generator) -> nn.LSTM:
    """An LSTM whose forget gate starts open: b_f = bias (gate order i, f, g, o)."""
    lstm = nn.LSTM(1, hidden, rng=rng, batch_first=True)
    cell = lstm.cells[0]
    cell.bias_ih.data[hidden : 2 * hidden] = bias
    cell.bias_hh.data[hidden : 2 * hidden] = 0.0
    return lstm


class Classifier(nn.Module):
    """recurrent layer → linear readout → logit at every step."""

    def __init__(self, layer: nn.Module, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.layer = layer
        self.readout = nn.Linear(hidden, 1, rng=rng)

    def forward(self, x: np.ndarray) -> gg.Tensor:
        h, _ = self.layer(x[..., None])
        return self.readout(h)[..., 0]


def measure(args: argparse.Namespace, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    H = args.hidden
    layers = {
        "RNN ρ=0.5": scaled_rnn(0.5, H, "tanh", rng),
        "RNN ρ=1.0": scaled_rnn(1.0, H, "tanh", rng),
        "RNN ρ=1.5": scaled_rnn(1.5, H, "tanh", rng),
        "RNN ρ=1.5 linear": scaled_rnn(1.5, H, "linear", rng),
        "LSTM": nn.LSTM(1, H, rng=rng, batch_first=True),
        "GRU": nn.GRU(1, H, rng=rng, batch_first=True),
        "LSTM forget bias 3": forget_biased_lstm(H, 3.0, rng),
    }
    target = y[:, -1].astype(float)
    flows = {}
    for name, layer in layers.items():
        readout = nn.Linear(H, 1, rng=np.random.default_rng(args.seed + 1))

        def loss_fn(out: gg.Tensor, readout: nn.Linear = readout) -> gg.Tensor:
            return F.binary_cross_entropy_with_logits(
                readout(out[:, -1])[:, 0], target
            )  # step T only

        flows[name] = diagnostics.gradient_flow(layer, x[..., None], loss_fn)
    rows = []
    for name, f in flows.items():
        norms = f.hidden_grad_norms[0]
        rows.append(
            [
                name,
                f.spectral_radius[0],
                f.largest_singular_value[0],
                norms[-1],
                norms[0],
                f.decay_per_step(),
            ]
        )
    print(f"\n1. ‖∂L/∂h_t‖ with the loss on step T = {x.shape[1]} only ({x.shape[0]} sequences)\n")
    print(
        markdown_table(
            [
                "model",
                "spectral radius",
                "largest singular value",
                "‖∂L/∂h_T‖",
                "‖∂L/∂h_1‖",
                "ratio per step back",
            ],
            rows,
        )
    )
    try:
        diagnostics.plot_gradient_flow(flows, args.out / "gradient_flow.png")
        print(f"plot: {args.out / 'gradient_flow.png'}")
    except ImportError as exc:
        print(f"(no plot: {exc})")
    return {
        name: {
            "hidden_grad_norms": f.hidden_grad_norms[0],
            "spectral_radius": f.spectral_radius[0],
            "largest_singular_value": f.largest_singular_value[0],
            "ratio_per_step_back": f.decay_per_step(),
        }
        for name, f in flows.items()
    }


def clipping(args: argparse.Namespace) -> dict[str, Any]:
    x, y = gg.data.alternating_sum(args.batch * 30, args.train_length, args.seed)
    runs = {}
    for clip in (None, 1.0):
        rng = np.random.default_rng(args.seed)
        model = Classifier(scaled_rnn(1.5, args.hidden, "linear", rng), args.hidden, rng)
        params = list(model.parameters())
        opt = optim.SGD(params, lr=args.lr)
        losses, norms = [], []
        with np.errstate(all="ignore"):  # the unclipped run overflows, as it should
            for step in range(args.steps):
                idx = np.arange(step * args.batch, (step + 1) * args.batch) % len(x)
                loss = F.binary_cross_entropy_with_logits(model(x[idx]), y[idx].astype(float))
                opt.zero_grad()
                loss.backward()
                total = nn.utils.clip_grad_norm_(params, clip if clip else np.inf)
                opt.step()
                losses.append(loss.item())
                norms.append(total)
        label = "no clipping" if clip is None else f"clip_grad_norm_ ≤ {clip:g}"
        runs[label] = {"loss": losses, "grad_norm": norms}
    rows = []
    for k, v in runs.items():
        last = float(np.mean(v["loss"][-10:]))
        diverged = "NaN (diverged)" if np.isnan(last) else last
        rows.append([k, float(np.nanmax(v["grad_norm"])), v["loss"][0], diverged])
    print(
        f"\n2. Training the linear ρ=1.5 RNN (T = {args.train_length}, {args.steps} SGD steps, "
        f"lr {args.lr}, per-step targets)\n"
    )
    headers = ["run", "largest ‖∂L/∂θ‖", "first loss", "mean of last 10 losses"]
    print(markdown_table(headers, rows))
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
        for k, v in runs.items():
            axes[0].semilogy(np.nan_to_num(v["grad_norm"], nan=np.inf), label=k)
            # log scale: the unclipped loss reaches ~1e77, which flattens a linear axis
            axes[1].semilogy(np.nan_to_num(v["loss"], nan=np.inf), label=k)
        axes[0].set(xlabel="step", ylabel="‖∂L/∂θ‖ before clipping", title="gradient norm")
        axes[1].set(xlabel="step", ylabel="loss (log scale)", title="training loss")
        from matplotlib.ticker import MaxNLocator

        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole steps
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        fig.savefig(args.out / "gradient_clipping.png", dpi=120)
        print(f"plot: {args.out / 'gradient_clipping.png'}")
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--length", type=int, default=50, help="sequence length T")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--train-length", type=int, default=20, help="sequence length in part 2")
    parser.add_argument("--steps", type=int, default=300, help="SGD steps in part 2")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate in part 2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/gradient_flow"))
    parser.add_argument("--quick", action="store_true", help="seconds: T = 20, 40 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.length, args.steps, args.hidden = 20, 40, 16
    args.out.mkdir(parents=True, exist_ok=True)
    x, y = gg.data.alternating_sum(args.batch, args.length, args.seed)
    flows = measure(args, x, y)
    runs = clipping(args)
    path = write_results(
        args.out,
        "gradient_flow",
        {"config": vars(args) | {"out": str(args.out)}, "flows": flows, "clipping": runs},
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
