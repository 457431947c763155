"""Learning-rate schedules, PyTorch's ``torch.optim.lr_scheduler`` names and meaning.

A schedule owns the ``"lr"`` of every parameter group of one optimizer: at construction
it records each group's lr as the base lr₀, and ``step()`` (once per epoch, after
``optimizer.step()``) advances the epoch count e and sets every group's lr to the schedule's
closed form lr(e) — set, not multiplied, so the lr after e steps is exactly the formula's
whatever happened before. ``state_dict()`` / ``load_state_dict()`` resume it.

    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        sched.step()
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from graphgrad.optim.optimizers import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "StepLR"]


class LRScheduler:
    """Base class: a subclass defines ``lr_at(base_lr, epoch, group)``, the lr of parameter
    group ``group`` (base lr ``base_lr``) after ``epoch`` calls of ``step()``."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__} schedules an optimizer's lr; got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's lr to the schedule's value."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The lr of every group as last set (the base lrs before the first ``step``)."""
        return [group["lr"] for group in self.optimizer.param_groups]

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

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: restore the epoch count and base lrs, and set the groups' lrs to match."""
        base = [float(v) for v in state["base_lrs"]]
        if len(base) != len(self.optimizer.param_groups):
            raise ValueError(
                f"{type(self).__name__}: the state has {len(base)} base lrs, the optimizer "
                f"has {len(self.optimizer.param_groups)} parameter groups"
            )
        self.base_lrs, self.last_epoch = base, int(state["last_epoch"])
        self._apply()


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
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(fns) != n or not all(callable(f) for f in fns):
            raise ValueError(
                f"LambdaLR: lr_lambda must be a function or a list of {n} functions "
                f"(one per parameter group), got {lr_lambda!r}"
            )
        self.lr_lambdas = fns
        self._apply()  # λ(0) applies from the start, as in PyTorch

    def lr_at(self, base_lr: float, epoch: int, group: int) -> float:
        return base_lr * float(self.lr_lambdas[group](epoch))
