"""graphgrad: a computational-graph autodiff micro-framework on NumPy.

Tensors record the primitive ops applied to them; ``backward()`` walks the recorded graph
in reverse, applying each op's local backward rule. Layers, recurrent networks and
losses are compositions of the primitives, so backpropagation through time is graph
traversal, not hand-written code.
"""

from __future__ import annotations

from graphgrad.autograd import backward, grad
from graphgrad.errors import GradcheckError, GraphgradError, GraphReleasedError, ShapeError
from graphgrad.function import Function
from graphgrad.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from graphgrad.gradcheck import gradcheck, gradgradcheck
from graphgrad.ops import (
    broadcast_to,
    concat,
    exp,
    log,
    log_softmax,
    matmul,
    relu,
    sigmoid,
    softmax,
    stack,
    tanh,
)
from graphgrad.tensor import Tensor, from_numpy, is_tensor, tensor

__version__ = "0.1.0"

__all__ = [
    "Function", "GradcheckError", "GraphReleasedError", "GraphgradError", "ShapeError",
    "Tensor", "backward", "broadcast_to", "concat", "enable_grad", "exp", "from_numpy",
    "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "is_tensor", "log",
    "log_softmax", "matmul", "no_grad", "relu", "set_grad_enabled", "sigmoid", "softmax",
    "stack", "tanh", "tensor",
]  # fmt: skip
