"""Elementwise arithmetic: add, sub, neg, mul (Hadamard), div, pow.

All broadcast like NumPy. Each rule returns the gradient in the *broadcast* shape; the
engine sums it back to each input's shape (so ``b`` broadcast over samples receives
``[1 … 1] Δ``, seed 000 eq. 8, with no code here).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.function import Function


class Add(Function):
    """z = a + b.   ∂L/∂a = g,  ∂L/∂b = g  (addition passes the gradient on)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        return a + b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        return g, g


class Sub(Function):
    """z = a − b.   ∂L/∂a = g,  ∂L/∂b = −g."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        return a - b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        return g, (-g if ctx.needs_input_grad[1] else None)


class Neg(Function):
    """z = −a.   ∂L/∂a = −g."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any) -> np.ndarray:
        return -a

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return -g


class Mul(Function):
    """z = a ∘ b (Hadamard).   ∂L/∂a = g ∘ b,  ∂L/∂b = g ∘ a (multiply by the other operand)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.saved = (a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Div(Function):
    """z = a / b.   ∂L/∂a = g / b,  ∂L/∂b = −g ∘ a / b²."""

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.saved = (a, b)
        return a / b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved
        need = ctx.needs_input_grad
        return (g / b if need[0] else None), (-g * a / (b * b) if need[1] else None)


class Pow(Function):
    """z = a ** b.   ∂L/∂a = g ∘ b ∘ a^(b−1),  ∂L/∂b = g ∘ z ∘ log a.

    The exponent's gradient is NaN where a < 0 (log of a negative number), as in NumPy;
    it is computed only when the exponent requires grad.
    """

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        out = a**b
        ctx.saved = (a, b, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        a, b, out = ctx.saved
        need = ctx.needs_input_grad
        ga = g * b * a ** (b - 1) if need[0] else None
        gb = g * out * np.log(a) if need[1] else None
        return ga, gb
