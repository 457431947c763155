"""Reductions over axes: sum, mean, max.

"Broadcast-sum": the backward of a sum is a broadcast of g over the summed axes, and the
backward of a broadcast is a sum (see ``BroadcastTo``) — each is the other's backward.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.core.function import Function
from graphgrad.core.tensor import Tensor
from graphgrad.ops.declare import Spellings

Axis = Any  # None, an int or a tuple of ints

# np.sum and np.broadcast_to run ~10 µs of Python before any arithmetic; on the small
# arrays of a loss that is most of the op. np.add.reduce is the same reduction without
# the wrapper, and a small gradient is cheaper to write out than to broadcast as a view.
_SMALL = 1 << 14


def _spread(g: Any, kept_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> Any:
    """g (of the reduced shape) repeated along the reduced axes: an array of in_shape
    (a read-only broadcast view when large, so no memory is spent on it)."""
    if g.ndim:  # a 0-d g (a full reduction) broadcasts as it is
        g = g.reshape(kept_shape)
    if isinstance(g, Tensor) or math.prod(in_shape) > _SMALL:
        return np.broadcast_to(g, in_shape)  # (a Tensor under create_graph: a recorded view)
    # (empty_like, not empty: gg.compile's symbolic arrays dispatch it, and write it out)
    out = np.empty_like(g, shape=in_shape)
    out[...] = g
    return out


def _drop_kept(out: np.ndarray, axis: Axis) -> np.ndarray:
    """Remove the size-1 axes that ``keepdims=True`` left in place."""
    return out.reshape(()) if axis is None else out.squeeze(axis)


class Sum(Function):
    """y = Σ x over ``axis`` (all axes when None).   ∂L/∂x = g broadcast to x.shape."""

    spellings = Spellings(method="sum", numpy=(np.sum,), by_hand=True)
    __slots__ = ("in_shape", "kept_shape")

    @staticmethod
    def forward(ctx: Any, x: Any, axis: Axis = None, keepdims: bool = False) -> np.ndarray:
        if x.dtype.kind == "f":
            out = np.add.reduce(x, axis=axis, keepdims=True)
        else:  # np.sum widens small integer types; keep its result types
            out = np.sum(x, axis=axis, keepdims=True)
        ctx.in_shape = x.shape
        ctx.kept_shape = out.shape
        return out if keepdims else _drop_kept(out, axis)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return _spread(g, ctx.kept_shape, ctx.in_shape)


class Mean(Function):
    """y = (1/n) Σ x over ``axis``, n = number of summed elements.
    ∂L/∂x = g / n broadcast to x.shape."""

    spellings = Spellings(method="mean", numpy=(np.mean,), by_hand=True)
    __slots__ = ("in_shape", "kept_shape", "scale")

    @staticmethod
    def forward(ctx: Any, x: Any, axis: Axis = None, keepdims: bool = False) -> np.ndarray:
        out = np.mean(x, axis=axis, keepdims=True)
        ctx.in_shape = x.shape
        ctx.kept_shape = out.shape
        ctx.scale = out.size / x.size if x.size else 0.0
        return out if keepdims else _drop_kept(out, axis)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return _spread(g * ctx.scale, ctx.kept_shape, ctx.in_shape)


class Max(Function):
    """y = max x over ``axis``.   ∂L/∂x = g ∘ w, w = [x = y] / #ties.

    Convention: the gradient is split evenly among tied maxima (so it still sums to g).
    The weights w are piecewise constant, hence constants for higher-order derivatives.
    """

    spellings = Spellings(method="max", numpy=(np.max,), by_hand=True)
    __slots__ = ("kept_shape",)

    @staticmethod
    def forward(ctx: Any, x: Any, axis: Axis = None, keepdims: bool = False) -> np.ndarray:
        out = np.max(x, axis=axis, keepdims=True)
        ctx.kept_shape = out.shape
        if ctx.needs_input_grad[0]:
            mask = x == out
            w = mask / mask.sum(axis=axis, keepdims=True)
            ctx.saved_tensors = (w.astype(x.dtype, copy=False),)
        return out if keepdims else _drop_kept(out, axis)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (w,) = ctx.saved_tensors
        return g.reshape(ctx.kept_shape) * w
