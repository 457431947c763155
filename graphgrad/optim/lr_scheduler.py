"""Learning-rate schedules, PyTorch's ``torch.optim.lr_scheduler`` names and meaning.

A schedule owns the ``"lr"`` of every parameter group of one optimizer: at construction
it records each group's lr as the base lr₀, and ``step()`` (once per epoch, after
``optimizer.step()``) advances the epoch count e and sets every group's lr to the schedule's
closed form lr(e) — set, not multiplied, so the lr after e steps is exactly the formula's
whatever happened before. ``state_dict()`` / ``load_state_dict()`` resume it.
``ReduceLROnPlateau`` instead follows a metric: ``sched.step(val_loss)``.

    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        sched.step()
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from graphgrad.errors import StateDictError
from graphgrad.optim.optimizers import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]


class _Schedule:
    """What every schedule shares: the optimizer whose groups' ``"lr"`` it sets, and the
    count of ``step`` calls."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__} schedules an optimizer's lr; got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.last_epoch = 0

    def get_last_lr(self) -> list[float]:
        """The lr of every group as last set (the base lrs before the first ``step``)."""
        return [group["lr"] for group in self.optimizer.param_groups]


class LRScheduler(_Schedule):
    """Base class: a subclass defines ``lr_at(base_lr, epoch, group)``, the lr of parameter
    group ``group`` (base lr ``base_lr``) after ``epoch`` calls of ``step()``."""

    def __init__(self, optimizer: Optimizer) -> None:
        super().__init__(optimizer)
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's lr to the schedule's value."""
        self.last_epoch += 1
        self._apply()

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(
                f"{type(self).__name__}: the optimizer has {len(groups)} parameter groups, "
                f"the schedule was made for {len(self.base_lrs)}"
            )
        for i, (group, base) in enumerate(zip(groups, self.base_lrs)):
            group["lr"] = self.lr_at(base, self.last_epoch, i)

    def state_dict(self) -> dict[str, Any]:
        """``{"last_epoch": e, "base_lrs": [...]}`` (LambdaLR's functions are code, not state)."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume: restore the epoch count and base lrs, and set the groups' lrs to match.
        Everything is checked (and every lr computed) before anything changes: a state
        that does not fit raises ``StateDictError``."""
        name = type(self).__name__
        _fields(name, state, ("last_epoch", "base_lrs"))
        raw = state["base_lrs"]
        if not isinstance(raw, (list, tuple)) or len(raw) != len(self.optimizer.param_groups):
            n = len(raw) if isinstance(raw, (list, tuple)) else type(raw).__name__
            raise StateDictError(
                f"{name}: the state has {n} base lrs, the optimizer has "
                f"{len(self.optimizer.param_groups)} parameter groups; nothing was loaded"
            )
        base = [_number(name, "base_lrs", v, minimum=0.0) for v in raw]
        epoch = _count(name, "last_epoch", state["last_epoch"])
        lrs = [self.lr_at(b, epoch, i) for i, b in enumerate(base)]
        self.base_lrs, self.last_epoch = base, epoch
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr


def _fields(name: str, state: Any, fields: Sequence[str]) -> None:
    if not isinstance(state, Mapping) or set(state) != set(fields):
        got = sorted(map(str, state)) if isinstance(state, Mapping) else type(state).__name__
        raise StateDictError(
            f"{name}.load_state_dict: expected the fields {sorted(fields)} (from "
            f"state_dict()), got {got}; nothing was loaded"
        )


def _number(
    name: str, field: str, v: Any, minimum: float | None = None, allow_inf: bool = False
) -> float:
    ok = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
    x = float(v) if ok else math.nan
    if not ok or math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise StateDictError(f"{name}.load_state_dict: {field} holds {v!r}, not a number")
    if minimum is not None and not x >= minimum:
        raise StateDictError(f"{name}.load_state_dict: {field} holds {v!r}, below {minimum}")
    return x


def _count(name: str, field: str, v: Any) -> int:
    if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 0:
        raise StateDictError(f"{name}.load_state_dict: {field} holds {v!r}, not an int ≥ 0")
    return int(v)


def _positive(name: str, what: str, value: float) -> None:
    if not value > 0:  # (NaN fails too)
        raise ValueError(f"{name}: {what} must be > 0, got {value}")


class StepLR(LRScheduler):
    """lr(e) = lr₀ · γ^⌊e / step_size⌋: multiply by γ every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"StepLR: step_size must be an int ≥ 1, got {step_size!r}")
        _positive("StepLR", "gamma", gamma)
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr(e) = lr₀ · γ^e."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        _positive("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer)
        self.gamma = gamma

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """lr(e) = η_min + (lr₀ − η_min) · (1 + cos(π e / T_max)) / 2: from lr₀ down to η_min
    at e = T_max (and back up over the next T_max epochs, as PyTorch's)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        _positive("CosineAnnealingLR", "T_max", T_max)
        if not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be ≥ 0, got {eta_min}")
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        cos = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cos


class LambdaLR(LRScheduler):
    """lr(e) = lr₀ · λ(e), with one λ for every group or a list of one per group (e.g.
    a linear warm-up: ``lambda e: min(1.0, (e + 1) / 100)``)."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
    ) -> None:
        super().__init__(optimizer)
        n = len(optimizer.param_groups)
        fns: list[Any] = (
            list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        )
        if len(fns) != n or not all(callable(f) for f in fns):
            raise ValueError(
                f"LambdaLR: lr_lambda must be a function or a list of {n} functions "
                f"(one per parameter group), got {lr_lambda!r}"
            )
        self.lr_lambdas = fns
        self._apply()  # λ(0) applies from the start, as in PyTorch

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * float(self.lr_lambdas[group](epoch))


class OneCycleLR(LRScheduler):
    """PyTorch's one-cycle policy (Smith & Topin), stepped once per *batch*: the lr rises
    from max_lr / div_factor to ``max_lr`` over the first ``pct_start`` of ``total_steps``
    and anneals to max_lr / (div_factor · final_div_factor) by the last step (cosine, or
    linear with ``anneal_strategy="linear"``); with ``three_phase`` it first comes back to
    the initial lr, then anneals. With ``cycle_momentum`` the momentum (SGD's
    ``momentum``, Adam's β₁) moves the opposite way between ``max_momentum`` and
    ``base_momentum``. ``total_steps`` or ``epochs`` · ``steps_per_epoch``; stepping past
    ``total_steps`` raises, as in PyTorch."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        name = "OneCycleLR"
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"{name}: total_steps must be a positive int, got {total_steps!r}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"{name}: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear'")
        groups = optimizer.param_groups
        n = len(groups)
        self.total_steps, self.cycle_momentum = total_steps, cycle_momentum
        self.anneal_strategy = anneal_strategy
        self.max_lrs = _per_group(name, "max_lr", max_lr, n)
        self.initial_lrs = [m / div_factor for m in self.max_lrs]
        self.min_lrs = [i / final_div_factor for i in self.initial_lrs]
        self.base_momentums = _per_group(name, "base_momentum", base_momentum, n)
        self.max_momentums = _per_group(name, "max_momentum", max_momentum, n)
        T = float(total_steps)
        if three_phase:  # (end step, lr from, lr to, momentum from, momentum to)
            self._phases = [
                (pct_start * T - 1, "initial", "max", "max", "base"),
                (2 * pct_start * T - 2, "max", "initial", "base", "max"),
                (T - 1, "initial", "min", "max", "max"),
            ]
        else:
            self._phases = [
                (pct_start * T - 1, "initial", "max", "max", "base"),
                (T - 1, "max", "min", "base", "max"),
            ]
        if cycle_momentum:
            if not ({"momentum", "betas"} & set(optimizer.defaults)):
                raise ValueError(
                    f"{name}: the optimizer has neither momentum nor betas to cycle; pass "
                    "cycle_momentum=False"
                )
            self._beta1 = "betas" in optimizer.defaults
        for group, lr in zip(groups, self.initial_lrs):
            group["lr"] = lr
        super().__init__(optimizer)
        self._apply()

    def _value(self, kind: str, which: str, group: int) -> float:
        table = {
            ("lr", "initial"): self.initial_lrs,
            ("lr", "max"): self.max_lrs,
            ("lr", "min"): self.min_lrs,
            ("m", "max"): self.max_momentums,
            ("m", "base"): self.base_momentums,
        }
        return table[kind, which][group]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _at(self, epoch: int, group: int) -> tuple[float, float]:
        if epoch > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {epoch} times; the schedule has total_steps="
                f"{self.total_steps}"
            )
        start = 0.0
        for k, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
            if epoch <= end or k == len(self._phases) - 1:
                pct = (epoch - start) / (end - start)
                lr = self._anneal(self._value("lr", lr0, group), self._value("lr", lr1, group), pct)
                m = self._anneal(self._value("m", m0, group), self._value("m", m1, group), pct)
                return lr, m
            start = end
        raise AssertionError("unreachable")

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return self._at(epoch, group)[0]

    def _apply(self) -> None:
        super()._apply()
        if self.cycle_momentum:
            for i, group in enumerate(self.optimizer.param_groups):
                m = self._at(self.last_epoch, i)[1]
                if self._beta1:
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    group["momentum"] = m


def _per_group(name: str, what: str, value: Any, n: int) -> list[float]:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: {what} has {len(value)} values for {n} parameter groups")
        return [float(v) for v in value]
    return [float(value)] * n


class ReduceLROnPlateau(_Schedule):
    """Multiply every group's lr by ``factor`` when a metric (a validation loss, say) has not
    improved for more than ``patience`` consecutive calls of ``step(metric)``; PyTorch's
    rule. An improvement beats the best value so far by more than ``threshold``: relatively
    (``threshold_mode="rel"``: below best · (1 − threshold) in ``mode="min"``, above
    best · (1 + threshold) in ``"max"``) or absolutely (``"abs"``: best ∓ threshold). After a
    reduction, ``cooldown`` calls pass before bad calls count again. No lr goes below its
    group's ``min_lr`` (one number, or one per group); a change smaller than ``eps`` is
    skipped. A NaN metric raises (a diverged run, not a plateau)."""

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(optimizer)
        name = "ReduceLROnPlateau"
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        if not 0 < factor < 1:
            raise ValueError(f"{name}: factor must be in (0, 1), got {factor}")
        for what, v in (("patience", patience), ("cooldown", cooldown)):
            if not (isinstance(v, int) and v >= 0):
                raise ValueError(f"{name}: {what} must be an int ≥ 0, got {v!r}")
        if not (threshold >= 0 and eps >= 0):
            raise ValueError(f"{name}: threshold and eps must be ≥ 0, got {threshold}, {eps}")
        n = len(optimizer.param_groups)
        mins: list[Any] = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(mins) != n or not all(m >= 0 for m in mins):
            raise ValueError(
                f"{name}: min_lr must be a number ≥ 0 or a list of {n} (one per parameter "
                f"group), got {min_lr!r}"
            )
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lrs, self.eps = [float(m) for m in mins], eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0

    def _improves(self, value: float) -> bool:
        rel, best, th = self.threshold_mode == "rel", self.best, self.threshold
        if self.mode == "min":
            return value < (best * (1 - th) if rel else best - th)
        return value > (best * (1 + th) if rel else best + th)

    def step(self, metric: float) -> None:
        """Record this epoch's ``metric``; reduce the lrs if it has plateaued."""
        value = float(metric)
        if math.isnan(value):
            raise ValueError("ReduceLROnPlateau: the metric is nan (the run diverged)")
        self.last_epoch += 1
        if self._improves(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    _STATE = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def state_dict(self) -> dict[str, Any]:
        """The counters and the best metric (the lrs live in the optimizer's state dict)."""
        return {k: getattr(self, k) for k in self._STATE}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from ``state_dict()``; everything is checked before anything changes
        (``StateDictError`` otherwise)."""
        name = "ReduceLROnPlateau"
        _fields(name, state, self._STATE)
        best = _number(name, "best", state["best"], allow_inf=True)
        counts = {k: _count(name, k, state[k]) for k in self._STATE[1:]}
        self.best = best
        for k, v in counts.items():
            setattr(self, k, v)
