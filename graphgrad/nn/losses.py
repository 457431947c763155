"""Losses as modules, PyTorch's names: ``criterion = nn.CrossEntropyLoss()`` then
``loss = criterion(logits, target)``. Each calls its ``functional`` form (where the math
and the checks live) with the module's ``reduction``; ``mask=`` passes through."""

from __future__ import annotations

from typing import Any, Callable

from graphgrad.core.tensor import Tensor
from graphgrad.nn import functional as F
from graphgrad.nn.module import Module

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss", "NLLLoss", "SquaredErrorLoss",
]  # fmt: skip


class _Loss(Module):
    loss: Callable[..., Tensor]
    default_reduction = "mean"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # each loss's own default in its signature (help(), the API reference)
        super().__init_subclass__(**kwargs)
        default = cls.default_reduction

        def init(self: _Loss, reduction: str | None = default) -> None:
            _Loss.__init__(self, reduction)

        init.__name__ = init.__qualname__ = "__init__"
        cls.__init__ = init  # type: ignore[method-assign]

    def __init__(self, reduction: str | None = None) -> None:
        super().__init__()
        reduction = self.default_reduction if reduction is None else reduction
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', "
                f"got {reduction!r}"
            )
        self.reduction = reduction

    def forward(self, pred: Any, target: Any, mask: Any = None) -> Tensor:
        return type(self).loss(pred, target, reduction=self.reduction, mask=mask)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """(pred − target)², averaged by default (``functional.mse_loss``)."""

    loss = staticmethod(F.mse_loss)


class SquaredErrorLoss(_Loss):
    """½ (target − pred)², summed by default: the seeds' loss (``functional.squared_error``)."""

    loss = staticmethod(F.squared_error)
    default_reduction = "sum"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits, with class-index or probability targets
    (``functional.cross_entropy``)."""

    loss = staticmethod(F.cross_entropy)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities in [0, 1] (``functional.binary_cross_entropy``)."""

    loss = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, computed stably
    (``functional.binary_cross_entropy_with_logits``)."""

    loss = staticmethod(F.binary_cross_entropy_with_logits)


class NLLLoss(Module):
    """PyTorch's negative log-likelihood loss on log-probabilities, classes along dim 1
    (``functional.nll_loss``): ``NLLLoss(weight=None, ignore_index=-100,
    reduction="mean")``."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"NLLLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
            )
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"
