"""The seeds' datasets and a small seeded batching loader over NumPy arrays."""

from __future__ import annotations

from typing import Iterator

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
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"DataLoader: arrays have different lengths {sorted(lengths)}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be ≥ 1, got {batch_size}")
        self.arrays = tuple(np.asarray(a) for a in arrays)
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
