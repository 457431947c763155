"""Exceptions raised by graphgrad, each naming what went wrong and what to do."""

from __future__ import annotations


class GraphgradError(Exception):
    """Base class of graphgrad's own errors."""


class ShapeError(GraphgradError, ValueError):
    """An op received operands whose shapes do not fit (raised at forward time)."""


class GraphReleasedError(GraphgradError, RuntimeError):
    """backward() reached a part of the graph whose saved arrays were already freed."""


class GradcheckError(GraphgradError, AssertionError):
    """Analytical and numerical gradients disagree (see the message for the element)."""


class StateDictError(GraphgradError, ValueError):
    """A state dict does not fit the model (names or shapes); nothing was loaded."""


class CheckpointError(GraphgradError, OSError):
    """A file is not a readable graphgrad checkpoint (truncated, corrupt, pickled...)."""
