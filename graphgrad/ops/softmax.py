"""softmax and log_softmax: composites of exp/sum/log kept as single stable primitives,
so logits of ±1000 give finite values and gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.core.function import Function
from graphgrad.ops.declare import Spellings


class Softmax(Function):
    """y_i = e^{x_i − m} / Σ_j e^{x_j − m} along ``axis`` (m = max, which cancels).

    ∂L/∂x = y ∘ (g − Σ_j g_j y_j).
    """

    spellings = Spellings(method="softmax", function="softmax", by_hand=True)
    __slots__ = ("axis",)

    @staticmethod
    def forward(ctx: Any, x: Any, axis: int = -1) -> np.ndarray:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i − m − log Σ_j e^{x_j − m} along ``axis``.

    ∂L/∂x = g − softmax(x) Σ_j g_j, with softmax(x) = e^y.
    """

    spellings = Spellings(method="log_softmax", function="log_softmax", by_hand=True)
    __slots__ = ("axis",)

    @staticmethod
    def forward(ctx: Any, x: Any, axis: int = -1) -> np.ndarray:
        out = x - x.max(axis=axis, keepdims=True)
        out -= np.log(_sum_exp(out, axis))  # one full-size array: the result
        ctx.axis = axis
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        if type(g) is not np.ndarray or g.dtype != y.dtype:
            # Tensors (create_graph: recorded), or a wider g: NumPy's promotion, as every
            # rule (writing into e^y's array would round g to y's dtype)
            return g - np.exp(y) * g.sum(axis=ctx.axis, keepdims=True)
        # g − e^y Σg, built in the one new array (a language model's (rows × vocabulary)
        # arrays are the largest of its step)
        out = np.exp(y)
        out *= g.sum(axis=ctx.axis, keepdims=True)
        return np.subtract(g, out, out=out)

    @staticmethod
    def backward_into(ctx: Any, g: np.ndarray) -> np.ndarray:
        """``backward`` written into g, which the engine owns (see Function): no new
        array, and e^y taken block by block."""
        (y,) = ctx.saved_tensors
        if g.dtype != y.dtype or not g.flags.writeable:
            return LogSoftmax.backward(ctx, g)
        s = g.sum(axis=ctx.axis, keepdims=True)
        for block in _blocks(y.shape, ctx.axis):
            e = np.exp(y[block])
            e *= s[block]
            g[block] -= e
        return g


_BLOCK = 1 << 18  # elements of a temporary taken block by block (2 MiB of float64)


def _blocks(shape: tuple[int, ...], axis: int) -> list[tuple[slice, ...]]:
    """Index tuples cutting an array of ``shape`` into blocks of about ``_BLOCK``
    elements along an axis other than ``axis`` (each keeps whole lines along ``axis``,
    so a reduction along it is the same over a block as over the whole array)."""
    axis %= len(shape)
    other = next((k for k in range(len(shape)) if k != axis), None)
    size = int(np.prod(shape))
    if other is None or size <= _BLOCK:
        return [(slice(None),) * len(shape)]
    n = shape[other]
    step = max(1, _BLOCK * n // size)
    return [(slice(None),) * other + (slice(i, i + step),) for i in range(0, n, step)]


def _sum_exp(a: np.ndarray, axis: int) -> np.ndarray:
    """Σ e^a along ``axis`` (keepdims), e^a taken block by block (a small temporary)."""
    k = axis % a.ndim
    out = np.empty((*a.shape[:k], 1, *a.shape[k + 1 :]), dtype=a.dtype)
    for block in _blocks(a.shape, axis):
        out[block] = np.exp(a[block]).sum(axis=axis, keepdims=True)
    return out
