"""Pausing Python's cyclic garbage collector around graphgrad's long loops."""

from __future__ import annotations

import gc


class CollectorPaused:
    """``with CollectorPaused():`` — automatic cyclic garbage collection off inside.

    Used around graphgrad's own loops that build or consume long graphs (unrolling a
    sequence, the backward pass, gg.compile's code generation). A graph is acyclic (nodes
    refer only to their inputs), so reference counting frees all of it; but every node is
    a tracked object, and the
    collector's repeated passes over a graph growing by ~10 objects per time step cost
    ~30% of a 20,000-step forward pass. Collection resumes on exit (unless it was off
    already). The collector is process-wide: other threads' cyclic garbage waits too.
    """

    __slots__ = ("was_enabled",)

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()
