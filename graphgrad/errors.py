"""Exceptions raised by graphgrad, each naming what went wrong and what to do."""

from __future__ import annotations


class GraphgradError(Exception):
    """Base class of graphgrad's own errors."""


class ShapeError(GraphgradError, ValueError):
    """An op received operands whose shapes do not fit (raised at forward time)."""


class GraphReleasedError(GraphgradError, RuntimeError):
    """backward() reached a part of the graph whose saved arrays were already freed."""


class GradcheckError(GraphgradError, AssertionError):
    """Analytical and numerical gradients disagree.

    Besides the message, the failure as fields (None where it is not about one element,
    e.g. a function that is not deterministic): ``input_index`` (position in gradcheck's
    inputs), ``element`` (index tuple into that input), ``output_index`` and
    ``output_element`` (which output element's row of the Jacobian; None in fast mode),
    ``analytical`` and ``numerical`` (the two values)."""

    def __init__(
        self,
        message: str,
        *,
        input_index: int | None = None,
        element: tuple[int, ...] | None = None,
        output_index: int | None = None,
        output_element: tuple[int, ...] | None = None,
        analytical: float | None = None,
        numerical: float | None = None,
    ) -> None:
        super().__init__(message)
        self.input_index = input_index
        self.element = element
        self.output_index = output_index
        self.output_element = output_element
        self.analytical = analytical
        self.numerical = numerical


class StateDictError(GraphgradError, ValueError):
    """A state dict does not fit the model (names or shapes); nothing was loaded."""


class CheckpointError(GraphgradError, OSError):
    """A file is not a readable graphgrad checkpoint (truncated, corrupt, pickled...)."""


class CompileError(GraphgradError, RuntimeError):
    """gg.compile cannot turn a function into generated code that computes what the
    function computes (raised when tracing, naming the op and what to change)."""


class CompileWarning(UserWarning):
    """gg.compile runs a function uncompiled (eagerly) for some argument shapes, because
    compiled code could not repeat what it does; the message names the cause. With
    ``gg.compile(fn, fullgraph=True)`` that is a ``CompileError`` instead."""
