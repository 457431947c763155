"""Whether operations are recorded: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

The flag is thread-local, so a ``no_grad`` block in one thread never switches off
recording in another.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()

# Reading a thread-local costs about as much as the rest of an op's bookkeeping, so ops
# first test ``_threads_off``: one entry per thread that has recording off, so empty (false)
# in the usual case. Only then do they need their own thread's flag. Every write goes
# through ``_set_enabled``, which appends or pops an entry when, and only when, its own
# thread's flag changes; list.append/pop are atomic, so no lock is needed and the list's
# length is always the number of threads with recording off.
_threads_off: list[None] = []


def _set_enabled(flag: bool) -> None:
    if _mode.enabled != flag:
        _mode.enabled = bool(flag)
        if flag:
            _threads_off.pop()
        else:
            _threads_off.append(None)


def is_grad_enabled() -> bool:
    """True when new operations are recorded in the graph."""
    return _mode.enabled


class set_grad_enabled:  # noqa: N801 (PyTorch's spelling)
    """Context manager (and decorator) that sets recording on or off, restoring it on exit."""

    def __init__(self, mode: bool) -> None:
        self._new = bool(mode)
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(_mode.enabled)
        _set_enabled(self._new)

    def __exit__(self, *exc: object) -> None:
        _set_enabled(self._prev.pop())

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self._new):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):  # noqa: N801 (PyTorch's spelling)
    """``with gg.no_grad():`` — nothing inside is recorded (inference, parameter updates)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):  # noqa: N801 (PyTorch's spelling)
    """``with gg.enable_grad():`` — record again inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


# Set while gg.detect_anomaly() is active (read once per backward pass by the engine).
_anomaly = [False]
