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
    written into one new array: no zeroed buffer and no read-add-write pass per slice.
    Anything else (overlaps, gaps, fancy indices) is added into zeros as before. The engine
    turns the sum dense early once the parts hold more elements than the array itself, so
    keeping them never costs more than the dense buffer would.
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
            tiled = tile(parts, self.shape)
            if tiled is not None:
                return tiled
        out = parts[0].dense()
        for p in parts[1:]:
            p.add_to(out)
        return out


def _slice_block(index: Any, shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(axis, start, stop) when ``x[index]`` is the block start:stop of axis 0 (``x[a:b]``)
    or of the last axis (``x[..., a:b]``), all of every other axis; None otherwise."""
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


def tile(parts: list[IndexedGrad], shape: tuple[int, ...]) -> np.ndarray | None:
    """The parts written into one new array if they tile ``shape`` exactly (see
    IndexedSum): every element written once, none read, no zeroing."""
    dtype = parts[0].values.dtype
    if type(parts[0].index) is int:  # x[t] for every t: the steps of a sequence
        n = shape[0]
        if len(parts) != n:
            return None
        want = shape[1:]
        steps = set()
        for p in parts:
            t, v = p.index, p.values
            if type(t) is not int or not -n <= t < n or v.shape != want or v.dtype != dtype:
                return None
            steps.add(t % n)
        if len(steps) != n:
            return None
    else:  # a few blocks along one axis: the gate slices of a pre-activation
        blocks = []
        for p in parts:
            b = _slice_block(p.index, shape)
            if b is None or p.values.dtype != dtype:
                return None
            blocks.append((b, p.values.shape))
        axis = blocks[0][0][0]
        blocks.sort(key=lambda bs: bs[0][1])
        end = 0
        for (ax, start, stop), vshape in blocks:
            if ax != axis or start != end:
                return None
            if vshape != (*shape[:ax], stop - start, *shape[ax + 1 :]):
                return None
            end = stop
        if end != shape[axis]:
            return None
    out = np.empty(shape, dtype=dtype)
    for p in parts:
        out[p.index] = p.values
    return out
