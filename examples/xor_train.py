"""Seed 004: train a 2-layer MLP on XOR with plain gradient descent and save its weights.

The network is Linear(2, H) → activation → Linear(H, 1) → sigmoid; the loss is the
seed's squared error E = ½ Σ (y − t)² (or, with --loss cross-entropy, the Bernoulli
cross-entropy −Σ [t log y + (1 − t) log(1 − y)]); the update is W ← W − η ∂E/∂W, with
every ∂E/∂W computed by backward() over the recorded graph. Before training, gradcheck
verifies the whole model's gradients against central differences.

    python examples/xor_train.py                       # sigmoid, squared error
    python examples/xor_train.py --activation relu --loss cross-entropy
    python examples/xor_predict.py runs/xor/xor_weights.npz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import markdown_table, pyplot, write_results

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.nn import functional as F

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


def build_model(hidden: int, activation: str, seed: int = 0) -> nn.Sequential:
    """Linear(2, hidden) → activation → Linear(hidden, 1) → sigmoid."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Linear(2, hidden, rng=rng),
        ACTIVATIONS[activation](),
        nn.Linear(hidden, 1, rng=rng),
        nn.Sigmoid(),
    )


def loss_fn(name: str, y: gg.Tensor, t: np.ndarray) -> gg.Tensor:
    if name == "squared":
        return F.squared_error(y, t)  # ½ Σ (y − t)²
    return F.binary_cross_entropy(y, t, reduction="sum")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--hidden", type=int, default=8, help="hidden units (default 8)")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="sigmoid")
    parser.add_argument("--loss", choices=["squared", "cross-entropy"], default="squared")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate η (default 0.5)")
    parser.add_argument("--iters", type=int, default=10000, help="gradient steps (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/xor"), help="output directory")
    parser.add_argument("--quick", action="store_true", help="a few seconds: 2000 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.iters = 2000

    X, T = gg.data.xor()
    model = build_model(args.hidden, args.activation, args.seed)
    params = list(model.parameters())
    gg.gradcheck(lambda *_: loss_fn(args.loss, model(X), T), params)
    print("gradcheck of ∂E/∂W, ∂E/∂b for every layer against central differences: passed")

    opt = optim.SGD(params, lr=args.lr)
    history = []
    start = time.perf_counter()
    for it in range(1, args.iters + 1):
        loss = loss_fn(args.loss, model(X), T)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
        if it % max(1, args.iters // 5) == 0:
            print(f"iteration {it:6d}   E = {loss.item():.6f}")
    seconds = time.perf_counter() - start

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "xor_weights.npz"
    config = {"hidden": args.hidden, "activation": args.activation}
    gg.save({"config": config, "state": model.state_dict()}, weights)
    with gg.no_grad():
        y = model(X).data[:, 0]
    correct = int(((y > 0.5) == (T[:, 0] > 0.5)).sum())
    rows = [[str(x), int(t), f"{p:.6f}", int(p > 0.5)] for x, t, p in zip(X, T[:, 0], y)]
    print(markdown_table(["input", "target", "output", "class"], rows))
    print(
        f"\n{correct}/4 correct, final E = {history[-1]:.3g}, {args.iters} steps in {seconds:.2f} s"
    )
    print(f"weights saved to {weights}  (python examples/xor_predict.py {weights})")
    write_results(
        args.out,
        "xor_train",
        {
            "config": vars(args) | {"out": str(args.out)},
            "correct": correct,
            "final_loss": history[-1],
            "seconds": seconds,
            "outputs": y,
        },
    )
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.semilogy(history)
        ax.set(xlabel="iteration", ylabel="E", title=f"XOR, {args.activation}, {args.loss} loss")
        fig.tight_layout()
        fig.savefig(args.out / "xor_loss.png", dpi=120)
        print(f"plot: {args.out / 'xor_loss.png'}")


if __name__ == "__main__":
    main()
