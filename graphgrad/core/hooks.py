"""Hooks on tensors: ``register_hook``, ``retain_grad`` and the table the engine reads.

A hook belongs to a vertex of the graph: a leaf Tensor, or the node that produced a
non-leaf one (the graph holds nodes, not intermediate tensors). Hooks live in one table
keyed by ``id(vertex)`` rather than in a slot of every vertex, so the engine looks a vertex
up with one dict get, and only while some hook exists (``registered()``); reading a slot
that most vertices never set raised and caught an AttributeError per vertex, ~6% of a small
graph's backward once any hook had ever been registered. An entry goes when its last hook
is removed or its vertex is freed (``weakref.finalize`` runs before the id can be reused).
"""

from __future__ import annotations

import weakref
from typing import Any

# key and marker of retain_grad() in a vertex's hook dict (its value: a weak reference to
# the tensor whose gradient is kept)
RETAIN_GRAD = "retain_grad"

table: dict[int, dict[Any, Any]] = {}  # id(vertex) -> {handle id or RETAIN_GRAD: hook}
_finalizers: dict[int, weakref.finalize[Any, Any]] = {}


def registered() -> bool:
    """Whether any tensor has a hook now (the engine skips looking otherwise)."""
    return bool(table)


def hooks_of(vertex: Any) -> dict[Any, Any]:
    """The hook dict of a leaf tensor or of the node that produced a non-leaf tensor,
    created on first use."""
    k = id(vertex)
    hooks = table.get(k)
    if hooks is None:
        hooks = table[k] = {}
        _finalizers[k] = weakref.finalize(vertex, _drop, k)
    return hooks


def remove(vertex: Any, key: Any) -> None:
    """Remove one hook of ``vertex``; its table entry goes with the last one."""
    k = id(vertex)
    hooks = table.get(k)
    if hooks is not None:
        hooks.pop(key, None)
        if not hooks:
            _finalizers[k].detach()
            _drop(k)


def retained_by(vertex: Any) -> Any:
    """The tensor whose gradient ``retain_grad()`` keeps at ``vertex``, or None."""
    hooks = table.get(id(vertex))
    ref = None if hooks is None else hooks.get(RETAIN_GRAD)
    return None if ref is None else ref()


def _drop(k: int) -> None:
    table.pop(k, None)
    _finalizers.pop(k, None)


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    __slots__ = ("_ref", "id")
    _next_id = 0

    def __init__(self, vertex: Any) -> None:
        self._ref = weakref.ref(vertex)
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id

    def remove(self) -> None:
        vertex = self._ref()
        if vertex is not None:
            remove(vertex, self.id)
