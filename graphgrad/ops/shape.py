"""Ops that move elements without arithmetic: transpose, reshape, getitem (and its
backward, scatter-add), concat, stack, broadcast_to, cast, contiguous."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from graphgrad.core.function import Function
from graphgrad.core.sparse_grad import IndexedGrad
from graphgrad.core.tensor import Tensor
from graphgrad.ops.declare import Spellings


class Transpose(Function):
    """y = x.transpose(axes) (axes=None reverses).   ∂L/∂x = g.transpose(axes⁻¹)."""

    spellings = Spellings(method="transpose", numpy=(np.transpose,), by_hand=True)
    __slots__ = ("axes",)

    @staticmethod
    def forward(ctx: Any, x: Any, axes: tuple[int, ...] | None = None) -> np.ndarray:
        if axes is not None:
            if len(axes) != x.ndim:
                raise ValueError(f"axes {axes} do not match a {x.ndim}-d array")
            # NumPy's reading: negative axes count from the end; out of range or repeated
            # raises (an axis taken modulo ndim would silently permute something else)
            axes = normalize_axis_tuple(axes, x.ndim)
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        if ctx.axes is None:
            return g.transpose()
        inverse = [0] * len(ctx.axes)  # the permutation that undoes axes
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return g.transpose(inverse)


class Reshape(Function):
    """y = x.reshape(shape).   ∂L/∂x = g.reshape(x.shape)."""

    spellings = Spellings(method="reshape", numpy=(np.reshape,), by_hand=True)
    __slots__ = ("in_shape",)

    @staticmethod
    def forward(ctx: Any, x: Any, shape: tuple[int, ...]) -> np.ndarray:
        ctx.in_shape = np.shape(x)
        return np.reshape(x, shape)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g.reshape(ctx.in_shape)


class GetItem(Function):
    """y = x[index]: basic slices, integers, None/Ellipsis, integer and boolean arrays.

    ∂L/∂x = zeros(x.shape) with g added at ``index``; repeated integer indices
    accumulate (``np.add.at``), so ``x[[0, 0]]`` sends 2 g to x[0]. On the fast path the
    rule returns that as a sparse ``IndexedGrad`` that the engine adds in place.
    """

    __slots__ = ("in_shape", "index")

    @staticmethod
    def forward(ctx: Any, x: Any, index: Any) -> np.ndarray:
        ctx.index = index
        ctx.in_shape = x.shape
        return x[index]

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        if isinstance(g, Tensor):
            return ScatterAdd.apply(g, ctx.index, ctx.in_shape)
        return IndexedGrad(ctx.index, g, ctx.in_shape, _has_int_array(ctx.index))


class ScatterAdd(Function):
    """z = zeros(shape); z[index] += g (repeats accumulate).   ∂L/∂g = G[index].

    getitem's backward, as a primitive so that it too can be differentiated
    (under ``create_graph``); the two are each other's backward.
    """

    __slots__ = ("index",)

    @staticmethod
    def forward(ctx: Any, g: Any, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        ctx.index = index
        return scatter_add(g, index, shape)

    @staticmethod
    def backward(ctx: Any, gz: Any) -> Any:
        return gz[ctx.index]


def scatter_add(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate)."""
    return IndexedGrad(index, g, shape, _has_int_array(index)).dense()


def _has_int_array(index: Any) -> bool:
    """True when ``index`` contains an integer array or list (the only way to repeat)."""
    if type(index) is int or type(index) is slice:  # the per-time-step case: x[t], x[:, t]
        return False
    items = index if type(index) is tuple else (index,)
    for i in items:
        if isinstance(i, (list, np.ndarray)) and np.asarray(i).dtype.kind != "b":
            return True
    return False


class Concat(Function):
    """z = concatenate(xs, axis).   ∂L/∂x_i = the slice of g that x_i occupies."""

    spellings = Spellings(function="concat", numpy=(np.concatenate,), by_hand=True)
    __slots__ = ("axis", "bounds")

    @staticmethod
    def forward(ctx: Any, *xs: Any, axis: int = 0) -> np.ndarray:
        out = np.concatenate(xs, axis=axis)
        ctx.axis = axis % out.ndim
        sizes = np.cumsum([0] + [np.shape(x)[ctx.axis] for x in xs])
        ctx.bounds = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(sizes)]
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, ...]:
        pre = (slice(None),) * ctx.axis
        # the keys are built first: inside [] a starred tuple reads as 3.11-only syntax
        keys = [(*pre, slice(lo, hi)) for lo, hi in ctx.bounds]
        return tuple(g[k] for k in keys)


class Stack(Function):
    """z = stack(xs, axis) (a new axis).   ∂L/∂x_i = g taken at position i of that axis."""

    spellings = Spellings(function="stack", numpy=(np.stack,), by_hand=True)
    __slots__ = ("axis", "count")

    @staticmethod
    def forward(ctx: Any, *xs: Any, axis: int = 0) -> np.ndarray:
        out = np.stack(xs, axis=axis)
        ctx.axis = axis % out.ndim
        ctx.count = len(xs)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, ...]:
        pre = (slice(None),) * ctx.axis
        keys = [(*pre, i) for i in range(ctx.count)]
        return tuple(g[k] for k in keys)


class BroadcastTo(Function):
    """y = broadcast_to(x, shape).   ∂L/∂x = g summed over the broadcast axes.

    The rule returns g unchanged: summing back to x's shape is the engine's single
    unbroadcast step, the same one that serves every broadcasting op.
    """

    spellings = Spellings(
        method="broadcast_to", function="broadcast_to", numpy=(np.broadcast_to,), by_hand=True
    )
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g


class Contiguous(Function):
    """y = x copied into C order (``x.copy(order="C")``).   ∂L/∂x = g.

    What ``t.contiguous()`` records when ``t`` is a strided view (a transpose): the values
    are unchanged, but later reshapes of y are views where reshapes of x copy, once per use
    (a time-major view of a batch-first sequence is reshaped for the input projection's
    product in the forward pass and again for its weight gradient).
    """

    spellings = Spellings(method="contiguous", by_hand=True)
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        return x.copy(order="C")

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g


class Cast(Function):
    """y = x.astype(dtype).   ∂L/∂x = g cast back to x's dtype."""

    spellings = Spellings(method="astype", by_hand=True)
    __slots__ = ("in_dtype",)

    @staticmethod
    def forward(ctx: Any, x: Any, dtype: np.dtype) -> np.ndarray:
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g.astype(ctx.in_dtype)
