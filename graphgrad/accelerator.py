"""PyTorch's ``torch.accelerator`` queries, answered for graphgrad: it computes with NumPy
on the CPU, so no accelerator is ever available (``is_available()`` is False, as
PyTorch's on a machine without one, and programs that test it take their CPU path)."""

from __future__ import annotations


def is_available() -> bool:
    """False: graphgrad has no accelerator backend."""
    return False


def device_count() -> int:
    """0 accelerators."""
    return 0


def current_accelerator(check_available: bool = False) -> None:
    """None, as PyTorch's when no accelerator is present."""
    return None
