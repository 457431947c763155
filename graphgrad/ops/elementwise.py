"""Elementwise functions: exp, log, tanh, sigmoid, relu.

Rules that need the function's value reuse the saved *output* (σ' = σ(1 − σ),
tanh' = 1 − tanh², exp' = exp), as seed 004 points out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.function import Function


class Exp(Function):
    """y = eˣ.   ∂L/∂x = g ∘ y."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    """y = ln x.   ∂L/∂x = g / x.   (x ≤ 0 gives NaN/−inf as in NumPy.)"""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g / x


class Tanh(Function):
    """y = tanh x.   ∂L/∂x = g ∘ (1 − y²)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e⁻ˣ).   ∂L/∂x = g ∘ y ∘ (1 − y).

    Computed as 1/(1 + e^{−|x|}) or e^{−|x|}/(1 + e^{−|x|}) by sign, so no exp overflows
    and small outputs keep full relative precision.
    """

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        e = np.exp(-np.abs(x))
        r = 1 / (1 + e)
        out = np.where(x >= 0, r, e * r)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0).   ∂L/∂x = g ∘ [x > 0]   (convention: relu'(0) = 0)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * (y > 0)


class Softplus(Function):
    """y = log(1 + eˣ), computed as max(x, 0) + log1p(e^{−|x|}) (no overflow).

    ∂L/∂x = g ∘ σ(x), with σ(x) = 1 − e^{−y} taken from the output.
    """

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * (1 - np.exp(-y))


class Clip(Function):
    """y = min(max(x, low), high).   ∂L/∂x = g ∘ [low ≤ x ≤ high]   (None = unbounded).

    Convention: at x = low or x = high the gradient passes (as in PyTorch's clamp).
    """

    __slots__ = ()

    @staticmethod
    def forward(
        ctx: Any, x: Any, low: float | None = None, high: float | None = None
    ) -> np.ndarray:
        inside = np.ones(np.shape(x), dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (inside,) = ctx.saved_tensors
        return g * inside
