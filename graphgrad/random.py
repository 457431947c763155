"""The default random generator used by layers and initialisers when none is given, and
PyTorch's sampling functions ``randint`` and ``multinomial`` drawing from it.

``gg.manual_seed(0)`` makes model construction reproducible; every layer and ``nn.init``
function also accepts ``rng=`` (a ``np.random.Generator`` or an int seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.core.grad_mode import tracer
from graphgrad.core.tensor import Tensor

_default = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the default generator used when no ``rng`` is passed."""
    global _default
    if tracer[0] is not None:  # gg.compile could not replay it: its draws would go on
        tracer[0].side_effect("gg.manual_seed()")  # type: ignore[attr-defined]
    _default = np.random.default_rng(seed)


def get_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """``rng`` itself, a new generator seeded with ``rng`` if it is an int, or the default."""
    if rng is None:
        return _default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a np.random.Generator, an int seed or None, got {rng!r}")


def randint(
    *args: Any,
    size: Any = None,
    dtype: Any = None,
    generator: np.random.Generator | int | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """PyTorch's ``torch.randint(high, size)`` / ``randint(low, high, size)``: integers
    drawn uniformly from [low, high) (low = 0 by default), int64 unless ``dtype`` says
    otherwise; ``generator`` is a ``np.random.Generator`` or a seed (default: the one
    ``manual_seed`` sets). The stream is NumPy's, so the values differ from torch's."""
    if size is not None:
        args = (*args, size)
    if len(args) == 2:
        low, high, shape = 0, args[0], args[1]
    elif len(args) == 3:
        low, high, shape = args
    else:
        raise TypeError(
            f"randint takes (high, size) or (low, high, size), got {len(args)} positional "
            "values (size may be given as a keyword)"
        )
    if isinstance(shape, (int, np.integer)):
        raise TypeError(
            f"randint: size must be a tuple of ints (as torch.randint's), got {shape!r}: "
            f"write ({shape},)"
        )
    if not high > low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    d = np.dtype(np.int64 if dtype is None else dtype)
    values = get_rng(generator).integers(low, high, size=tuple(shape)).astype(d)
    return Tensor(values, requires_grad=requires_grad)


def multinomial(
    input: Any,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: np.random.Generator | int | None = None,
) -> Tensor:
    """PyTorch's ``torch.multinomial``: ``num_samples`` category indices (int64) drawn
    with probabilities proportional to the non-negative weights ``input`` (C,) — or one
    row of draws per row of an (N, C) input — with or without replacement. Not
    differentiable (the result is integers). The stream is NumPy's, not torch's."""
    w = np.asarray(input.data if isinstance(input, Tensor) else input, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise ValueError(f"multinomial: weights must be 1-D or 2-D and non-empty, got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("multinomial: the weights contain inf, nan or an element < 0")
    rows = w.reshape(-1, w.shape[-1])
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise ValueError("multinomial: a row of weights sums to zero")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    if num_samples < 1:
        raise ValueError(f"multinomial: num_samples must be ≥ 1, got {num_samples}")
    if not replacement and np.any(np.count_nonzero(rows, axis=1) < num_samples):
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples without replacement from a row "
            "with fewer non-zero weights"
        )
    rng = get_rng(generator)
    out = np.stack(
        [
            rng.choice(len(r), size=num_samples, replace=replacement, p=r / t)
            for r, t in zip(rows, totals)
        ]
    ).astype(np.int64)
    return Tensor(out.reshape(*w.shape[:-1], num_samples))
