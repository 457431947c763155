"""Optimizers (SGD, Adam, AdamW, RMSprop, AdaGrad, LBFGS) and learning-rate schedules
(``optim.lr_scheduler``), with PyTorch's names and meaning."""

from graphgrad.optim import lr_scheduler
from graphgrad.optim.lbfgs import LBFGS
from graphgrad.optim.optimizers import (
    SGD,
    AdaGrad,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    ParamsOrGroups,
    RMSprop,
)

__all__ = [
    "LBFGS", "SGD", "AdaGrad", "Adagrad", "Adam", "AdamW", "Optimizer", "ParamsOrGroups", "RMSprop",
    "lr_scheduler",
]  # fmt: skip
