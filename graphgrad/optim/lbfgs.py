"""L-BFGS with PyTorch's algorithm, arguments and stopping rules (``torch.optim.LBFGS``).

Every ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations. The direction
is d = −H g, with H applied by the two-loop recursion over the last ``history_size`` pairs
(s = x_{k+1} − x_k, y = g_{k+1} − g_k, kept only when yᵀs > 1e−10) and the initial
scaling H₀ = yᵀs / yᵀy. Without a line search the step is t = lr (the first iteration
ever: t = lr · min(1, 1/‖g‖₁)); with ``line_search_fn="strong_wolfe"`` t satisfies

    f(x + t d) ≤ f(x) + c₁ t gᵀd,      |∇f(x + t d)ᵀd| ≤ −c₂ gᵀd      (c₁ = 1e−4, c₂ = 0.9)

found by bracketing and a zoom with safeguarded cubic interpolation. The parameters are
treated as one flat vector (in group order); the closure clears the gradients, computes
the loss, calls ``backward()`` and returns the loss.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Mapping

import numpy as np

from graphgrad.core.grad_mode import enable_grad
from graphgrad.core.in_place import note_write
from graphgrad.core.tensor import Tensor
from graphgrad.optim.optimizers import Optimizer, ParamsOrGroups

_VECTORS = ("d", "prev_flat_grad")  # flat state vectors
_LISTS = ("old_dirs", "old_stps")  # lists of flat vectors
_NUMBERS = ("t", "H_diag", "prev_loss")
_COUNTS = ("func_evals", "n_iter")


def _is_positive_int(v: Any) -> bool:
    return bool(not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= 1)


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None)``: one parameter group;
    ``max_eval`` defaults to ``max_iter · 5 // 4``; ``step(closure)`` returns the loss of
    the closure's first evaluation, as PyTorch's."""

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        # np.int64 counts become ints (a state dict holds plain numbers); others fail below
        given: tuple[Any, ...] = (max_iter, max_eval, history_size)
        counts = [int(v) if _is_positive_int(v) else v for v in given]
        max_iter, max_eval, history_size = counts
        if max_eval is None and _is_positive_int(max_iter):
            max_eval = max_iter * 5 // 4
        super().__init__(
            params,
            dict(
                lr=lr,
                max_iter=max_iter,
                max_eval=max_eval,
                tolerance_grad=tolerance_grad,
                tolerance_change=tolerance_change,
                history_size=history_size,
                line_search_fn=line_search_fn,
            ),
        )
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def _validate(self, group: dict[str, Any]) -> None:
        """The base ranges (lr ≥ 0) and LBFGS's own: counts are positive ints, the
        tolerances finite and ≥ 0, the line search None or 'strong_wolfe' — checked at
        construction and again by load_state_dict."""
        super()._validate(group)
        for key in ("max_iter", "max_eval", "history_size"):
            if not _is_positive_int(group[key]):
                raise ValueError(f"LBFGS: {key} must be a positive int, got {group[key]!r}")
        for key in ("lr", "tolerance_grad", "tolerance_change"):
            v = group[key]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
                raise ValueError(f"LBFGS: {key} must be a number, got {v!r}")
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"LBFGS: {key} must be finite and ≥ 0, got {v!r}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                "LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                f"{group['line_search_fn']!r}"
            )

    def add_param_group(self, group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(group)

    # ------------------------------------------------------------------ flat views
    def _flat_grad(self) -> np.ndarray:
        parts = []
        for p in self._params:
            g = p.grad
            if g is None:
                parts.append(np.zeros(p.data.size, dtype=p.dtype))
            else:
                parts.append(np.ravel(g.data if isinstance(g, Tensor) else g))
        return np.concatenate(parts)

    def _add(self, t: float, d: np.ndarray) -> None:
        """x ← x + t d, parameter by parameter (in place)."""
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += (t * d[offset : offset + n]).reshape(p.shape).astype(p.dtype, copy=False)
            note_write(p.data)
            offset += n

    def _set(self, values: list[np.ndarray]) -> None:
        for p, v in zip(self._params, values):
            p.data[...] = v
            note_write(p.data)

    def _evaluate(self, closure: Callable[[], Any]) -> float:
        with enable_grad():
            return float(closure())

    def _directional(
        self, closure: Callable[[], Any], x: list[np.ndarray], t: float, d: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """f and ∇f at x + t d; the parameters go back to x."""
        self._add(t, d)
        loss = self._evaluate(closure)
        g = self._flat_grad()
        self._set(x)
        return loss, g

    # ------------------------------------------------------------------ the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Up to ``max_iter`` iterations; returns the closure's first loss."""
        if closure is None:
            raise TypeError("LBFGS.step needs a closure that re-evaluates the model")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]
        state = self.state.setdefault(id(self._params[0]), {"func_evals": 0, "n_iter": 0})

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if np.abs(g).max() <= tol_grad:
            return orig_loss

        d: Any = state.get("d")
        t: Any = state.get("t")
        old_dirs, old_stps = state.get("old_dirs", []), state.get("old_stps", [])
        ro, H_diag = state.get("ro", []), state.get("H_diag", 1.0)
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                d = _two_loop(g, old_dirs, old_stps, ro, H_diag)
            prev_g = g.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(g).sum())) * lr
            else:
                t = lr
            gtd = float(g @ d)
            if gtd > -tol_change:  # not a descent direction
                break

            ls_evals = 0
            if group["line_search_fn"] is not None:
                x0 = [p.data.copy() for p in self._params]
                loss, g, t, ls_evals = _strong_wolfe(
                    functools.partial(self._directional, closure, x0, d=d),
                    t,
                    d,
                    loss,
                    g,
                    gtd,
                    max_ls=max_eval - evals,  # PyTorch's: the evaluations left
                )
                self._add(t, d)
                opt_cond = np.abs(g).max() <= tol_grad
            else:
                self._add(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the next iteration needs f and ∇f here
                    loss = self._evaluate(closure)
                    g = self._flat_grad()
                    opt_cond = np.abs(g).max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        state.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_g,
            prev_loss=prev_loss,
        )
        return orig_loss

    # ------------------------------------------------------------------ state dicts
    def _saved_state(self, states: Any, params: dict[int, Tensor]) -> dict[int, dict[str, Any]]:
        """Checked as a whole: counts, numbers, and flat vectors of the parameters' total
        size, the history lists of equal lengths."""
        if not isinstance(states, Mapping) or set(states) - {0}:
            raise ValueError("LBFGS keeps its state under parameter 0 only")
        if not states:
            return {}
        s = states[0]
        known = set(_VECTORS) | set(_LISTS) | set(_NUMBERS) | set(_COUNTS) | {"ro"}
        if not isinstance(s, Mapping) or not set(_COUNTS) <= set(s) <= known:
            raise ValueError(f"the LBFGS state has keys {sorted(map(str, s))}, not LBFGS's")
        size = sum(p.data.size for p in self._params)
        dtype = self._params[0].dtype
        entry: dict[str, Any] = {}
        for k, v in s.items():
            if k in _COUNTS:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                    raise ValueError(f"LBFGS state {k!r} must be an int ≥ 0, got {v!r}")
                entry[k] = int(v)
            elif k in _NUMBERS:
                entry[k] = _number(k, v, positive=k != "prev_loss")
            elif k == "ro":
                if not isinstance(v, (list, tuple)):
                    raise ValueError(f"LBFGS state 'ro' must be a list of numbers, got {v!r}")
                entry[k] = [_number("ro", r, positive=True) for r in v]
            else:
                vectors = v if k in _LISTS else [v]
                checked = []
                for a in vectors:
                    a = np.asarray(a)
                    if a.shape != (size,) or a.dtype.kind != "f":
                        raise ValueError(
                            f"LBFGS state {k!r} holds an array of shape {a.shape}, not a float "
                            f"vector of the parameters' total size {size}"
                        )
                    checked.append(a.astype(dtype, copy=True))
                entry[k] = checked if k in _LISTS else checked[0]
        lengths = {len(entry.get(k, [])) for k in (*_LISTS, "ro")}
        if len(lengths) > 1:
            raise ValueError("the LBFGS history lists differ in length")
        return {id(self._params[0]): entry}


def _number(name: str, v: Any, positive: bool) -> float:
    """A finite float (> 0 for step lengths and curvatures) from a saved state."""
    ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    if not ok or not math.isfinite(v) or (positive and v <= 0):
        kind = "a positive finite number" if positive else "a finite number"
        raise ValueError(f"LBFGS state {name!r} must be {kind}, got {v!r}")
    return float(v)


def _two_loop(
    g: np.ndarray, dirs: list[np.ndarray], stps: list[np.ndarray], ro: list[float], H: float
) -> np.ndarray:
    """d = −H_k g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4)."""
    q = -g
    al = [0.0] * len(dirs)
    for i in range(len(dirs) - 1, -1, -1):
        al[i] = float(stps[i] @ q) * ro[i]
        q = q - al[i] * dirs[i]
    r = q * H
    for i in range(len(dirs)):
        be = float(dirs[i] @ r) * ro[i]
        r = r + (al[i] - be) * stps[i]
    return r


def _cubic_min(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """The minimiser of the cubic through (x1, f1, f1' = g1) and (x2, f2, g2), clipped to
    ``bounds`` (default: the interval between x1 and x2); its midpoint when the cubic has
    no minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(
    phi: Callable[[float], tuple[float, np.ndarray]],
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """A step t along d meeting the strong Wolfe conditions: bracket, then zoom (Nocedal &
    Wright, Algorithms 3.5 and 3.6, with PyTorch's safeguards). ``phi(t)`` is (f, ∇f) at
    x + t d. Returns (f, ∇f, t, evaluations)."""
    d_norm = float(np.abs(d).max())
    f_new, g_new = phi(t)
    evals, ls_iter = 1, 0
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    bracket: list[float] = []
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bf, bg, bgtd = (
                [t_prev, t],
                [f_prev, f_new],
                [g_prev, g_new],
                [gtd_prev, gtd_new],
            )
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bf, bg, bgtd, done = [t], [f_new], [g_new], [gtd_new], True
            break
        if gtd_new >= 0:
            bracket, bf, bg, bgtd = (
                [t_prev, t],
                [f_prev, f_new],
                [g_prev, g_new],
                [gtd_prev, gtd_new],
            )
            break
        # extrapolate: a cubic step between 1.01 t and 10 t
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (lo, hi))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = phi(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bf, bg, bgtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]

    # zoom: shrink the bracket until its low end meets both conditions
    insufficient = False
    low, high = (0, 1) if bf[0] <= bf[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(bracket[0], bf[0], bgtd[0], bracket[1], bf[1], bgtd[1])
        a, b = min(bracket), max(bracket)
        eps = 0.1 * (b - a)
        if min(b - t, t - a) < eps:  # too close to an end: move away from it
            if insufficient or t >= b or t <= a:
                t = b - eps if abs(t - b) < abs(t - a) else a + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = phi(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bf[low]:
            bracket[high], bf[high], bg[high], bgtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bf[0] <= bf[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bf[high], bg[high], bgtd[high] = (
                    bracket[low],
                    bf[low],
                    bg[low],
                    bgtd[low],
                )
            bracket[low], bf[low], bg[low], bgtd[low] = t, f_new, g_new, gtd_new
    return bf[low], bg[low], bracket[low], evals
