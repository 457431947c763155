"""Parameter initialisers. Each fills ``tensor.data`` in place and returns the tensor.

Weights of two or more dimensions are read as PyTorch reads them, ``(fan_out, fan_in,
*receptive)`` (``nn.Linear``'s (out, in), the LSTM's (4H, input)); for the seeds' (in, out)
layout (``ElmanCell``'s W) pass ``fan_in=`` / ``fan_out=`` explicitly. ``rng`` is a
``np.random.Generator``, an int seed, or None for the default generator
(``gg.manual_seed``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graphgrad.core.in_place import note_write
from graphgrad.core.tensor import Tensor
from graphgrad.random import get_rng

Rng = np.random.Generator | int | None


def calculate_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape, in PyTorch's (out, in, ...) layout."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fans(t: Tensor, fan_in: int | None, fan_out: int | None) -> tuple[int, int]:
    fi, fo = calculate_fans(t.shape)
    return (fan_in or fi), (fan_out or fo)


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = values
    note_write(t.data)
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, rng: Rng = None) -> Tensor:
    """U(a, b) (PyTorch's names: ``uniform_(t, a=-0.1, b=0.1)``)."""
    if not a <= b:
        raise ValueError(f"uniform_: needs a ≤ b, got a={a}, b={b}")
    return _fill(t, get_rng(rng).uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, rng: Rng = None) -> Tensor:
    """N(mean, std²)."""
    if not std >= 0:
        raise ValueError(f"normal_: needs std ≥ 0, got {std}")
    return _fill(t, get_rng(rng).normal(mean, std, t.shape))


def constant_(t: Tensor, val: float) -> Tensor:
    """Fill with ``val`` (PyTorch's keyword)."""
    return _fill(t, np.full(t.shape, val))


def zeros_(t: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(t, 1.0)


def scaled_normal_(t: Tensor, rng: Rng = None, fan_in: int | None = None) -> Tensor:
    """randn / √fan_in — the seeds' initialisation (seed 002: ``np.random.randn(n_in, n_out)
    / np.sqrt(n_in)``). fan_in is read in PyTorch's layout (a Linear weight's columns);
    pass ``fan_in=`` for a weight in the seeds' (in, out) layout."""
    fi, _ = _fans(t, fan_in, None)
    return _fill(t, get_rng(rng).standard_normal(t.shape) / math.sqrt(fi))


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gain for ``nonlinearity``: 1 for linear/sigmoid, 5/3 for
    tanh, √2 for relu, √(2 / (1 + a²)) for leaky_relu with negative slope ``param``
    (default 0.01), 3/4 for selu."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def xavier_uniform_(
    t: Tensor,
    gain: float = 1.0,
    rng: Rng = None,
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> Tensor:
    """U(−a, a), a = gain·√(6 / (fan_in + fan_out))  (Glorot & Bengio)."""
    fi, fo = _fans(t, fan_in, fan_out)
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(t, -a, a, rng)


def xavier_normal_(
    t: Tensor,
    gain: float = 1.0,
    rng: Rng = None,
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> Tensor:
    """N(0, σ²), σ = gain·√(2 / (fan_in + fan_out))."""
    fi, fo = _fans(t, fan_in, fan_out)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fi + fo)), rng)


def _kaiming_std(
    t: Tensor, a: float, mode: str, nonlinearity: str, fan_in: int | None, fan_out: int | None
) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fi, fo = _fans(t, fan_in, fan_out)
    return calculate_gain(nonlinearity, a) / math.sqrt(fi if mode == "fan_in" else fo)


def kaiming_uniform_(
    t: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Rng = None,
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> Tensor:
    """PyTorch's ``kaiming_uniform_``: U(−bound, bound), bound = √3 · gain / √fan with
    gain = ``calculate_gain(nonlinearity, a)`` (He et al.; ``a`` is leaky ReLU's negative
    slope, so the default is ReLU's √2) and fan = fan_in or fan_out (``mode``)."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity, fan_in, fan_out)
    return uniform_(t, -bound, bound, rng)


def kaiming_normal_(
    t: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Rng = None,
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> Tensor:
    """PyTorch's ``kaiming_normal_``: N(0, σ²), σ = gain / √fan (see ``kaiming_uniform_``)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity, fan_in, fan_out), rng)


def orthogonal_(t: Tensor, gain: float = 1.0, rng: Rng = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al.), from the QR decomposition
    of a Gaussian matrix with the signs of R's diagonal fixed (uniform over O(n))."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_ needs at least 2 dimensions, got shape {t.shape}")
    rows, cols = t.shape[0], int(np.prod(t.shape[1:]))
    a = get_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, gain * q.reshape(t.shape))


def spectral_radius(w: Any) -> float:
    """Largest |eigenvalue| of a square matrix (Tensor or array)."""
    a = np.asarray(w.data if isinstance(w, Tensor) else w)  # a parameter's values, read
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"spectral_radius needs a square matrix, got shape {a.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(a))))
