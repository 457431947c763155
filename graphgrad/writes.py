"""In-place writes to arrays a recorded graph may have saved for its backward rules.

graphgrad keeps no per-op version counters (they would cost every op); instead every
graphgrad operation that writes into an existing array — an optimizer step, ``t -= x`` or
``t[i] = v`` on a leaf outside recording, ``load_state_dict``, ``nn.init`` — notes the
array and the current position in the op sequence. Ops and writes share one sequence, so
a node recorded before a write has a smaller sequence number. The engine inspects only
such nodes (one integer comparison per node otherwise): if one saved that array or a view
of it, its rule would compute with the new values, a silently wrong gradient, so backward
raises instead — where PyTorch's version counters raise too. Writing to ``t.data``
directly is not tracked (it is the documented way round the graph).
"""

from __future__ import annotations

import functools
import itertools
import weakref
from typing import Any

import numpy as np

# One sequence for op nodes (their ``_seq``) and array writes.
_sequence = itertools.count()

# id(owner array) -> (weak reference to it, sequence number of its latest write)
_writes: dict[int, tuple[weakref.ref[np.ndarray], int]] = {}


def _forget(k: int, _ref: Any) -> None:
    """The weakref callback: the written array is gone, so is its entry."""
    _writes.pop(k, None)


# The sequence number of the latest write: nodes recorded after it need no check.
_last_write = [-1]


def _owner(a: np.ndarray) -> np.ndarray:
    """The array whose memory ``a`` uses: the base of a view, else ``a`` itself (also when
    the memory is not an ndarray's, e.g. a buffer NumPy wraps)."""
    base = a.base
    return base if isinstance(base, np.ndarray) else a


def note_write(a: np.ndarray) -> None:
    """Record that ``a`` (a leaf's or parameter's array) was changed in place."""
    owner = _owner(a)
    k = id(owner)
    seq = next(_sequence)
    entry = _writes.get(k)
    if entry is not None and entry[0]() is owner:
        _writes[k] = (entry[0], seq)
    else:
        _writes[k] = (weakref.ref(owner, functools.partial(_forget, k)), seq)
    _last_write[0] = seq


def check_saved(node: Any) -> None:
    """Raise if ``node`` saved an array (or a view of one) written after it was recorded."""
    for s in getattr(node, "saved", ()):
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
