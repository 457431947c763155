"""Creating tensors: ``gg.tensor``, ``zeros``, ``ones``, ``full``, ``*_like``,
``from_numpy``, ``is_tensor``. Every one makes a leaf (no graph behind it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad import runtime
from graphgrad.core.tensor import ArrayLike, Tensor, _make


def tensor(
    data: ArrayLike, *, requires_grad: bool = False, dtype: Any = None, device: Any = None
) -> Tensor:
    """Create a leaf tensor holding a copy of ``data`` (same as ``Tensor(...)``); the
    keywords are keyword-only, as ``torch.tensor``'s (``device`` may only name the CPU).

    ``dtype`` defaults to NumPy's inference for arrays (an ndarray keeps its dtype) and, for
    Python numbers, to int64 for ints and the default dtype (``gg.get_default_dtype()``,
    float64 unless set) for floats.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _sizes(who: str, size: tuple[Any, ...]) -> tuple[int, ...]:
    """PyTorch's ``zeros(2, 3)`` or ``zeros((2, 3))``; a dtype given positionally (NumPy's
    ``np.zeros(shape, dtype)``) is refused rather than read as a size."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(
                f"gg.{who}: sizes must be ints, got {s!r}; pass the dtype as dtype= "
                f"(gg.{who}(2, 3, dtype=gg.float32))"
            )
    return tuple(int(s) for s in size)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A leaf of zeros, PyTorch's ``torch.zeros(*size)``; dtype defaults to the default
    floating dtype."""
    arr = np.zeros(_sizes("zeros", size), dtype=runtime.resolve_dtype(dtype))
    return Tensor(arr, requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A leaf of ones, PyTorch's ``torch.ones(*size)``."""
    arr = np.ones(_sizes("ones", size), dtype=runtime.resolve_dtype(dtype))
    return Tensor(arr, requires_grad=requires_grad)


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A leaf filled with ``fill_value``, PyTorch's ``torch.full(size, value)``; the dtype
    is inferred from the value as PyTorch does (bool, int64, or the default float)."""
    if dtype is None:
        dtype = (
            np.bool_
            if isinstance(fill_value, (bool, np.bool_))
            else np.int64
            if isinstance(fill_value, (int, np.integer))
            else runtime.get_default_dtype()
        )
    arr = np.full(_sizes("full", (size,)), fill_value, dtype=dtype)
    return Tensor(arr, requires_grad=requires_grad)


def zeros_like(t: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``t``'s shape and dtype (a constant leaf, as ``torch.zeros_like``)."""
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(
        np.zeros(a.shape, dtype=a.dtype if dtype is None else dtype), requires_grad=requires_grad
    )


def ones_like(t: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``t``'s shape and dtype (a constant leaf, as ``torch.ones_like``)."""
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(
        np.ones(a.shape, dtype=a.dtype if dtype is None else dtype), requires_grad=requires_grad
    )


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A leaf tensor that shares memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an np.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"graphgrad tensors hold real numbers; got dtype {array.dtype}")
    t = _make(array, None)
    t.requires_grad = requires_grad
    return t


def is_tensor(x: Any) -> bool:
    """True for graphgrad Tensors (and Parameters)."""
    return isinstance(x, Tensor)
