"""Gradient clipping — the remedy for exploding gradients named by seeds 001 and 002."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from graphgrad.core.tensor import Tensor


def zero_grads(parameters: Iterable[Tensor], set_to_none: bool) -> None:
    """``Module.zero_grad`` / ``Optimizer.zero_grad``: ``p.grad = None`` (the default: the
    next backward stores its gradient without adding to zeros), or zeros in place."""
    for p in parameters:
        if set_to_none:
            p.grad = None
            continue
        g = p.grad
        if type(g) is np.ndarray and g.flags.writeable:
            g[...] = 0  # PyTorch's grad.zero_(): a buffer someone holds stays that buffer
        elif g is not None:  # a Tensor from create_graph: zeros, cut from its graph
            p.grad = np.zeros_like(p.data)


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[np.ndarray]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = []
    for p in params:
        g = p.grad
        if g is None:
            continue
        if isinstance(g, Tensor):
            g = g.data
        grads.append(g)
    return grads


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients together, in place, so that their joint norm is ≤ ``max_norm``.

    ‖g‖ = (Σ_p Σ_i |g_pi|^norm_type)^(1/norm_type) over every parameter's gradient
    (``norm_type=inf`` for the max norm). If ‖g‖ > max_norm, every gradient is multiplied
    by max_norm / (‖g‖ + 1e-6). Returns ‖g‖ before clipping.

    A non-finite norm (an inf or NaN gradient) scales nothing: the gradients are left as
    they are and the norm is returned, so check it before ``optimizer.step()`` — or pass
    ``error_if_nonfinite=True`` to raise instead.
    """
    grads = _grads(parameters)
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = float(
            sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type)
        )
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise RuntimeError(
                f"clip_grad_norm_: the total gradient norm is {total}; refusing to scale "
                "gradients by it (pass error_if_nonfinite=False to allow)"
            )
        return total
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g *= scale
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to [−clip_value, clip_value], in place."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def parameters_to_vector(parameters: Iterable[Any]) -> np.ndarray:
    """Concatenate the parameters' data into one flat array (a copy)."""
    return np.concatenate([np.asarray(p.data).ravel() for p in parameters])
