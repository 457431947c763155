"""Loss primitives whose PyTorch definition is not the derivative of their value."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.core.function import Function

LOG_FLOOR = -100.0  # PyTorch's lower bound on each log in binary cross-entropy
_EPSILON = float(np.float32(1e-12))  # PyTorch's floor on p(1 − p): 1e-12 as a float32


class BinaryCrossEntropy(Function):
    """ℓ = −(t · max(log p, −100) + (1 − t) · max(log(1 − p), −100)), elementwise.

    ∂L/∂p = g ∘ (p − t) / max(p(1 − p), 10⁻¹²),
    ∂L/∂t = g ∘ (log(1 − p) − log p).

    These are PyTorch's formulas (``torch.nn.functional.binary_cross_entropy``): inside
    (0, 1) they are the derivatives of ℓ; at a saturated p (a sigmoid that rounded to 0 or
    1, common in float32) the value stays finite (the −100 floor) and the gradient too,
    where the derivative of the floored logs would be 0 ∘ ∞ = NaN or a lost signal.
    """

    __slots__ = ()

    @staticmethod
    def forward(ctx: Any, p: Any, t: Any) -> np.ndarray:
        # p is checked to lie in [0, 1] by the loss, except at masked-out positions, which
        # may hold anything: clipped here so that their (zero-weighted) loss is finite
        pc = np.clip(p, 0.0, 1.0)
        with np.errstate(divide="ignore"):  # log 0 = −inf, floored next
            log_p = np.maximum(np.log(pc), LOG_FLOOR)
            log_q = np.maximum(np.log1p(-pc), LOG_FLOOR)
        ctx.saved_tensors = (p, t)
        return np.asarray(-(t * log_p + (1 - t) * log_q))

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple[Any, Any]:
        p, t = ctx.saved_tensors
        need = ctx.needs_input_grad
        # every call here records its op on Tensors (np.maximum → Maximum, np.log → Log,
        # np.clip → Clip): second order under create_graph
        gp = g * (p - t) / np.maximum(p * (1 - p), _EPSILON) if need[0] else None
        gt = None
        if need[1]:  # PyTorch's: the logs unfloored (±inf at a saturated p)
            pc = np.clip(p, 0.0, 1.0)
            with np.errstate(divide="ignore"):
                gt = g * (np.log(1 - pc) - np.log(pc))
        return gp, gt
