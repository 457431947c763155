"""What generated code calls for an op run through its context object (the rest of the
generated code is NumPy calls only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.core.engine import reduce_to
from graphgrad.core.function import output_array
from graphgrad.core.sparse_grad import IndexedGrad

_ndarray = np.ndarray


def output(cls: type, ctx: Any, out: Any) -> np.ndarray:
    """A forward's result as the recording paths take it (a NumPy scalar becomes a 0-d
    array, a saved reference to it too)."""
    if type(out) is _ndarray:
        return out
    if type(out) is tuple:
        raise TypeError(f"{cls.__name__}.forward returned several arrays inside compiled code")
    return output_array(cls, ctx, out)


def grads(result: Any, n: int, cls: type) -> tuple[Any, ...]:
    """A rule's result as a tuple of ``n`` (missing trailing entries are None)."""
    if type(result) is not tuple:
        result = tuple(result) if type(result) is list else (result,)
    if len(result) > n:
        raise TypeError(f"{cls.__name__}.backward returned {len(result)} gradients for {n} inputs")
    return result + (None,) * (n - len(result))


def dense(gi: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """One contribution as a dense array of the operand's shape: sparse ones scattered,
    broadcast ones summed back (as the engine does), a missing one as zeros."""
    if gi is None:
        return np.zeros(shape, dtype=dtype)
    if type(gi) is IndexedGrad:
        return gi.dense()
    if type(gi) is not _ndarray:
        gi = np.asarray(gi)
    return gi if gi.shape == shape else reduce_to(gi, shape, None, None)
