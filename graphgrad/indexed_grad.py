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


class IndexedSum:
    """The sparse contributions to one non-leaf vertex's gradient, kept until the engine
    processes that vertex (every contribution has arrived by then).

    Slices that tile the array — disjoint blocks along one axis that cover it, like the
    gate slices of one LSTM/GRU pre-activation or the T time steps of a sequence — are then
    assembled by one ``np.concatenate``/``np.stack``: no zeroed buffer and no read-add-write
    pass per slice. Anything else (overlaps, gaps, fancy indices) is added into zeros as
    before. The engine turns the sum dense early once the parts hold more elements than
    the array itself, so keeping them never costs more than the dense buffer would.
    """

    __slots__ = ("parts", "shape", "size")

    def __init__(self, first: IndexedGrad) -> None:
        self.parts = [first]
        self.shape = first.shape
        self.size = first.values.size

    def add(self, part: IndexedGrad) -> None:
        self.parts.append(part)
        self.size += part.values.size

    def dense(self) -> np.ndarray:
        parts = self.parts
        if len(parts) > 1:
            tiled = _tile(parts, self.shape)
            if tiled is not None:
                return tiled
        out = parts[0].dense()
        for p in parts[1:]:
            p.add_to(out)
        return out


def _block(index: Any, shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(axis, start, stop) when ``x[index]`` is the block start:stop of one axis and all of
    every other axis; axis is -1 for ``x[t]`` (an integer: axis 0, dropped), otherwise 0
    (``x[a:b]``) or ndim - 1 (``x[..., a:b]``). None for any other index."""
    if type(index) is int:
        n = shape[0] if shape else 0
        if -n <= index < n:
            t = index % n
            return -1, t, t + 1
        return None
    if type(index) is tuple and len(index) == 2 and index[0] is Ellipsis:
        axis, s = len(shape) - 1, index[1]
    elif type(index) is slice:
        axis, s = 0, index
    else:
        return None
    if type(s) is not slice or axis < 0 or s.step not in (None, 1):
        return None
    start, stop, _ = s.indices(shape[axis])
    return (axis, start, stop) if start < stop else None


def _tile(parts: list[IndexedGrad], shape: tuple[int, ...]) -> np.ndarray | None:
    """The parts assembled in one pass if they tile ``shape`` exactly (see IndexedSum)."""
    blocks = []
    dtype = parts[0].values.dtype
    for p in parts:
        b = _block(p.index, shape)
        if b is None or p.values.dtype != dtype:
            return None
        blocks.append((b, p.values))
    axis = blocks[0][0][0]
    blocks.sort(key=lambda bv: bv[0][1])
    end = 0
    for (ax, start, stop), v in blocks:
        if ax != axis or start != end:
            return None
        want = shape[1:] if ax < 0 else (*shape[:ax], stop - start, *shape[ax + 1 :])
        if v.shape != want:
            return None
        end = stop
    if end != (shape[0] if axis < 0 else shape[axis]):
        return None
    values = [v for _, v in blocks]
    if axis < 0:
        return np.stack(values, axis=0)
    return np.concatenate(values, axis=axis)
