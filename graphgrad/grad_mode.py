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
# first read ``_all_enabled[0]``: True while no thread has recording off (the usual case).
# Only then do they need their own thread's flag. Every write goes through
# ``_set_enabled``, which keeps the two consistent.
_all_enabled = [True]
_threads_off: set[int] = set()
_lock = threading.Lock()


def _set_enabled(flag: bool) -> None:
    _mode.enabled = flag
    ident = threading.get_ident()
    with _lock:
        if flag:
            _threads_off.discard(ident)
        else:
            _threads_off.add(ident)
        _all_enabled[0] = not _threads_off


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
