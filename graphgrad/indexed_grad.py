"""``IndexedGrad``: a sparse gradient that backward rules may return (see getitem)."""

from __future__ import annotations

from typing import Any

import numpy as np


class IndexedGrad:
    """A gradient that is zero except at ``index``, where it is ``values``.

    The backward of ``x[index]`` returns one instead of ``zeros(x.shape)`` with the values
    scattered in, and the engine adds it into its own gradient buffer in place. Slicing a
    time step out of an (N, T, H) tensor at every step of an unrolled RNN, or looking up
    embedding rows, then costs the size of the slice, not of the whole tensor.
    """

    __slots__ = ("index", "repeats", "shape", "values")

    def __init__(self, index: Any, values: np.ndarray, shape: tuple[int, ...], repeats: bool):
        self.index = index
        self.values = values
        self.shape = shape
        self.repeats = repeats  # integer-array index: may repeat, so add with np.add.at

    def add_to(self, buffer: np.ndarray) -> None:
        if self.repeats:
            np.add.at(buffer, self.index, self.values)
        else:
            buffer[self.index] += self.values

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.values.dtype)
        if self.repeats:
            np.add.at(out, self.index, self.values)
        else:
            out[self.index] = self.values  # into zeros: assigning is adding, one pass fewer
        return out
