"""Seed 002: RNN vs DNN on alternating-sum sequences, then the remedies it names.

Data (seed 002): x = L uniform numbers in [0, 1); the running sum s_k = x_1 − x_2 + x_3 − …
gives a label y_k = 1 if s_k ≥ 0 else 0 at every step. 50,000 training sequences.

Models, with the seed's settings (batch size 1, squared error summed over time, plain SGD):
  RNN          input 1 → 100 tanh units → sigmoid output at every step; lr 0.1 for W_in,
               W_out, b_out and 0.001 for the recurrent W and b (a parameter group); init
               randn/√fan_in
  DNN          L inputs → 100 ReLU → L sigmoid outputs, lr 0.1
and the remedies the seed names for long sequences:
  RNN+clip     the RNN with gradient clipping (global norm ≤ 1), plain SGD, lr 0.1 for every
               weight
  LSTM (Adam), gated units in place of the tanh layer. With the seed's plain SGD at batch
  GRU (Adam)   size 1 they stay at a constant prediction for thousands of iterations
               (measured: see examples/RESULTS.md), so they are trained with Adam (lr 0.003),
               next to
  RNN (Adam)   the same RNN under the same optimizer, for a fair comparison.
Every recurrent model's input weights start as the seed's W_in = randn / √fan_in.

Every 500 iterations each model is scored on 500 held-out sequences: the seed's metric,
correct outputs (threshold 0.5) per sequence of length L, reported as a fraction of L; the
table gives it after 5,000 iterations and at the end (mean of the last evaluations). The
seed's finding: at L = 8 both RNN and DNN saturate after 3,000–5,000 iterations; as L grows
the RNN learns less and less (vanishing/exploding gradients) while the DNN keeps learning.

    python examples/progression.py                 # the full experiment (see examples/RESULTS.md)
    python examples/progression.py --demo          # README demo: RNN, DNN, RNN+clip at L = 8, 32
    python examples/progression.py --quick         # seconds: every model and length, few steps
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import markdown_table, progress, pyplot, write_results

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.nn import functional as F
from graphgrad.nn import init

MODELS = ["RNN", "DNN", "RNN+clip", "RNN (Adam)", "LSTM (Adam)", "GRU (Adam)"]
SEED_SETTINGS = ("RNN", "DNN")  # trained for --iters; the remedies for --remedy-iters
RECURRENT = {"RNN": nn.ElmanRNN, "LSTM": nn.LSTM, "GRU": nn.GRU}  # RNN: the seeds' W, V, b


class SequenceModel(nn.Module):
    """Input 1 → recurrent layer (hidden units) → linear → sigmoid, at every step."""

    def __init__(self, kind: str, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.rnn = RECURRENT[kind](1, hidden, rng=rng, batch_first=True)
        if kind != "RNN":  # the seed's W_in = randn / √fan_in (ElmanCell's own default)
            init.scaled_normal_(self.rnn.cells[0].weight_ih, rng, fan_in=1)
        self.out = nn.Linear(hidden, 1, rng=rng)
        init.scaled_normal_(self.out.weight, rng)  # the seed's W_out = randn / √H, b_out = 0
        init.zeros_(self.out.bias)

    def forward(self, x: np.ndarray) -> gg.Tensor:  # x (N, L) -> probabilities (N, L)
        h, _ = self.rnn(x[..., None])
        return self.out(h)[..., 0].sigmoid()


class FeedForward(nn.Module):
    """The seed's DNN: L inputs → hidden ReLU → L sigmoid outputs."""

    def __init__(self, length: int, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(length, hidden, rng=rng), nn.Linear(hidden, length, rng=rng)
        for layer in (self.fc1, self.fc2):  # the seed: W = randn/√fan_in, b = randn
            init.scaled_normal_(layer.weight, rng)
            init.normal_(layer.bias, rng=rng)

    def forward(self, x: np.ndarray) -> gg.Tensor:
        return self.fc2(self.fc1(x).relu()).sigmoid()


def build(
    kind: str, length: int, args: argparse.Namespace, rng: np.random.Generator
) -> tuple[nn.Module, Any]:
    """The model and its optimizer."""
    if kind == "DNN":
        model: nn.Module = FeedForward(length, args.hidden, rng)
        return model, optim.SGD(model.parameters(), lr=args.lr)
    model = SequenceModel(kind.split()[0].replace("+clip", ""), args.hidden, rng)
    if kind.endswith("(Adam)"):
        return model, optim.Adam(model.parameters(), lr=args.adam_lr)
    if kind == "RNN":  # seed 002: the recurrent W and b learn 100× slower
        cell = model.rnn.cells[0]
        slow = [cell.V, cell.b]
        fast = [p for p in model.parameters() if all(p is not s for s in slow)]
        groups = [{"params": fast}, {"params": slow, "lr": args.lr / 100}]
        return model, optim.SGD(groups, lr=args.lr)
    return model, optim.SGD(model.parameters(), lr=args.lr)


def train(kind: str, length: int, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    x_train, y_train = gg.data.alternating_sum(args.train_size, length, rng)
    x_test, y_test = gg.data.alternating_sum(args.test_size, length, rng)
    model, opt = build(kind, length, args, rng)
    params = list(model.parameters())
    iters = args.iters if kind in SEED_SETTINGS else args.remedy_iters
    curve = []
    start = time.perf_counter()
    for it in progress(range(1, iters + 1), total=iters, desc=f"{kind} L={length}"):
        i = rng.integers(len(x_train))  # batch size 1, sampled with replacement
        loss = F.squared_error(model(x_train[i : i + 1]), y_train[i : i + 1].astype(float))
        opt.zero_grad()
        loss.backward()
        if kind == "RNN+clip":
            nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if it % args.eval_every == 0:
            with gg.no_grad():
                correct = ((model(x_test).data >= 0.5) == (y_test == 1)).mean()
            curve.append((it, float(correct)))
    seconds = time.perf_counter() - start
    final = float(np.mean([c for _, c in curve[-args.final_evals :]]))
    early = [c for it, c in curve if it <= args.early_at]
    return {
        "model": kind,
        "length": length,
        "iterations": iters,
        "curve": curve,
        "final_accuracy": final,
        "early_accuracy": early[-1] if early else float("nan"),
        "seconds": seconds,
    }


def plot(results: list[dict[str, Any]], lengths: list[int], out: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(
        1, len(lengths), figsize=(4.2 * len(lengths), 3.6), sharey=True, squeeze=False
    )
    for ax, length in zip(axes[0], lengths):
        for r in (r for r in results if r["length"] == length):
            its, acc = zip(*r["curve"])
            ax.plot(its, acc, label=r["model"])
        ax.set(title=f"L = {length}", xlabel="iteration", ylim=(0.4, 1.02))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("correct outputs / L (held-out)")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = out / "progression_curves.png"
    fig.savefig(path, dpi=120)
    return path


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    headers = ["model"]
    for n in args.lengths:
        headers += [f"L = {n}, at {args.early_at:,}", f"L = {n}, final"]
    headers += ["iterations", "time (s)"]
    rows = []
    for kind in args.models:
        by_len = {r["length"]: r for r in results if r["model"] == kind}
        cells: list[Any] = [kind]
        for n in args.lengths:
            cells += [by_len[n]["early_accuracy"], by_len[n]["final_accuracy"]]
        iters = next(iter(by_len.values()))["iterations"]
        rows.append([*cells, f"{iters:,}", f"{sum(r['seconds'] for r in by_len.values()):.1f}"])
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--lengths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=MODELS)
    parser.add_argument(
        "--iters", type=int, default=20000, help="RNN and DNN iterations (seed: 20,000)"
    )
    parser.add_argument(
        "--remedy-iters", type=int, default=10000, help="iterations of the remedies"
    )
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (seed: 100)")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (seed: 0.1)")
    parser.add_argument(
        "--adam-lr", type=float, default=0.003, help="Adam's learning rate (remedies)"
    )
    parser.add_argument(
        "--eval-every", type=int, default=500, help="evaluation interval (seed: 500)"
    )
    parser.add_argument(
        "--early-at", type=int, default=5000, help="iteration of the early accuracy column"
    )
    parser.add_argument(
        "--final-evals", type=int, default=4, help="evaluations averaged for 'final'"
    )
    parser.add_argument("--train-size", type=int, default=50000)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/progression"))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--demo", action="store_true", help="RNN, DNN, RNN+clip at L = 8 and 32, 3,000 iterations"
    )
    mode.add_argument(
        "--quick", action="store_true", help="every model and length, 100 iterations, 32 units"
    )
    args = parser.parse_args(argv)
    if args.demo:
        args.lengths, args.models = [8, 32], ["RNN", "DNN", "RNN+clip"]
        args.iters = args.remedy_iters = 3000
        args.early_at = 1000
    if args.quick:
        args.iters = args.remedy_iters = 100
        args.eval_every, args.train_size, args.test_size, args.final_evals, args.early_at = (
            50,
            1000,
            100,
            1,
            50,
        )
        args.hidden = 32

    results = []
    for length in args.lengths:
        for kind in args.models:
            r = train(kind, length, args)
            results.append(r)
            accuracy, seconds = r["final_accuracy"], r["seconds"]
            print(
                f"{kind:12s} L={length:3d}  accuracy {accuracy:.3f}  ({seconds:.1f} s)", flush=True
            )
    print(
        f"\nCorrect outputs per sequence / L on {args.test_size} held-out sequences, after "
        f"{args.early_at:,} iterations and at the end "
        f"(mean of the last {args.final_evals} evaluations):\n"
    )
    print(table(results, args))
    path = write_results(
        args.out, "progression", {"config": vars(args) | {"out": str(args.out)}, "results": results}
    )
    figure = plot(results, args.lengths, args.out)
    print(f"\nresults: {path}" + (f"\nplot: {figure}" if figure else ""))


if __name__ == "__main__":
    main()
