"""softmax and log_softmax: composites of exp/sum/log kept as single stable primitives,
so logits of ±1000 give finite values and gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.function import Function


class Softmax(Function):
    """y_i = e^{x_i − m} / Σ_j e^{x_j − m} along ``axis`` (m = max, which cancels).

    ∂L/∂x = y ∘ (g − Σ_j g_j y_j).
    """

    __slots__ = ("axis",)

    @staticmethod
    def forward(ctx: Any, x: Any, axis: int = -1) -> np.ndarray:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.saved = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i − m − log Σ_j e^{x_j − m} along ``axis``.

    ∂L/∂x = g − softmax(x) Σ_j g_j, with softmax(x) = e^y.
    """

    __slots__ = ("axis",)

    @staticmethod
    def forward(ctx: Any, x: Any, axis: int = -1) -> np.ndarray:
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.axis = axis
        ctx.saved = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved
        return g - np.exp(y) * g.sum(axis=ctx.axis, keepdims=True)
