"""The primitive set (DESIGN rule 1) and its functional spelling.

Every op is a ``Function`` subclass with ``forward`` and ``backward`` side by side:

=================  ==========================================  ====================
op                 forward                                     module
=================  ==========================================  ====================
Add, Sub, Neg      a + b, a − b, −a                             arithmetic
Mul, Div, Pow      a ∘ b, a / b, a ** b                         arithmetic
MatMul             A @ B (1-D, 2-D, batched)                    linalg
Affine             X W + b, or X W + B[t] (fused; nn.Linear's)  linalg
Transpose          x.transpose(axes)                            shape
Reshape            x.reshape(shape)                             shape
GetItem            x[index]  (backward: ScatterAdd)             shape
Concat, Stack      concatenate / stack along an axis            shape
BroadcastTo        broadcast_to(x, shape)                       shape
Cast               x.astype(dtype)                              shape
Sum, Mean, Max     reductions over axes                         reduce
Exp, Log           eˣ, ln x                                     elementwise
Tanh, Sigmoid      tanh x, 1/(1+e⁻ˣ)                            elementwise
ReLU               max(x, 0)                                    elementwise
Softplus           log(1 + eˣ), stable                          elementwise
Clip               min(max(x, low), high)                       elementwise
Maximum, Minimum   max(a, b), min(a, b) (ties share evenly)     elementwise
Where              a where cond else b (cond: a constant mask)  elementwise
Softmax            stable softmax along an axis                 softmax
LogSoftmax         stable log-softmax along an axis             softmax
BinaryCrossEntropy −(t log p + (1−t) log(1−p)), PyTorch's       loss
=================  ==========================================  ====================
"""

from __future__ import annotations

from typing import Any, Sequence

from graphgrad.ops.arithmetic import Add, Div, Mul, Neg, Pow, Sub
from graphgrad.ops.elementwise import (
    Clip,
    Exp,
    Log,
    Maximum,
    Minimum,
    ReLU,
    Sigmoid,
    Softplus,
    Tanh,
    Where,
)
from graphgrad.ops.linalg import Affine, MatMul
from graphgrad.ops.loss import BinaryCrossEntropy
from graphgrad.ops.reduce import Max, Mean, Sum
from graphgrad.ops.shape import (
    BroadcastTo,
    Cast,
    Concat,
    GetItem,
    Reshape,
    ScatterAdd,
    Stack,
    Transpose,
)
from graphgrad.ops.softmax import LogSoftmax, Softmax
from graphgrad.tensor import Tensor

__all__ = [
    "Add", "Affine", "BinaryCrossEntropy", "BroadcastTo", "Cast", "Clip", "Concat", "Div",
    "Exp", "GetItem", "Log", "LogSoftmax", "MatMul", "Max", "Maximum", "Mean", "Minimum", "Mul",
    "Neg", "Pow", "ReLU", "Reshape", "ScatterAdd", "Sigmoid", "Softmax", "Softplus", "Stack",
    "Sub", "Sum", "Tanh", "Transpose", "Where", "broadcast_to", "cat", "clip", "concat", "exp",
    "log", "log_softmax", "matmul", "maximum", "minimum", "relu", "sigmoid", "softmax",
    "softplus", "stack", "tanh", "where",
]  # fmt: skip


def concat(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``np.concatenate``; ``dim=`` is PyTorch's
    keyword for the same, and ``gg.cat`` PyTorch's name)."""
    return Concat.apply(*tensors, axis=_axis_or_dim("concat", axis, dim))


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """PyTorch's ``torch.cat``: ``concat`` along ``dim``."""
    return Concat.apply(*tensors, axis=dim)


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis (``np.stack``; ``dim=`` as in PyTorch)."""
    return Stack.apply(*tensors, axis=_axis_or_dim("stack", axis, dim))


def _axis_or_dim(name: str, axis: int, dim: int | None) -> int:
    if dim is None:
        return axis
    if axis != 0:
        raise TypeError(f"{name}: give axis= (NumPy's) or dim= (PyTorch's), not both")
    return dim


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Broadcast ``x`` to ``shape``; the gradient is summed back over broadcast axes."""
    return BroadcastTo.apply(x, tuple(shape))


def matmul(a: Any, b: Any) -> Tensor:
    """A @ B with NumPy matmul semantics; ∂L/∂A = G Bᵀ, ∂L/∂B = Aᵀ G."""
    return MatMul.apply(a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """max(a, b) elementwise, broadcasting; ∂L/∂a = g ∘ [a > b] (ties share it evenly)."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """min(a, b) elementwise, broadcasting; ∂L/∂a = g ∘ [a < b] (ties share it evenly)."""
    return Minimum.apply(a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """a where ``cond`` (a constant mask), else b; broadcasting. ∂L/∂a = g ∘ [cond],
    ∂L/∂b = g ∘ [¬cond]."""
    return Where.apply(cond, a, b)


def exp(x: Any) -> Tensor:
    """eˣ elementwise; ∂L/∂x = g ∘ eˣ."""
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """ln x elementwise; ∂L/∂x = g / x."""
    return Log.apply(x)


def tanh(x: Any) -> Tensor:
    """tanh x elementwise; ∂L/∂x = g ∘ (1 − tanh² x)."""
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """σ(x) = 1/(1 + e⁻ˣ) elementwise; ∂L/∂x = g ∘ σ(1 − σ)."""
    return Sigmoid.apply(x)


def relu(x: Any) -> Tensor:
    """max(x, 0) elementwise; ∂L/∂x = g ∘ [x > 0] (relu'(0) = 0)."""
    return ReLU.apply(x)


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """e^{x_i} / Σ_j e^{x_j} along ``axis`` (or PyTorch's ``dim=``), computed stably;
    ∂L/∂x = y ∘ (g − Σ g y)."""
    return Softmax.apply(x, axis if dim is None else _one_of("softmax", axis, dim))


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x_i − log Σ_j e^{x_j} along ``axis`` (or PyTorch's ``dim=``), computed stably;
    ∂L/∂x = g − softmax(x) Σ g."""
    return LogSoftmax.apply(x, axis if dim is None else _one_of("log_softmax", axis, dim))


def _one_of(name: str, axis: int, dim: int) -> int:
    if axis != -1:
        raise TypeError(f"{name}: give axis= (NumPy's) or dim= (PyTorch's), not both")
    return dim


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^{βx}) / β elementwise, without overflow, and x where βx > threshold
    (PyTorch's ``F.softplus``; threshold=float("inf") for the exact function);
    ∂L/∂x = g ∘ σ(βx)."""
    return Softplus.apply(x, beta, threshold)


def clip(x: Any, low: float | None = None, high: float | None = None) -> Tensor:
    """min(max(x, low), high); the gradient passes where low ≤ x ≤ high."""
    return Clip.apply(x, low, high)
