"""Train a 2-8-1 MLP on XOR built from raw graphgrad ops (seed 004), then print the
predictions in the seed's format.

Every gradient comes from backward() over the recorded graph; before training, the
gradients of the whole model are verified against central differences with gradcheck.

    python examples/xor_raw_ops.py [--hidden 8] [--iters 3000] [--lr 0.5] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import graphgrad as gg

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = np.array([[0.0], [1.0], [1.0], [0.0]])


def forward(x: gg.Tensor, W1: gg.Tensor, b1: gg.Tensor, W2: gg.Tensor, b2: gg.Tensor) -> gg.Tensor:
    """out = σ(tanh(x W1 + b1) W2 + b2)."""
    return ((x @ W1 + b1).tanh() @ W2 + b2).sigmoid()


def loss_fn(*params: gg.Tensor) -> gg.Tensor:
    """Squared error E = ½ Σ (out − t)² (seed 004)."""
    return 0.5 * ((forward(gg.tensor(X), *params) - T) ** 2).sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    params = [
        gg.tensor(rng.standard_normal((2, args.hidden)) / np.sqrt(2), requires_grad=True),
        gg.tensor(np.zeros(args.hidden), requires_grad=True),
        gg.tensor(rng.standard_normal((args.hidden, 1)) / np.sqrt(args.hidden), requires_grad=True),
        gg.tensor(np.zeros(1), requires_grad=True),
    ]
    gg.gradcheck(loss_fn, params)
    print("gradcheck of the model's loss w.r.t. W1, b1, W2, b2: passed")

    start = time.perf_counter()
    for it in range(1, args.iters + 1):
        loss = loss_fn(*params)
        loss.backward()
        for p in params:  # plain gradient descent, W <- W - lr dE/dW
            p.data -= args.lr * p.grad
            p.grad = None
        if it % (args.iters // 5) == 0:
            print(f"iter {it:5d}  loss {loss.item():.6f}")
    elapsed = time.perf_counter() - start

    with gg.no_grad():
        out = forward(gg.tensor(X), *params).data[:, 0]
    for x, y in zip(X, out):
        print(f"in: {x}  ->  out: {int(y >= 0.5)} ({y:.12g})")
    correct = int(((out >= 0.5) == (T[:, 0] == 1)).sum())
    print(f"accuracy {correct}/4, trained {args.iters} iterations in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
