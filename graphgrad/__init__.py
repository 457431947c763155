"""graphgrad: a computational-graph autodiff micro-framework on NumPy.

Tensors record the primitive ops applied to them; ``backward()`` walks the recorded graph
in reverse, applying each op's local backward rule. Layers, recurrent networks and
losses are compositions of the primitives, so backpropagation through time is graph
traversal, not hand-written code.
"""

from __future__ import annotations

import numpy as np

from graphgrad import accelerator, data, nn, ops, optim
from graphgrad.compiler import Compiled, compile
from graphgrad.core.anomaly import AnomalyError, detect_anomaly
from graphgrad.core.creation import (
    from_numpy,
    full,
    is_tensor,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from graphgrad.core.engine import backward, grad
from graphgrad.core.function import Function
from graphgrad.core.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from graphgrad.core.tensor import Tensor
from graphgrad.errors import (
    CheckpointError,
    CompileError,
    CompileWarning,
    GradcheckError,
    GraphgradError,
    GraphReleasedError,
    ShapeError,
    StateDictError,
)
from graphgrad.gradcheck import gradcheck, gradgradcheck
from graphgrad.io import load, save
from graphgrad.ops import (
    broadcast_to,
    cat,
    clip,
    concat,
    cos,
    exp,
    gather,
    log,
    log_softmax,
    matmul,
    maximum,
    minimum,
    relu,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    square,
    stack,
    tanh,
    where,
)
from graphgrad.random import manual_seed, multinomial, randint
from graphgrad.runtime import (
    device,
    get_default_dtype,
    get_num_threads,
    set_default_dtype,
    set_num_threads,
)

__version__ = "0.1.0"

inference_mode = no_grad  # PyTorch's name for a block that records nothing

# PyTorch's dtype names, as the NumPy dtypes graphgrad tensors hold (gg.float32 is np.float32)
float16, float32, float64 = np.float16, np.float32, np.float64
half, double, long, short = np.float16, np.float64, np.int64, np.int16
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8

__all__ = [
    "AnomalyError",
    "CheckpointError",
    "CompileError",
    "CompileWarning",
    "Compiled",
    "Function",
    "GradcheckError",
    "GraphReleasedError",
    "GraphgradError",
    "ShapeError",
    "StateDictError",
    "Tensor",
    "abs",
    "accelerator",
    "backward",
    "bool",
    "broadcast_to",
    "cat",
    "clip",
    "compile",
    "concat",
    "cos",
    "data",
    "detect_anomaly",
    "device",
    "double",
    "enable_grad",
    "exp",
    "float",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "gather",
    "get_default_dtype",
    "get_num_threads",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "half",
    "inference_mode",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "is_tensor",
    "load",
    "log",
    "log_softmax",
    "long",
    "manual_seed",
    "matmul",
    "maximum",
    "minimum",
    "multinomial",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "randint",
    "relu",
    "save",
    "set_default_dtype",
    "set_grad_enabled",
    "set_num_threads",
    "short",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "square",
    "stack",
    "tanh",
    "tensor",
    "uint8",
    "where",
    "zeros",
    "zeros_like",
]  # fmt: skip

_NUMPY_FIRST = "graphgrad builds tensors from NumPy arrays: gg.tensor(np.{name}(...))"
# PyTorch's names users reach for, and graphgrad's way (PEP 562: consulted only for names
# the module lacks)
_MODULE_HINTS = {
    "clamp": "use gg.clip",
    **{n: _NUMPY_FIRST for n in ("empty", "eye", "arange", "linspace")},
    **{n: _NUMPY_FIRST for n in ("full_like", "empty_like")},
    "randn": "graphgrad builds tensors from NumPy arrays: "
    "gg.tensor(np.random.default_rng(seed).standard_normal(shape))",
    "rand": "graphgrad builds tensors from NumPy arrays: "
    "gg.tensor(np.random.default_rng(seed).random(shape))",
}


def __getattr__(name: str) -> object:
    hint = _MODULE_HINTS.get(name)
    message = f"module 'graphgrad' has no attribute {name!r}"
    raise AttributeError(message + "; " + hint.format(name=name) if hint else message)


# PyTorch's dtype names that are also builtins' names: bound last, so that no code in this
# module reads them (gg.float is torch.float, float32; gg.int is int32)
bool = np.bool_
float = np.float32
int = np.int32
abs = ops.abs  # |x|, recorded (torch.abs; NumPy's is np.abs / np.absolute)
