"""Elementwise arithmetic: add, sub, neg, mul (Hadamard), div, pow.

All broadcast like NumPy. Each rule returns the gradient in the *broadcast* shape; the
engine sums it back to each input's shape (so ``b`` broadcast over samples receives
``[1 … 1] Δ``, seed 000 eq. 8, with no code here).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.core.function import Function
from graphgrad.ops.declare import Spellings


class Add(Function):
    """z = a + b.   ∂L/∂a = g,  ∂L/∂b = g  (addition passes the gradient on)."""

    spellings = Spellings(operator="add", numpy=(np.add,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        return a + b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        return g, g


class Sub(Function):
    """z = a − b.   ∂L/∂a = g,  ∂L/∂b = −g."""

    spellings = Spellings(operator="sub", numpy=(np.subtract,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        return a - b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        return g, (-g if ctx.needs_input_grad[1] else None)


class Neg(Function):
    """z = −a.   ∂L/∂a = −g."""

    spellings = Spellings(operator="neg", numpy=(np.negative,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any) -> np.ndarray:
        return -a

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return -g


class Mul(Function):
    """z = a ∘ b (Hadamard).   ∂L/∂a = g ∘ b,  ∂L/∂b = g ∘ a (multiply by the other operand)."""

    spellings = Spellings(operator="mul", numpy=(np.multiply,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.saved_tensors = (a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Div(Function):
    """z = a / b.   ∂L/∂a = g / b,  ∂L/∂b = −g ∘ a / b²."""

    spellings = Spellings(operator="truediv", numpy=(np.true_divide,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.saved_tensors = (a, b)
        return a / b

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g / b if need[0] else None), (-g * a / (b * b) if need[1] else None)


class Pow(Function):
    """z = a ** b.   ∂L/∂a = g ∘ b ∘ a^(b−1),  ∂L/∂b = g ∘ z ∘ log a.

    Special points, as PyTorch defines them: ∂L/∂a = 0 where b = 0 (x ** 0 is constant,
    though b ∘ a^(b−1) is 0 ∘ ∞ at a = 0), and ∂L/∂b = 0 where a = 0 and b ≥ 0 (0 ** b is
    constant there, though z ∘ log a is 0 ∘ (−∞)). Both are computed with the base replaced
    by 1 where a = 0 only, so no NaN appears (under ``create_graph`` either) and the
    second derivatives elsewhere are those of the formulas. The exponent's
    gradient is NaN where a < 0 (log of a negative number), as in NumPy and PyTorch; it is
    computed only when the exponent requires grad.
    """

    spellings = Spellings(operator="pow", numpy=(np.power,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        out = a**b
        ctx.saved_tensors = (a, b, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        a, b, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0]:
            if isinstance(b, (int, float)):  # x ** 2 and the like: no mask needed
                ga = g * b * a ** (b - 1) if b != 0 else g * 0.0
            else:  # only 0 ** 0 needs it: elsewhere the formula (and its derivatives) hold
                ga = g * b * np.where(np.logical_and(b == 0, a == 0), 1.0, a) ** (b - 1)
        if need[1]:
            constant = np.logical_and(a == 0, b >= 0)
            gb = g * out * np.log(np.where(constant, 1.0, a))
        return ga, gb
