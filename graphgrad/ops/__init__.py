"""The primitive set (DESIGN rule 1) and its functional spelling.

Every op is a ``Function`` subclass with ``forward`` and ``backward`` side by side:

=================  ==========================================  ====================
op                 forward                                     module
=================  ==========================================  ====================
Add, Sub, Neg      a + b, a − b, −a                             arithmetic
Mul, Div, Pow      a ∘ b, a / b, a ** b                         arithmetic
MatMul             A @ B (1-D, 2-D, batched)                    linalg
Affine             X W + b, or X W + B[t] (fused; recurrent)    linalg
Linear             X Wᵀ + b, W (out, in) (F.linear, nn.Linear)  linalg
Transpose          x.transpose(axes)                            shape
Reshape            x.reshape(shape)                             shape
GetItem            x[index]  (backward: ScatterAdd)             shape
Concat, Stack      concatenate / stack along an axis            shape
BroadcastTo        broadcast_to(x, shape)                       shape
Cast               x.astype(dtype)                              shape
Contiguous         x copied into C order (t.contiguous())       shape
Sum, Mean, Max     reductions over axes                         reduce
Exp, Log           eˣ, ln x                                     elementwise
Sin, Cos           sin x, cos x                                 elementwise
Sqrt, Square, Abs  √x, x², |x|                                  elementwise
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

Each op's class declares its spellings (``graphgrad.ops.declare``): from them this module
generates the Tensor methods and operators, the functions below the hand-written ones
(``exp``, ``matmul``, ...) and the NumPy dispatch entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from graphgrad.core.function import Function, apply1, apply2
from graphgrad.core.tensor import Tensor
from graphgrad.ops import declare
from graphgrad.ops.arithmetic import Add, Div, Mul, Neg, Pow, Sub
from graphgrad.ops.elementwise import (
    Abs,
    Clip,
    Cos,
    Exp,
    Log,
    Maximum,
    Minimum,
    ReLU,
    Sigmoid,
    Sin,
    Softplus,
    Sqrt,
    Square,
    Tanh,
    Where,
)
from graphgrad.ops.linalg import Affine, Linear, MatMul
from graphgrad.ops.loss import BinaryCrossEntropy
from graphgrad.ops.reduce import Max, Mean, Sum
from graphgrad.ops.shape import (
    BroadcastTo,
    Cast,
    Concat,
    Contiguous,
    GetItem,
    Reshape,
    ScatterAdd,
    Stack,
    Transpose,
)
from graphgrad.ops.softmax import LogSoftmax, Softmax

__all__ = [
    "Abs", "Add", "Affine", "BinaryCrossEntropy", "BroadcastTo", "Cast", "Clip", "Concat",
    "Contiguous", "Cos", "Div", "Exp", "GetItem", "Linear", "Log", "LogSoftmax", "MatMul", "Max",
    "Maximum", "Mean", "Minimum", "Mul", "Neg", "Pow", "ReLU", "Reshape", "ScatterAdd", "Sigmoid",
    "Sin", "Softmax", "Softplus", "Sqrt", "Square", "Stack", "Sub", "Sum", "Tanh", "Transpose",
    "Where", "abs", "broadcast_to", "cat", "clip", "concat", "cos", "exp", "gather", "log",
    "log_softmax", "matmul", "maximum", "minimum", "relu", "sigmoid", "sin", "softmax", "softplus",
    "sqrt", "square", "stack", "tanh", "where",
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


def gather(input: Tensor, dim: int, index: Any) -> Tensor:
    """PyTorch's ``torch.gather(input, dim, index)``: ``input.gather(dim, index)``."""
    return input.gather(dim, index)


from graphgrad.core import in_place as _in_place  # noqa: E402  (generated t += x calls it)

OPS = [v for v in list(globals().values()) if isinstance(v, type) and issubclass(v, Function)
       and v is not Function]  # fmt: skip
# Every declared spelling, generated (graphgrad.ops.declare): Tensor methods and operators,
# this module's functions (exp, matmul, ...) and the NumPy entries.
GENERATED = declare.install(
    OPS, Tensor, globals(), {"apply1": apply1, "apply2": apply2, "_in_place": _in_place}
)

if TYPE_CHECKING:  # the generated functions, for type checkers (python docs/gen_api.py)
    # --- generated stubs: begin
    def abs(x: Any) -> Tensor: ...
    def clip(x: Any, low: Any = None, high: Any = None) -> Tensor: ...
    def cos(x: Any) -> Tensor: ...
    def exp(x: Any) -> Tensor: ...
    def log(x: Any) -> Tensor: ...
    def matmul(a: Any, b: Any) -> Tensor: ...
    def maximum(a: Any, b: Any) -> Tensor: ...
    def minimum(a: Any, b: Any) -> Tensor: ...
    def relu(x: Any) -> Tensor: ...
    def sigmoid(x: Any) -> Tensor: ...
    def sin(x: Any) -> Tensor: ...
    def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor: ...
    def sqrt(x: Any) -> Tensor: ...
    def square(x: Any) -> Tensor: ...
    def tanh(x: Any) -> Tensor: ...
    def where(cond: Any, a: Any, b: Any) -> Tensor: ...

    # --- generated stubs: end
    pass
