"""Elementwise functions: exp, log, sin, cos, sqrt, square, abs, tanh, sigmoid, relu,
softplus, clip, maximum, minimum.

Rules that need the function's value reuse the saved *output* (σ' = σ(1 − σ),
tanh' = 1 − tanh², exp' = exp), as seed 004 points out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.core.function import Function
from graphgrad.ops.declare import Spellings

# Largest exponent before exp overflows (in-place operations below avoid temporaries).
_EXP_MAX = {np.dtype(np.float64): 709.0, np.dtype(np.float32): 88.0}


class Exp(Function):
    """y = eˣ.   ∂L/∂x = g ∘ y."""

    spellings = Spellings(method="exp", function="exp", numpy=(np.exp,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.exp(x)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    """y = ln x.   ∂L/∂x = g / x.   (x ≤ 0 gives NaN/−inf as in NumPy.)"""

    spellings = Spellings(method="log", function="log", numpy=(np.log,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        ctx.saved_tensors = (x,)
        return np.log(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g / x


class Sin(Function):
    """y = sin x.   ∂L/∂x = g ∘ cos x."""

    spellings = Spellings(method="sin", function="sin", numpy=(np.sin,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        ctx.saved_tensors = (x,)
        return np.sin(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g * np.cos(x)


class Cos(Function):
    """y = cos x.   ∂L/∂x = −g ∘ sin x."""

    spellings = Spellings(method="cos", function="cos", numpy=(np.cos,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        ctx.saved_tensors = (x,)
        return np.cos(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return -(g * np.sin(x))


class Sqrt(Function):
    """y = √x.   ∂L/∂x = g / (2y)   (x = 0 gives inf, x < 0 NaN, as in NumPy and PyTorch)."""

    spellings = Spellings(method="sqrt", function="sqrt", numpy=(np.sqrt,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.sqrt(x)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g / (2 * y)


class Square(Function):
    """y = x².   ∂L/∂x = 2 g ∘ x."""

    spellings = Spellings(method="square", function="square", numpy=(np.square,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        ctx.saved_tensors = (x,)
        return np.square(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g * (2 * x)


class Abs(Function):
    """y = |x|.   ∂L/∂x = g ∘ sign x   (sign 0 = 0: abs'(0) = 0, as in PyTorch).

    sign x is piecewise constant, so it is saved as a constant (second derivatives 0)."""

    spellings = Spellings(method="abs", function="abs", operator="abs", numpy=(np.absolute,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        ctx.saved_tensors = (np.sign(x),)
        return np.absolute(x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (sign,) = ctx.saved_tensors
        return g * sign


class Tanh(Function):
    """y = tanh x.   ∂L/∂x = g ∘ (1 − y²)."""

    spellings = Spellings(method="tanh", function="tanh", numpy=(np.tanh,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.tanh(x)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e⁻ˣ).   ∂L/∂x = g ∘ y ∘ (1 − y).

    1/(1 + e⁻ˣ) is accurate for every x (1 + e⁻ˣ never cancels); only e⁻ˣ can overflow,
    so its exponent is capped where exp stays finite (709 in float64, 88 in float32). For x
    below that cap σ(x) is returned as σ(cap) ≈ 1e-308 (float64) instead of underflowing
    further — an absolute difference far below the dtype's resolution of 1.
    """

    spellings = Spellings(method="sigmoid", function="sigmoid")
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        if x.dtype.kind != "f" or x.itemsize < 4:  # (np.result_type costs ~2 µs)
            # ints -> float like np.exp; float16 in float32, where e⁻ˣ's range is not 11
            x = x.astype(np.result_type(x, np.float32))
        e = -x
        if isinstance(e, np.generic):  # a 0-d input gives a NumPy scalar
            e = np.asarray(e)
        np.minimum(e, _EXP_MAX.get(e.dtype, 709.0), out=e)
        np.exp(e, out=e)
        e += 1.0
        out = np.reciprocal(e, out=e)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0).   ∂L/∂x = g ∘ [x > 0]   (convention: relu'(0) = 0)."""

    spellings = Spellings(method="relu", function="relu")
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any) -> np.ndarray:
        out = np.maximum(x, 0)
        ctx.saved_tensors = (out,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (y,) = ctx.saved_tensors
        return g * (y > 0)


class Softplus(Function):
    """y = log(1 + e^{βx}) / β, and y = x where βx > threshold (PyTorch's definition, with
    its defaults β = 1, threshold = 20; threshold=inf for the exact function). Computed as
    (max(βx, 0) + log1p(e^{−|βx|})) / β: no overflow.

    ∂L/∂x = g ∘ σ(βx) (1 where βx > threshold), with σ(βx) = e^{β(x − y)} from the output:
    accurate at both ends (1 − e^{−βy} would round σ(−40) ≈ 4e-18 to 0).
    """

    spellings = Spellings(method="softplus", function="softplus")
    __slots__ = ("above", "beta")

    @staticmethod
    def forward(ctx: Any, x: Any, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
        z = x * beta if beta != 1 else x
        smooth = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
        if beta != 1:
            smooth = smooth / beta
        above = z > threshold
        ctx.above = above if above.any() else None
        ctx.beta = beta
        out = np.asarray(smooth if ctx.above is None else np.where(above, x, smooth))
        ctx.saved_tensors = (x, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, y = ctx.saved_tensors
        d = x - y
        sig = np.exp(d * ctx.beta if ctx.beta != 1 else d)
        return g * (sig if ctx.above is None else np.where(ctx.above, 1.0, sig))


class Clip(Function):
    """y = min(max(x, low), high)   (None = unbounded; bounds may be tensors).

    ∂L/∂x = g ∘ [low ≤ x ≤ high],  ∂L/∂low = g ∘ [x < low ≤ high],
    ∂L/∂high = g ∘ [max(x, low) > high]   (summed back to each bound's shape).

    Convention: at x = low or x = high the gradient goes to x (as in PyTorch's clamp).
    """

    spellings = Spellings(method="clip", function="clip")
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any, low: Any = None, high: Any = None) -> np.ndarray:
        inside = np.ones(np.shape(x), dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        need = ctx.needs_input_grad
        to_low = to_high = None
        if need[1]:  # only a bound that requires grad (a tensor) gets a gradient
            to_low = x < low if high is None else (x < low) & (low <= high)
        if need[2]:
            to_high = (x if low is None else np.maximum(x, low)) > high
        ctx.saved_tensors = (inside, to_low, to_high)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        inside, to_low, to_high = ctx.saved_tensors
        return (
            g * inside,
            None if to_low is None else g * to_low,
            None if to_high is None else g * to_high,
        )


class _Pick(Function):
    """y = pick(a, b) elementwise (broadcasting), pick being max or min (the subclasses).
    ∂L/∂a = g ∘ w,  ∂L/∂b = g ∘ (1 − w),  w = [a wins] + ½ [a = b]: tied inputs share the
    gradient evenly, as in the ``max`` reduction. w is piecewise constant, so it is saved
    as a constant (second derivatives through it are 0)."""

    __slots__ = ()
    _pick: np.ufunc  # np.maximum or np.minimum
    _wins: np.ufunc  # where a is picked: np.greater or np.less

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        cls = type(ctx)
        out = cls._pick(a, b)
        if any(ctx.needs_input_grad):
            w = np.asarray(cls._wins(a, b)).astype(np.asarray(out).dtype)
            w[np.broadcast_to(a == b, w.shape)] = 0.5
            ctx.saved_tensors = (w,)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        (w,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g * w if need[0] else None), (g * (1 - w) if need[1] else None)


class Maximum(_Pick):
    """y = max(a, b) elementwise.   ∂L/∂a = g ∘ ([a > b] + ½ [a = b]), ∂L/∂b the rest."""

    spellings = Spellings(function="maximum", numpy=(np.maximum,))
    __slots__ = ()
    _pick, _wins = np.maximum, np.greater


class Minimum(_Pick):
    """y = min(a, b) elementwise.   ∂L/∂a = g ∘ ([a < b] + ½ [a = b]), ∂L/∂b the rest."""

    spellings = Spellings(function="minimum", numpy=(np.minimum,))
    __slots__ = ()
    _pick, _wins = np.minimum, np.less


class Where(Function):
    """y = a where cond, else b, elementwise; cond, a and b broadcast together. cond is a
    constant mask (nonzero = take a), like NumPy's ``np.where(cond, a, b)``.

    ∂L/∂a = g ∘ [cond],  ∂L/∂b = g ∘ [¬cond] (each summed back to its operand's shape by
    the engine); cond gets none (y is piecewise constant in it). The unselected side gets
    an exact 0, even where the other operand is inf/NaN — unlike a mask product
    cond ∘ a + (1 − cond) ∘ b, whose 0 ∘ inf is NaN. The ops that computed the unselected
    values are still differentiated, so where(x > 0, log x, 0) has a NaN gradient at x = 0
    (0 ∘ 1/0); mask the operand first: where(x > 0, log(where(x > 0, x, 1)), 0).
    """

    spellings = Spellings(function="where")
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, cond: Any, a: Any, b: Any) -> np.ndarray:
        c = np.asarray(cond, dtype=bool)
        ctx.saved_tensors = (c,)
        return np.asarray(np.where(c, a, b))

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any, Any]:
        (c,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        # np.where on a Tensor g (create_graph) records this same op: second order for free
        return (
            None,
            (np.where(c, g, 0) if need[1] else None),
            (np.where(c, 0, g) if need[2] else None),
        )
