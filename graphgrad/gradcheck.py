"""Numerical gradient checking: compare the graph's gradients with central differences.

For a function ``fn(*inputs) -> Tensor (or tuple of Tensors)`` and every input ``x`` that
requires grad, the analytical Jacobian ``J[o, i] = ∂out_o/∂x_i`` (one backward pass per
output element, through ``gg.grad``) is compared with the central difference

    J_num[o, i] = (out_o(x + ε e_i) − out_o(x − ε e_i)) / 2ε,

and every element must satisfy ``|J − J_num| ≤ atol + rtol·|J_num|``. The worst
violation is reported with the input, the element indices and both values.

``fast_mode=True`` checks a random projection instead: ``vᵀJ`` for one random ``v`` per
output (a single backward pass) against the directional central differences of ``vᵀout``
— cheap for large inputs, and an error still names the input element.

Differences assume ``fn`` is a function: it is called twice with the same inputs first,
and different outputs (dropout in training mode, an unseeded random draw) are reported as
such rather than as a Jacobian mismatch.

Central differences with ε = 1e-6 need float64: in float32 (machine ε ≈ 1.2e-7) the
difference quotient is dominated by rounding, so float32 inputs are refused with an
explanation rather than silently upcast.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from graphgrad.core.engine import grad as _grad
from graphgrad.core.grad_mode import enable_grad, no_grad
from graphgrad.core.tensor import Tensor
from graphgrad.errors import GradcheckError


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
    allow_nonfinite: bool = False,
) -> bool:
    """Check ``fn``'s gradients w.r.t. every input that requires grad (float64 only).

    Args:
        fn: maps ``*inputs`` to a Tensor or a tuple of Tensors; may be any composition of
            graphgrad ops, layers or user-defined ``gg.Function`` s. Inputs may include a
            module's parameters: they are perturbed in place, so closures see them.
        inputs: Tensors (and constants, passed through unchanged).
        eps, atol, rtol: step and tolerances, as in PyTorch's gradcheck.
        raise_exception: raise ``GradcheckError`` on mismatch (else return False).
        fast_mode: check a random projection vᵀJ (one backward) instead of the full J.
        seed: seed of the random projection.
        allow_nonfinite: accept an element where both sides hold the same non-finite value
            (the same inf, or NaN on both). By default any NaN or inf, on either side, is
            a mismatch: a gradient that is NaN where the numbers are NaN too is not
            verified by agreeing with them.

    Returns:
        True when every checked gradient matches.
    """
    inputs = _as_tuple(inputs)
    diff = _differentiable(inputs, "gradcheck")
    outputs = _outputs(fn, inputs)
    for o in outputs:
        _require_float64(o.data.dtype, "output of fn")
    rng = np.random.default_rng(seed)
    failure = _nondeterminism(fn, inputs, outputs)
    tol = (atol, rtol, allow_nonfinite)
    if failure is None and fast_mode:
        failure = _check_projection(fn, inputs, diff, outputs, eps, tol, rng)
    elif failure is None:
        failure = _check_full(fn, inputs, diff, outputs, eps, tol)
    if failure is None:
        return True
    if raise_exception:
        raise failure
    return False


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Tensor,
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
    allow_nonfinite: bool = False,
) -> bool:
    """Check second derivatives: gradcheck of ``(x, v) ↦ vᵀ ∂fn/∂x`` computed with
    ``create_graph=True``, w.r.t. the inputs and the upstream gradient ``v``.

    ``grad_outputs`` (one per output of ``fn``) defaults to seeded random float64 tensors.
    """
    inputs = _as_tuple(inputs)
    _differentiable(inputs, "gradgradcheck")
    outputs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        vs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs]
    else:
        vs = [v if isinstance(v, Tensor) else Tensor(v) for v in grad_outputs]
        for v in vs:
            _require_float64(v.data.dtype, "grad_outputs")
            v.requires_grad = True
    n = len(inputs)

    def first_derivative(*args: Any) -> tuple[Tensor, ...]:
        with enable_grad():  # also when gradcheck evaluates it numerically under no_grad
            return _first_derivative(*args)

    def _first_derivative(*args: Any) -> tuple[Tensor, ...]:
        outs = _outputs(fn, args[:n])
        wrt = [a for a in args[:n] if isinstance(a, Tensor) and a.requires_grad]
        pairs = [(o, v) for o, v in zip(outs, args[n:]) if o.requires_grad]
        if not pairs:
            return tuple(Tensor(np.zeros(a.shape)) for a in wrt)
        grads = _grad(
            [o for o, _ in pairs], wrt, [v for _, v in pairs], create_graph=True, allow_unused=True
        )
        return tuple(Tensor(np.zeros(a.shape)) if g is None else g for g, a in zip(grads, wrt))

    return gradcheck(
        first_derivative,
        (*inputs, *vs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
        seed=seed,
        allow_nonfinite=allow_nonfinite,
    )


# ---------------------------------------------------------------------------- helpers
def _as_tuple(inputs: Any) -> tuple[Any, ...]:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _require_float64(dtype: np.dtype, what: str) -> None:
    if dtype != np.float64:
        raise TypeError(
            f"gradcheck needs float64, but the {what} has dtype {dtype}: with eps≈1e-6, "
            "central differences in lower precision are dominated by rounding error "
            "and would report false mismatches. Cast inputs with .astype(np.float64) "
            "(and build the layer with dtype=np.float64)."
        )


def _differentiable(inputs: tuple[Any, ...], who: str) -> list[int]:
    diff = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            _require_float64(x.data.dtype, f"input {i}")
            diff.append(i)
    if not diff:
        raise ValueError(f"{who}: no input requires grad, so there is nothing to check")
    return diff


def _outputs(fn: Callable[..., Any], inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return tuple(outs)


def _evaluate(fn: Callable[..., Any], inputs: tuple[Any, ...]) -> list[np.ndarray]:
    with no_grad():
        return [o.data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]


def _nondeterminism(
    fn: Callable[..., Any], inputs: tuple[Any, ...], outputs: tuple[Tensor, ...]
) -> GradcheckError | None:
    """Differences assume fn is a function: a second call with the same inputs must give
    the same outputs. A random one (dropout in training mode, an unseeded draw) would
    otherwise surface as a baffling Jacobian mismatch."""
    again = _evaluate(fn, inputs)
    for k, (o, a) in enumerate(zip(outputs, again)):
        first = o.data.astype(np.float64).ravel()
        if not np.allclose(first, a, rtol=1e-10, atol=1e-12, equal_nan=True):
            j = int(np.argmax(np.abs(first - a)))
            return GradcheckError(
                f"fn is not deterministic: two calls with the same inputs gave output {k} "
                f"(shape {o.shape}) element {_unravel(j, o.shape)} = {first[j]:.10g}, then "
                f"{a[j]:.10g}. Is there dropout in training mode (call model.eval()) or a "
                "random draw without a fixed seed?"
            )
    return None


def _numerical_jacobian(
    fn: Callable[..., Any], inputs: tuple[Any, ...], x: Tensor, eps: float
) -> list[np.ndarray]:
    """One (outputs.size, x.size) matrix per output, by central differences on x.data."""
    data = x.data  # perturbed in place, so closures over x (or a module's parameter) see it
    base = _evaluate(fn, inputs)
    jac = [np.zeros((b.size, data.size)) for b in base]
    for i, idx in enumerate(np.ndindex(data.shape)):
        orig = data[idx]
        data[idx] = orig + eps
        plus = _evaluate(fn, inputs)
        data[idx] = orig - eps
        minus = _evaluate(fn, inputs)
        data[idx] = orig
        for k, (p, m) in enumerate(zip(plus, minus)):
            jac[k][:, i] = (p - m) / (2 * eps)
    return jac


def _analytical_rows(
    outputs: tuple[Tensor, ...], wrt: list[Tensor], k: int, flat_index: int
) -> list[np.ndarray]:
    """Row ``flat_index`` of ∂outputs[k]/∂wrt (one backward pass), per input."""
    out = outputs[k]
    sizes = [w.data.size for w in wrt]
    if not out.requires_grad:
        return [np.zeros(s) for s in sizes]
    seed = np.zeros(out.shape)
    seed.reshape(-1)[flat_index] = 1.0
    grads = _grad(out, wrt, seed, retain_graph=True, allow_unused=True)
    return [
        np.zeros(s) if g is None else g.data.astype(np.float64).ravel()
        for g, s in zip(grads, sizes)
    ]


def _check_full(
    fn: Any,
    inputs: tuple[Any, ...],
    diff: Sequence[int],
    outputs: tuple[Tensor, ...],
    eps: float,
    tol: Any,
) -> Any:
    wrt = [inputs[i] for i in diff]
    numerical = {i: _numerical_jacobian(fn, inputs, inputs[i], eps) for i in diff}
    worst = None
    for k, out in enumerate(outputs):
        for o in range(out.data.size):
            rows = _analytical_rows(outputs, wrt, k, o)
            for i, row in zip(diff, rows):
                num = numerical[i][k][o]
                bad = _worst(row, num, *tol)
                if bad is not None and (worst is None or bad[0] > worst[0]):
                    j = bad[1]
                    worst = (bad[0], i, k, o, j, row[j], num[j])
    if worst is None:
        return None
    _, i, k, o, j, a, n = worst
    x, out = inputs[i], outputs[k]
    atol, rtol, _ = tol
    why = (
        _NONFINITE
        if not (np.isfinite(a) and np.isfinite(n))
        else f"|diff| {abs(a - n):.3g} > atol {atol:g} + rtol {rtol:g} * |numerical|"
    )
    return GradcheckError(
        f"Jacobian mismatch for input {i} (shape {x.shape}) at input element "
        f"{_unravel(j, x.shape)}, output {k} (shape {out.shape}) element "
        f"{_unravel(o, out.shape)}: analytical {a:.10g} vs numerical {n:.10g} ({why})",
        input_index=i,
        element=_unravel(j, x.shape),
        output_index=k,
        output_element=_unravel(o, out.shape),
        analytical=float(a),
        numerical=float(n),
    )


def _check_projection(
    fn: Any,
    inputs: tuple[Any, ...],
    diff: Sequence[int],
    outputs: tuple[Tensor, ...],
    eps: float,
    tol: Any,
    rng: np.random.Generator,
) -> Any:
    vs = [rng.standard_normal(o.shape) for o in outputs]
    wrt = [inputs[i] for i in diff]
    pairs = [(o, v) for o, v in zip(outputs, vs) if o.requires_grad]
    if pairs:
        grads = _grad(
            [o for o, _ in pairs], wrt, [v for _, v in pairs], retain_graph=True, allow_unused=True
        )
    else:
        grads = (None,) * len(wrt)

    def projected(*args: Any) -> Tensor:
        outs = _outputs(fn, args)
        return sum(((o.astype(np.float64) * v).sum() for o, v in zip(outs, vs)), Tensor(0.0))

    for i, g in zip(diff, grads):
        x = inputs[i]
        analytical = np.zeros(x.data.size) if g is None else g.data.ravel()
        numerical = _numerical_jacobian(projected, inputs, x, eps)[0][0]
        bad = _worst(analytical, numerical, *tol)
        if bad is not None:
            j = bad[1]
            a, n = analytical[j], numerical[j]
            why = "" if np.isfinite(a) and np.isfinite(n) else f" ({_NONFINITE})"
            return GradcheckError(
                f"gradient mismatch (fast mode, random projection vᵀJ) for input {i} "
                f"(shape {x.shape}) at element {_unravel(j, x.shape)}: analytical "
                f"{a:.10g} vs numerical {n:.10g}{why}",
                input_index=i,
                element=_unravel(j, x.shape),
                analytical=float(a),
                numerical=float(n),
            )
    return None


_NONFINITE = (
    "a non-finite value is a mismatch; pass allow_nonfinite=True if both sides are "
    "expected to hold the same inf or NaN there"
)


def _worst(
    a: np.ndarray, n: np.ndarray, atol: float, rtol: float, allow_nonfinite: bool
) -> tuple[float, int] | None:
    """The element that exceeds the tolerance by the most. A NaN or inf on either side is a
    mismatch (ranked first), unless ``allow_nonfinite`` and both sides hold the same one."""
    if a.size == 0:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        finite = np.isfinite(a) & np.isfinite(n)
        same = (a == n) | (np.isnan(a) & np.isnan(n))
    accepted = same if allow_nonfinite else np.zeros_like(finite)
    excess = np.where(finite, excess, np.where(accepted, -np.inf, np.inf))
    j = int(np.argmax(excess))
    if excess[j] > 0:
        return float(excess[j]), j
    return None


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
