"""Whether operations are recorded: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

The flag is thread-local, so a ``no_grad`` block in one thread never switches off
recording in another.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    enabled = True


recording = _GradMode()

# Reading a thread-local costs about as much as the rest of an op's bookkeeping, so ops
# first test ``threads_off``: one entry per thread that has recording off, so empty (false)
# in the usual case. Only then do they need their own thread's flag. Every write goes
# through ``set_enabled``, which appends or pops an entry when, and only when, its own
# thread's flag changes; list.append/pop are atomic, so no lock is needed and the list's
# length is always the number of threads with recording off.
threads_off: list[None] = []


def set_enabled(flag: bool) -> None:
    if recording.enabled != flag:
        recording.enabled = bool(flag)
        if flag:
            threads_off.pop()
        else:
            threads_off.append(None)


def is_grad_enabled() -> bool:
    """True when new operations are recorded in the graph."""
    return recording.enabled


class _GradModeContext:
    """Context manager (and decorator) that sets recording on or off, restoring it on exit;
    an instance may be entered again, nested."""

    def __init__(self, mode: bool) -> None:
        self._new = bool(mode)
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(recording.enabled)
        set_enabled(self._new)

    def __exit__(self, *exc: object) -> None:
        set_enabled(self._prev.pop())

    def __call__(self, fn: F) -> F:
        mode = self._new
        if inspect.isgeneratorfunction(fn):
            return _generator_in_mode(fn, mode)  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _GradModeContext(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _generator_in_mode(fn: Callable[..., Any], mode: bool) -> Callable[..., Any]:
    """A decorated generator function: its body runs in ``mode`` each time it resumes, and
    the caller's mode is back in force between items. (Wrapping the call alone would only
    cover creating the generator, which runs none of its body.)"""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gen = fn(*args, **kwargs)
        try:
            with _GradModeContext(mode):
                item = gen.send(None)
            while True:
                try:
                    sent = yield item
                except GeneratorExit:
                    with _GradModeContext(mode):
                        gen.close()
                    raise
                except BaseException as exc:
                    with _GradModeContext(mode):
                        item = gen.throw(exc)
                else:
                    with _GradModeContext(mode):
                        item = gen.send(sent)
        except StopIteration as stop:
            return stop.value

    return wrapper


class _FixedMode(_GradModeContext):
    """no_grad / enable_grad: ``with gg.no_grad():``, ``@gg.no_grad()`` or ``@gg.no_grad``."""

    _mode_value: bool

    def __new__(cls, fn: Callable[..., Any] | None = None) -> Any:
        if fn is None:
            return super().__new__(cls)
        return cls()(fn)  # the bare decorator: @gg.no_grad

    def __init__(self, fn: Callable[..., Any] | None = None) -> None:
        super().__init__(self._mode_value)


class no_grad(_FixedMode):  # noqa: N801 (PyTorch's spelling)
    """``with gg.no_grad():`` — nothing inside is recorded (inference, parameter updates).
    Also a decorator, with or without parentheses."""

    _mode_value = False


class enable_grad(_FixedMode):  # noqa: N801 (PyTorch's spelling)
    """``with gg.enable_grad():`` — record again inside a ``no_grad`` block. Also a
    decorator, with or without parentheses."""

    _mode_value = True


class set_grad_enabled(_GradModeContext):  # noqa: N801 (PyTorch's spelling)
    """Set recording on or off: as a call (``gg.set_grad_enabled(False)`` applies at once,
    like PyTorch's), as a context manager (restoring on exit the mode from before the call)
    or as a decorator (the call's own effect is undone; the function runs in the mode)."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._before = recording.enabled
        set_enabled(self._new)

    def __enter__(self) -> None:
        self._prev.append(self._before)
        set_enabled(self._new)

    def __call__(self, fn: F) -> F:
        set_enabled(self._before)
        return super().__call__(fn)


# Set while gg.detect_anomaly() is active (read once per backward pass by the engine).
anomaly_on = [False]

# The forward tails of the recording paths call ``watch`` (graphgrad.core.function) when
# ``watching[0]`` is set: while gg.detect_anomaly() is active, or while gg.compile traces
# a function (``tracer[0]`` is then its recorder). One flag, so the normal path reads one.
watching = [False]
tracer: list[object] = [None]


def refresh_watching() -> None:
    """Set ``watching`` from the anomaly mode and the tracer."""
    watching[0] = anomaly_on[0] or tracer[0] is not None
