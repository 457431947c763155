"""Matrix product with NumPy's ``matmul`` semantics (1-D operands promoted, batch axes
broadcast), and the affine map x W + b as one op."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.core.function import Function
from graphgrad.core.sparse_grad import IndexedGrad
from graphgrad.core.tensor import Tensor
from graphgrad.ops.declare import Spellings
from graphgrad.ops.shape import ScatterAdd


class MatMul(Function):
    """Z = A @ B.   ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G.

    These are seed 004's linear-layer rules (∂E/∂X = ∂E/∂Y Wᵀ, ∂E/∂W = Xᵀ ∂E/∂Y).
    Shapes: A (..., n, k), B (..., k, m) -> Z (..., n, m); a 1-D A is treated as (1, k)
    and a 1-D B as (k, 1), the inserted axis being removed from the result. Batch axes
    that were broadcast in the forward pass are summed by the engine.
    """

    spellings = Spellings(operator="matmul", function="matmul", numpy=(np.matmul,))
    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.saved_tensors = (a, b)
        return _mm(a, b)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return (_mm(g, b.T) if need_a else None), (_mm(a.T, g) if need_b else None)
        if a.ndim == 1 and b.ndim == 1:  # inner product, g is 0-d
            return (g * b if need_a else None), (g * a if need_b else None)
        return _matmul_nd(a, b, g, need_a, need_b)


class Affine(Function):
    """Y = X W + b in one op (``nn.Linear``, the recurrent input projections, and each
    recurrent step h W + xp_t, where b is that step's (N, G) input term).

    ∂L/∂X = G Wᵀ,  ∂L/∂W = Xᵀ G,  ∂L/∂b = G summed by the engine back to b's shape.
    The values are those of ``MatMul`` followed by ``Add``; the op only saves the second
    output-sized array (b is added into the product's fresh buffer) and one node per call.
    For a whole sequence's input projection, (T, N, 4H), that second array and its page
    faults cost as much as the product itself.

    ``Affine.apply(X, W, B, t)`` with an integer ``t`` is X W + B[t], the step-t input
    term taken from a whole sequence's projection B (T, N, G) inside the same op (one node
    per time step fewer than a separate ``B[t]``); B[t] must have the output's shape, and
    ∂L/∂B is G at B[t], zero elsewhere.
    """

    __slots__ = ("b_shape", "index")

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, index: int | None = None) -> np.ndarray:
        ctx.saved_tensors = (x, w)
        out = _mm(x, w)
        ctx.index = index
        if index is not None:
            ctx.b_shape = b.shape
            b = b[index]
            if b.shape != out.shape:
                raise ValueError(f"b[{index}] of shape {b.shape} is not the output's {out.shape}")
        return _plus(out, b)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if x.ndim == 2 and w.ndim == 2:
            gx = _mm(g, w.T) if need[0] else None
            gw = _mm(x.T, g) if need[1] else None
        else:
            gx, gw = _matmul_nd(x, w, g, need[0], need[1])
        t = ctx.index
        if t is None:
            return gx, gw, (g if need[2] else None)
        gb: Any
        if not need[2]:
            gb = None
        elif isinstance(g, Tensor):
            gb = ScatterAdd.apply(g, t, ctx.b_shape)
        else:
            gb = IndexedGrad(t, g, ctx.b_shape, False)
        return gx, gw, gb, None


class Linear(Function):
    """Y = X Wᵀ + b with W of shape (out, in): PyTorch's ``F.linear`` and ``nn.Linear``'s
    layout (the seeds' Y = X W + b has W = Wᵀ here). ``Linear.apply(X, W)``: no bias.

    ∂L/∂X = G W,  ∂L/∂W = Gᵀ X,  ∂L/∂b = G summed by the engine back to b's shape.
    Shapes: X (..., in), W (out, in), b broadcasting against (..., out) -> Y (..., out);
    over X's leading axes ∂L/∂W is one product of the stacked rows. A 1-D X or W takes
    MatMul's rules on Wᵀ.

    An op of its own rather than Affine on a recorded transpose Wᵀ: the transpose's
    gradient (Xᵀ G)ᵀ is a view, which the engine copies into W's layout at every step (a
    sixth of a batch-128 MLP's step); Gᵀ X is the gradient in W's own layout, a new
    array the engine keeps as it is. The values are those of X @ W.T + b.
    """

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any = None) -> np.ndarray:
        if w.ndim not in (1, 2):  # (as PyTorch: Wᵀ of more axes is no weight)
            raise ValueError(
                f"the weight must be (out_features, in_features) or (in_features,), got "
                f"{w.ndim} axes"
            )
        if w.ndim == 2 and np.ndim(x) >= 1 and x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"the input's last axis ({x.shape[-1]}) is not the weight's in_features "
                f"({w.shape[1]}; the weight is (out_features, in_features))"
            )
        ctx.saved_tensors = (x, w)
        out = _mm(x, w.T)
        return out if b is None else _plus(out, b)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, ...]:
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = gw = None
        if w.ndim == 2 and x.ndim >= 2:
            if need[0]:
                gx = _mm(g, w)
            if need[1]:
                rows, xs = g, x
                if x.ndim > 2:  # all leading axes as rows: one product
                    rows, xs = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
                gw = _mm(rows.T, xs)
        else:
            gx, gwt = _matmul_nd(x, w.T, g, need[0], need[1])
            # (a broadcast batch axis stays in front: the engine sums it back to W's shape)
            gw = None if gwt is None else gwt.swapaxes(-1, -2)
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g if need[2] else None)


def _plus(out: Any, b: Any) -> Any:
    """out + b where out is a product's new array."""
    # b of out's trailing shape (a bias row, or a whole array such as a recurrent step's
    # input term) broadcasts without changing out's shape: add it in place.
    if type(b) is np.ndarray and b.dtype == out.dtype and b.shape == out.shape[-b.ndim :]:
        out += b  # the product is a new array: adding in place changes no one else's
        return out
    return out + b  # other shapes or dtypes: exactly NumPy's broadcasting and promotion


def _mm(a: Any, b: Any) -> Any:
    """a @ b. A stack of matrices times one matrix is one product over the stacked rows.
    A product over a contracted axis of length 1 is an outer product, which
    NumPy's matmul computes in a non-BLAS loop ~2-10x slower than the equal broadcast
    multiply (batch-1 weight gradients Xᵀ G, inputs with one feature)."""
    try:
        outer = a.shape[-1] == 1
    except IndexError:  # a 0-d operand: matmul's own error, not this one
        return a @ b
    if outer and a.ndim >= 2 and b.ndim >= 2:
        return a * b
    if a.ndim > 2 and b.ndim == 2:
        # NumPy's matmul makes one BLAS call per leading index of a stacked operand; one
        # call over all rows is 1.5-2x faster, e.g. a language model's (T, N, H) @ (H, V)
        return (a.reshape(-1, a.shape[-1]) @ b).reshape((*a.shape[:-1], b.shape[-1]))
    return a @ b


def _matmul_nd(a: Any, b: Any, g: Any, need_a: bool, need_b: bool) -> tuple[Any, Any]:
    """The general case: promote 1-D operands to matrices, apply the 2-D rules batched."""
    if a.ndim == 1:
        a = a.reshape(1, a.shape[0])
        g = g.reshape((*g.shape[:-1], 1, g.shape[-1]))
        a_vec, b_vec = True, False
    elif b.ndim == 1:
        b = b.reshape(b.shape[0], 1)
        g = g.reshape((*g.shape, 1))
        a_vec, b_vec = False, True
    else:
        a_vec = b_vec = False
    ga = gb = None
    if need_a:
        ga = _mm(g, b.swapaxes(-1, -2))
        if a_vec:
            ga = ga.reshape((*ga.shape[:-2], ga.shape[-1]))
    if need_b:
        if b.ndim == 2 and a.ndim > 2:
            # One (k, N·n) @ (N·n, m) product instead of N small ones summed afterwards.
            k, m = a.shape[-1], g.shape[-1]
            gb = _mm(a.reshape(-1, k).T, g.reshape(-1, m))
        else:
            gb = _mm(a.swapaxes(-1, -2), g)
        if b_vec:
            gb = gb.reshape(gb.shape[:-1])
    return ga, gb
