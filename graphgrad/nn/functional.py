"""Functional forms: activations, ``linear`` and the losses.

Every loss computes an elementwise loss ℓ, multiplies it by an optional ``mask``
(broadcastable to ℓ's shape; 0 drops an element), and reduces it:

* ``reduction="sum"``:  Σ mask ∘ ℓ  (the seeds' convention: sequence losses sum over
  time, samples and units — seed 000 eqs. 11, 13);
* ``"mean"``:  Σ mask ∘ ℓ / Σ mask  (the mean over the unmasked elements; 0 if none);
* ``"none"``:  mask ∘ ℓ, unreduced.

A masked element contributes exactly zero gradient: with targets only for t ≥ τ
(seed 000 eq. 13) or for variable-length sequences, ∂L/∂Φ_t = 0 at the masked steps
(eq. 14). Prediction and target shapes must match exactly: silent broadcasting of an
(N, 1) prediction against an (N,) target is a classic source of wrong losses, so it is
an error here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad import ops
from graphgrad.core.grad_mode import tracer
from graphgrad.core.tensor import Tensor, shape_of
from graphgrad.errors import ShapeError
from graphgrad.ops import log_softmax, relu, sigmoid, softmax, softplus, tanh
from graphgrad.random import get_rng

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
    "layer_norm", "linear", "log_softmax", "mse_loss", "nll_loss", "one_hot", "relu", "sigmoid",
    "softmax", "softplus", "squared_error", "tanh",
]  # fmt: skip


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x Wᵀ + b with ``weight`` of shape (out, in), as PyTorch's ``F.linear`` (and
    ``nn.Linear``'s layout); in the seeds' notation Y = XW + b, W = weight.T."""
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)


def _dropout_probability(p: Any, who: str, what: str = "p") -> float:
    """``p`` as a float in [0, 1], else a ValueError naming ``who`` (also for NaN and for
    strings: a string compared with a number would say nothing useful)."""
    try:
        value = math.nan if isinstance(p, (str, bytes)) else float(p)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{who}: {what} must be a probability in [0, 1], got {p!r}")
    return value


def dropout(
    x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | int | None = None
) -> Tensor:
    """Inverted dropout: y = x ∘ m / (1 − p), m_i ~ Bernoulli(1 − p) drawn afresh per call, so
    E[y] = x and evaluation (``training=False``, or p = 0) is the identity. The mask is a
    constant of the graph: ∂L/∂x = g ∘ m / (1 − p). p = 1 drops everything (y = 0).
    ``rng``: a generator or int seed (default: graphgrad's, see ``gg.manual_seed``)."""
    p = _dropout_probability(p, "dropout")
    x = _tensor(x)
    if not training or p == 0.0:
        return x
    dt = x.dtype if x.dtype.kind == "f" else np.float64
    if p == 1.0:
        return x * np.zeros(x.shape, dtype=dt)
    rec = tracer[0]
    if rec is not None:  # gg.compile: the draw is a value of the trace, made at every call
        rec.random_draw(rng)  # type: ignore[attr-defined]
    mask = dropout_mask(rng, x.shape, p, dt)
    if rec is not None:
        rec.random("dropout_mask", (rng, x.shape, p, dt), mask)  # type: ignore[attr-defined]
    return x * mask


def dropout_mask(rng: Any, shape: tuple[int, ...], p: float, dtype: Any) -> np.ndarray:
    """Inverted dropout's mask m / (1 − p), m_i ~ Bernoulli(1 − p), drawn from ``rng``
    (``get_rng``'s reading: a generator, an int seed or the default)."""
    keep = get_rng(rng).random(shape) >= p
    return (keep * (1.0 / (1.0 - p))).astype(dtype, copy=False)


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _same_shape(name: str, pred: Any, target: Any) -> None:
    ps, ts = shape_of(pred), shape_of(target)
    if ps != ts:
        raise ShapeError(
            f"{name}: prediction shape {ps} and target shape {ts} differ; reshape one of them "
            "(broadcasting here would silently compute a different loss)"
        )


def _reduce(name: str, loss: Tensor, reduction: str, mask: Any) -> Tensor:
    count = float(loss.data.size)
    if mask is not None:
        m = _array(mask)
        if m.dtype.kind not in "biuf":
            raise TypeError(f"{name}: mask must be numeric or bool, got dtype {m.dtype}")
        try:
            full = np.broadcast_to(m, loss.shape)
        except ValueError:
            raise ShapeError(
                f"{name}: mask of shape {m.shape} does not broadcast to the loss shape {loss.shape}"
            ) from None
        loss = loss * m.astype(loss.dtype)
        count = float(full.sum())
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / count if count > 0 else loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def squared_error(pred: Any, target: Any, reduction: str = "sum", mask: Any = None) -> Tensor:
    """L = Σ ½ (target − pred)² (seed 000 eq. 11, seed 004); ∂L/∂pred = −(target − pred)."""
    _same_shape("squared_error", pred, target)
    diff = ops.Sub.apply(pred, target)
    return _reduce("squared_error", 0.5 * diff * diff, reduction, mask)


def mse_loss(pred: Any, target: Any, reduction: str = "mean", mask: Any = None) -> Tensor:
    """Mean squared error: mean of (pred − target)² (PyTorch's ``mse_loss``)."""
    _same_shape("mse_loss", pred, target)
    diff = ops.Sub.apply(pred, target)
    return _reduce("mse_loss", diff * diff, reduction, mask)


def cross_entropy(
    logits: Any, target: Any, reduction: str = "mean", mask: Any = None, *, axis: int | None = None
) -> Tensor:
    """Softmax cross-entropy ℓ = −Σ_c t_c log softmax(logits)_c over the class axis.

    ``target`` is either integer class indices (the logits' shape without the class axis)
    or probabilities (the logits' shape). Computed through ``log_softmax`` so that logits of
    ±1000 give a finite loss and gradient. Masked positions may hold any class index (e.g.
    padding).

    The class axis: for (C,) and (N, C) logits it is the last, as in PyTorch. For ≥3-D
    logits the seeds' sequences are (N, T, C), classes last, while PyTorch's K-dimensional
    loss reads (N, C, d₁, …), classes along dim 1. Class-index targets whose shape fits one
    reading only select it; where both fit (probability targets, or (N, T, T) logits with
    (N, T) targets) the call raises unless ``axis=-1`` (last) or ``axis=1`` (PyTorch's) is
    given.
    """
    t = _array(target)
    logits = _class_axis_last(logits, t, axis)
    logp = log_softmax(logits, axis=-1)
    C = logp.shape[-1]
    if t.dtype.kind in "iu":
        if t.shape != logp.shape[:-1]:
            hint = (
                " (one-hot or probability targets must be floats: pass target.astype(float))"
                if t.shape == logp.shape
                else ""
            )
            raise ShapeError(
                f"cross_entropy: class-index targets must have shape {logp.shape[:-1]} for "
                f"logits of shape {logp.shape}, got {t.shape}{hint}"
            )
        if mask is not None:
            t = np.where(np.broadcast_to(_array(mask), t.shape).astype(bool), t, 0)
        bad = (t < 0) | (t >= C)
        if bad.any():
            raise ValueError(f"cross_entropy: target class {t[bad][0]} is not in [0, {C})")
        index = (*np.indices(t.shape, sparse=True), t)
        loss = -logp[index]
    else:
        if t.shape == logp.shape[:-1] and t.shape != logp.shape:
            raise ShapeError(
                f"cross_entropy: float targets of shape {t.shape} for logits of shape "
                f"{logp.shape}: class indices must be integers (pass target.astype(int)); "
                "probability targets have the logits' shape"
            )
        _same_shape("cross_entropy", logp, target)
        loss = -(logp * target).sum(axis=-1)
    return _reduce("cross_entropy", loss, reduction, mask)


def _class_axis_last(logits: Any, t: np.ndarray, axis: int | None) -> Any:
    """``logits`` with its class axis moved last (see ``cross_entropy``)."""
    shape = tuple(np.shape(_array(logits)))
    nd = len(shape)
    if nd <= 2 and axis is None:
        return logits
    if axis is None:
        index = t.dtype.kind in "iu"
        last = t.shape == (shape[:-1] if index else shape)
        dim1 = t.shape == (shape[:1] + shape[2:] if index else shape)
        if last and dim1:
            raise ValueError(
                f"cross_entropy: logits of shape {shape} with targets of shape {t.shape} read "
                "two ways: classes along the last axis (the (N, T, C) sequence layout) or "
                "along dim 1 (PyTorch's (N, C, d1, ...)); pass axis=-1 or axis=1"
            )
        axis = 1 if dim1 else -1
    if not -nd <= axis < nd:
        raise ValueError(f"cross_entropy: axis {axis} is out of range for logits of shape {shape}")
    axis %= nd
    if axis == nd - 1:
        return logits
    perm = [a for a in range(nd) if a != axis] + [axis]
    return _tensor(logits).transpose(perm)


def binary_cross_entropy(
    probs: Any, target: Any, reduction: str = "mean", mask: Any = None
) -> Tensor:
    """ℓ = −(t log p + (1 − t) log(1 − p)) for probabilities p (e.g. sigmoid outputs).

    Each log is kept ≥ −100 and the gradient is (p − t) / max(p(1 − p), 10⁻¹²), PyTorch's
    definitions (``ops.BinaryCrossEntropy``): a saturated p = 0 or 1 (a float32 sigmoid
    rounds to 1.0 from z ≈ 17) gives a large finite loss and a finite gradient, never
    inf/NaN. A prediction or target outside [0, 1] (or NaN) raises ValueError. Prefer
    ``binary_cross_entropy_with_logits`` for stability.
    """
    _same_shape("binary_cross_entropy", probs, target)
    p = _array(probs)
    outside = ~((p >= 0) & (p <= 1))  # NaN too
    if mask is not None:
        outside &= np.broadcast_to(_array(mask), p.shape).astype(bool)
    if outside.any():
        # A clipped log would quietly turn logits into a wrong (even negative) loss.
        raise ValueError(
            f"binary_cross_entropy: predictions must be probabilities in [0, 1], got "
            f"{float(p[outside].flat[0])}; for unbounded scores (logits) use "
            "binary_cross_entropy_with_logits"
        )
    _check_probability_targets("binary_cross_entropy", target, p.shape, mask)
    loss = ops.BinaryCrossEntropy.apply(probs, target)
    return _reduce("binary_cross_entropy", loss, reduction, mask)


def binary_cross_entropy_with_logits(
    logits: Any, target: Any, reduction: str = "mean", mask: Any = None
) -> Tensor:
    """ℓ = −(t log σ(z) + (1 − t) log σ(−z)) = t·softplus(−z) + (1 − t)·softplus(z).

    Stable for any |z| (softplus never overflows) and, for hard labels, free of the
    cancellation in softplus(z) − t z; the gradient is σ(z) − t, also at z = 0.
    """
    _same_shape("binary_cross_entropy_with_logits", logits, target)
    _check_probability_targets("binary_cross_entropy_with_logits", target, shape_of(logits), mask)
    z = _tensor(logits)
    exact = math.inf  # no softplus threshold: the loss keeps full precision for any z
    loss = ops.Mul.apply(target, softplus(-z, 1.0, exact)) + ops.Mul.apply(
        ops.Sub.apply(1.0, target), softplus(z, 1.0, exact)
    )
    return _reduce("binary_cross_entropy_with_logits", loss, reduction, mask)


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """PyTorch's negative log-likelihood: ℓ_n = −w[t_n] · input[n, t_n] for log-probabilities
    ``input`` with classes along dim 1 — (N, C), (C,) or (N, C, d1, …) — and integer
    targets (N), () or (N, d1, …). Targets equal to ``ignore_index`` contribute nothing.
    ``"mean"`` divides by Σ w[t_n] over the kept targets (NaN if none is kept, as PyTorch);
    ``"sum"`` and ``"none"`` as usual. ∂ℓ_n/∂input[n, c] = −w[t_n] [c = t_n].
    """
    x = _tensor(input)
    t = _array(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: targets must be integer class indices, got dtype {t.dtype}")
    if (
        x.ndim == 0
        or (x.ndim > 1 and t.shape != x.shape[:1] + x.shape[2:])
        or (x.ndim == 1 and t.ndim)
    ):
        want = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
        raise ShapeError(
            f"nll_loss: input of shape {x.shape} (classes along dim 1) needs targets of shape "
            f"{want}, got {t.shape}"
        )
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"nll_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    C = x.shape[1] if x.ndim > 1 else x.shape[0]
    keep = t != ignore_index
    bad = keep & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(f"nll_loss: target {t[bad].flat[0]} is out of bounds for {C} classes")
    safe = np.where(keep, t, 0)
    if weight is None:
        w = keep.astype(x.dtype)
    else:
        wa = _array(weight)
        if wa.shape != (C,):
            raise ShapeError(f"nll_loss: weight must have shape ({C},), got {wa.shape}")
        w = np.where(keep, wa[safe], 0).astype(x.dtype)
    if x.ndim == 1:
        picked = x[safe]
    else:
        index: list[Any] = list(np.indices(t.shape, sparse=True))
        index.insert(1, safe)  # the class index sits on dim 1
        picked = x[tuple(index)]
    loss = -(picked * w)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    denom = w.sum(dtype=x.dtype)
    if denom == 0:  # every target ignored: NaN, as PyTorch, with the zero gradient it has
        return total + np.array(np.nan, dtype=x.dtype)
    return total / denom


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """PyTorch's ``one_hot``: int64 tensor of shape (..., num_classes) with a 1 at each
    index (num_classes = −1: max index + 1). Not differentiable (a constant)."""
    t = _array(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects integer class indices, got dtype {t.dtype}")
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes})")
    return Tensor((t[..., None] == np.arange(num_classes)).astype(np.int64))


def layer_norm(
    input: Any,
    normalized_shape: Any,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """PyTorch's layer normalisation over the last ``len(normalized_shape)`` dims:
    y = (x − μ) / √(σ² + eps) ∘ weight + bias, μ and σ² (the biased variance) over those
    dims. Composed of recorded ops, so its gradient comes from the graph."""
    x = _tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if x.shape[x.ndim - k :] != shape or k == 0 or k > x.ndim:
        raise ShapeError(
            f"layer_norm: normalized_shape {shape} must be the trailing dims of the input, "
            f"got input of shape {x.shape}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    var = (centred * centred).mean(axis=axes, keepdims=True)
    y = centred / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _check_probability_targets(name: str, target: Any, shape: Any, mask: Any) -> None:
    """Binary cross-entropy targets are probabilities: a label of 2 (a class index given to
    the wrong loss) would quietly give a meaningless loss and gradient."""
    t = _array(target)
    outside = ~((t >= 0) & (t <= 1))  # NaN too
    if mask is not None:
        outside = outside & np.broadcast_to(_array(mask), shape).astype(bool)
    if outside.any():
        raise ValueError(
            f"{name}: targets must be probabilities in [0, 1], got "
            f"{float(t[outside].flat[0])}; for class indices use cross_entropy"
        )


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)
