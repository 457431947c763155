"""In-place changes: ``t += x``, ``t[i] = v``, ``fill_``, and the guard on the arrays a
recorded graph saved for its backward rules.

In-place operators change the Tensor object itself, as in NumPy and PyTorch: every
reference to it sees the new value.

* Nothing recorded (under ``gg.no_grad()``, or no operand requires grad): on a leaf the
  ufunc writes into ``t.data`` itself, as an optimizer's step does (so do it after
  ``backward()``: a graph recorded earlier that saved this array refuses to backpropagate,
  see the guard below). A non-leaf's array is written as a new copy instead, because its
  own op has usually saved it (tanh, sigmoid and exp keep their output): the change is not
  differentiated, and that graph's gradients stay right.
* Recorded: the result is a new array and a new node that the Tensor takes over (its
  ``grad_fn`` changes; ``retain_grad()`` moves with it, hooks stay with the old value).
  The graph recorded so far keeps the old array, so no saved value is ever overwritten. A
  leaf that requires grad refuses, as in PyTorch: its value is what is differentiated.
  Index assignment inside a graph is refused (build the value with ops).

The guard. graphgrad keeps no per-op version counters (they would cost every op); instead
every graphgrad operation that writes into an existing array — an optimizer step,
``t -= x`` or ``t[i] = v`` on a leaf outside recording, ``load_state_dict``, ``nn.init`` —
calls ``note_write`` with the array, which records the current tick of the node clock
(``graphgrad.core.function``): ops and writes share the clock, so a node recorded before a
write has a smaller sequence number. The engine inspects only such nodes (one integer
comparison per node otherwise): if one saved that array or a view of it, its rule would
compute with the new values, a silently wrong gradient, so backward raises instead —
where PyTorch's version counters raise too. Writing to ``t.data`` directly is not tracked
(it is the documented way round the graph).
"""

from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from graphgrad.core import hooks
from graphgrad.core.grad_mode import recording, threads_off, tracer
from graphgrad.errors import ShapeError

if TYPE_CHECKING:
    from graphgrad.core.function import Function

# id(owner array) -> (weak reference to it, sequence number of its latest write)
_writes: dict[int, tuple[weakref.ref[np.ndarray], int]] = {}


def _forget(k: int, _ref: Any) -> None:
    """The weakref callback: the written array is gone, so is its entry."""
    _writes.pop(k, None)


# The sequence number of the latest write: nodes recorded after it need no check.
last_write = [-1]


def _owner(a: np.ndarray) -> np.ndarray:
    """The array whose memory ``a`` uses: the base of a view, else ``a`` itself (also when
    the memory is not an ndarray's, e.g. a buffer NumPy wraps)."""
    base = a.base
    return base if isinstance(base, np.ndarray) else a


def note_write(a: np.ndarray) -> None:
    """Record that ``a`` (a leaf's or parameter's array) was changed in place."""
    if tracer[0] is not None:  # gg.compile could not replay the write
        tracer[0].side_effect("an in-place write into a parameter's or leaf's array")  # type: ignore[attr-defined]
    owner = _owner(a)
    k = id(owner)
    seq = next(sequence)
    entry = _writes.get(k)
    if entry is not None and entry[0]() is owner:
        _writes[k] = (entry[0], seq)
    else:
        _writes[k] = (weakref.ref(owner, functools.partial(_forget, k)), seq)
    last_write[0] = seq


def check_saved(node: Any) -> None:
    """Raise if ``node`` saved an array (or a view of one) written after it was recorded."""
    for s in getattr(node, "saved_tensors", ()):
        if type(s) is not np.ndarray:
            continue
        owner = _owner(s)
        entry = _writes.get(id(owner))
        if entry is not None and entry[0]() is owner and entry[1] > node._seq:
            raise RuntimeError(
                f"backward through {type(node).__name__}: an array it saved for its rule "
                f"(shape {s.shape}) was modified in place after the op was recorded (an "
                "optimizer step, load_state_dict, or `t -= x` / `t[i] = v` under no_grad), "
                "so the gradient would be computed from the new values. Call backward() "
                "before changing the parameters, or run the forward pass again after."
            )


# ------------------------------------------------------------------ in-place semantics
def writable(t: Tensor) -> np.ndarray:
    """The array an untracked in-place change writes into: a leaf's own (shared, as with
    ``from_numpy``), a copy of a non-leaf's (its op may have saved it for backward)."""
    if t._node is None:
        return t.data
    if tracer[0] is not None:  # gg.compile: a traced value changed by no op it records
        tracer[0].changed_outside_ops(t)  # type: ignore[attr-defined]
    return t.data.copy()


def records(t: Tensor, other: Any) -> bool:
    """Whether an operation on ``t`` and ``other`` would be recorded in the graph."""
    rg = t._rg or (isinstance(other, Tensor) and other._rg)
    return rg and (not threads_off or recording.enabled)


def apply(t: Tensor, other: Any, op: type[Function], ufunc: Any, symbol: str) -> Tensor:
    """``t <symbol> other`` changing ``t`` itself (the module docstring says how)."""
    if type(other) is list or type(other) is tuple:
        _refuse_graph_inside(other, symbol)
    if not records(t, other):
        y = _data(other)
        target = writable(t)
        try:
            ufunc(target, y, out=target)
        except ValueError as exc:
            if not target.flags.writeable:
                raise ValueError(f"{symbol}: this tensor's array is read-only") from exc
            raise ShapeError(
                f"{symbol}: the result for operands of shapes {t.shape} and {np.shape(y)} "
                f"cannot be stored in a tensor of shape {t.shape}"
            ) from exc
        if target is t.data:
            note_write(target)
        t.data = target
        return t
    refuse_leaf(t, symbol, f"`t = t {symbol[:-1]} x` for a new tensor")
    out = apply2(op, t, other)
    if out.data.shape != t.data.shape:
        raise ShapeError(
            f"{symbol}: the result for operands of shapes {t.shape} and {np.shape(other)} has "
            f"shape {out.shape}, which cannot be stored in a tensor of shape {t.shape}"
        )
    return rebind(t, out)


def refuse_leaf(t: Tensor, symbol: str, instead: str) -> None:
    if t._node is None and t._rg:
        raise RuntimeError(
            f"{symbol} on a leaf tensor that requires grad (shape {t.shape}): its value is what "
            f"gradients are taken with respect to. Update it under `with gg.no_grad():` (the "
            f"usual parameter update: `with gg.no_grad(): w -= lr * w.grad`), or write "
            f"{instead}"
        )


def rebind(t: Tensor, out: Tensor) -> Tensor:
    """Make ``t`` the recorded result ``out`` of an in-place change (same shape)."""
    if out.data.dtype != t.data.dtype:
        out = out.astype(t.data.dtype)
    old = t._node
    if tracer[0] is not None:  # gg.compile: later ops on t read the recorded result
        tracer[0].rebound(t, out)  # type: ignore[attr-defined]
    t.data, t._node, t._rg = out.data, out._node, True
    if old is not None and hooks.retained_by(old) is t:
        hooks.remove(old, hooks.RETAIN_GRAD)  # retain_grad() follows the tensor to its value
        t.retain_grad()
    return t


def set_item(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value`` (``Tensor.__setitem__``)."""
    if type(value) is list or type(value) is tuple:
        _refuse_graph_inside(value, "index assignment")
    if records(t, value):
        raise TypeError(
            "graphgrad tensors cannot be assigned to by index inside a graph; build the "
            "value with ops (gg.concat, gg.stack, a mask product), or assign under "
            "gg.no_grad() (or to t.data[...]) for a change no gradient flows through"
        )
    target = writable(t)
    try:
        target[_index_data(index)] = _data(value)
    except ValueError as exc:
        raise ShapeError(f"t[index] = value, t of shape {t.shape}: {exc}") from exc
    if target is t.data:
        note_write(target)
    t.data = target


def fill(t: Tensor, value: Any) -> Tensor:
    """``t.fill_(value)``."""
    if isinstance(value, Tensor) and value.data.size != 1:
        raise ShapeError(f"fill_: value must have one element, got shape {value.shape}")
    if not records(t, value):
        target = writable(t)
        target[...] = _data(value)
        if target is t.data:
            note_write(target)
        t.data = target
        return t
    refuse_leaf(t, "fill_", "`gg.full(t.shape, value)` for a new tensor")
    filler = value.reshape(()) if isinstance(value, Tensor) else value
    return rebind(t, t.masked_fill(np.ones(t.data.shape, dtype=bool), filler))


# The Tensor and the recording path form the import cycle of the Tensor and its ops (see
# docs/design.md): imported below every definition, so any of them may be imported first.
from graphgrad.core.function import apply2, sequence  # noqa: E402
from graphgrad.core.tensor import (  # noqa: E402
    Tensor,
    _data,
    _index_data,
    _refuse_graph_inside,
)
