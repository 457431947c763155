"""The backward engine: reverse traversal of the recorded graph.

Algorithm (DESIGN rules 3, 4, 6): every recorded node carries a sequence number from its
creation, and a node's inputs were all created before it. So visiting nodes in
*decreasing* sequence order is a reverse topological order, and no discovery pass or
dependency counting is needed: a max-heap holds the tensors that have received a gradient
contribution; when one is popped, every consumer that can contribute to it has a larger
sequence number and has already run. Contributions from several consumers are summed
(fan-out in the forward pass is a sum in the backward pass; weights shared across time
steps get Σ_t — that is BPTT). The popped tensor's hooks run, then its op's backward rule
sends one contribution to each input that requires grad. Leaves are accumulated into
``.grad`` at the end, so each leaf's hooks see its total gradient once.

No recursion anywhere, so a 20,000-step unrolled RNN backpropagates, and the work is
linear in the size of the graph (the heap holds only the current frontier). Unless
``retain_graph``, each op's saved arrays and input references are dropped as soon as its
rule has run, so memory is returned during the backward pass itself.

Gradients are plain ndarrays (the fast path); under ``create_graph=True`` they are Tensors
and the rules' operations are recorded, giving higher-order derivatives.
"""

from __future__ import annotations

import heapq
from typing import Any, Sequence

import numpy as np

from graphgrad.errors import GraphReleasedError, ShapeError
from graphgrad.grad_mode import _mode
from graphgrad.indexed_grad import IndexedGrad
from graphgrad.tensor import RETAIN_GRAD, Tensor, _make

_ndarray = np.ndarray

_RELEASED = (
    "Trying to backward through a part of the graph a second time, but its saved arrays "
    "were freed after the first backward. Pass retain_graph=True to the first backward() "
    "(or gg.grad) if you need to differentiate through the same graph more than once, or "
    "recompute the forward pass."
)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate the gradients of ``tensors`` w.r.t. every leaf into the leaves' ``.grad``.

    ``grad_tensors`` gives ∂L/∂tensor for each root (ndarray/Tensor of the root's shape);
    it may be omitted for one-element roots.
    """
    roots, seeds = _roots_and_seeds(tensors, grad_tensors, create_graph, "backward")
    retain = create_graph if retain_graph is None else retain_graph
    _run(roots, seeds, retain, create_graph, None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return ``(∂outputs/∂inputs[0], ...)`` weighted by ``grad_outputs`` as Tensors, without
    touching any ``.grad``.

    With ``create_graph=True`` the returned tensors are part of a new graph and can be
    differentiated again (Hessian-vector products, ``gradgradcheck``). An input that the
    outputs do not depend on raises, unless ``allow_unused=True`` (then its entry is None).
    """
    roots, seeds = _roots_and_seeds(outputs, grad_outputs, create_graph, "grad")
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"gg.grad: inputs[{i}] is a {type(t).__name__}, not a Tensor")
        if not t._rg:
            raise RuntimeError(f"gg.grad: inputs[{i}] (shape {t.shape}) does not require grad")
    capture: dict[int, Any] = {id(t): None for t in ins}
    retain = create_graph if retain_graph is None else retain_graph
    _run(roots, seeds, retain, create_graph, capture, _needed(roots, capture))
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = capture[id(t)]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"gg.grad: inputs[{i}] (shape {t.shape}) was not used to compute the "
                    "outputs; pass allow_unused=True to get None for it"
                )
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else _make(g, None))
    return tuple(result)


def _roots_and_seeds(
    tensors: Any, grads: Any, create_graph: bool, who: str
) -> tuple[list[Tensor], list[Any]]:
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grads is None:
        grads = [None] * len(roots)
    elif isinstance(grads, (Tensor, _ndarray)) or np.isscalar(grads):
        grads = [grads]
    else:
        grads = list(grads)
    if len(grads) != len(roots):
        raise ValueError(f"{who}: got {len(roots)} tensors but {len(grads)} gradients")
    seeds = []
    for r, g in zip(roots, grads):
        if not isinstance(r, Tensor):
            raise TypeError(f"{who}: expected Tensors, got {type(r).__name__}")
        if not r._rg:
            raise RuntimeError(
                f"{who}: this tensor (shape {r.shape}) does not require grad and has no "
                "recorded graph: set requires_grad=True on the leaves it is computed from, "
                "and do not compute it under gg.no_grad()"
            )
        if g is None:
            if r.data.size != 1:
                raise RuntimeError(
                    f"{who}: the gradient can be implied only for a one-element tensor, but "
                    f"this one has shape {r.shape}. Pass grad= (an array of shape {r.shape}, "
                    "∂L/∂tensor), or reduce it to a scalar first, e.g. y.sum().backward()"
                )
            g = np.ones_like(r.data)
            seeds.append(_make(g, None) if create_graph else g)
            continue
        if isinstance(g, Tensor):
            gshape = g.shape
        else:
            g = np.asarray(g, dtype=r.data.dtype)
            gshape = g.shape
        if gshape != r.data.shape:
            raise ValueError(
                f"{who}: grad has shape {gshape} but the tensor it is for has shape "
                f"{r.data.shape}; they must be equal"
            )
        if create_graph:
            seeds.append(g if isinstance(g, Tensor) else _make(g, None))
        else:
            seeds.append(g.data if isinstance(g, Tensor) else g)
    return roots, seeds


def _run(
    roots: list[Tensor],
    seeds: list[Any],
    retain: bool,
    graph_mode: bool,
    capture: dict[int, Any] | None,
    needed: set[int] | None = None,
) -> None:
    """Propagate ``seeds`` from ``roots``. With ``capture`` (gg.grad), the gradients of the
    captured tensors are stored there instead of in ``.grad``, and only ops with an input
    in ``needed`` (on a path to a captured tensor) run."""
    pending: dict[int, Any] = {}  # id(non-leaf) -> sum of the contributions so far
    owned: set[int] = set()  # pending sums that only the engine references: safe to +=
    leaves: dict[int, list[Any]] = {}  # id(leaf) -> [leaf, gradient sum, owned]
    heap: list[tuple[int, Tensor]] = []  # (-seq, tensor): newest node first
    for r, s in zip(roots, seeds):
        _contribute(r, s, pending, owned, leaves, heap)

    push, pop = heapq.heappush, heapq.heappop
    prev_mode = _mode.enabled
    _mode.enabled = graph_mode
    try:
        while heap:
            t = pop(heap)[1]
            k = id(t)
            g = pending.pop(k)
            own = k in owned
            if own:
                owned.discard(k)
            node = t._node
            if t._hooks is not None:
                g = _run_hooks(t, g, graph_mode, capture is None)
                own = False
            if capture is not None and k in capture:
                capture[k] = g if (own or graph_mode) else g.copy()
            inputs = node.inputs
            if needed is not None and not any(id(x) in needed for x in inputs or ()):
                continue  # nothing behind this op is asked for
            if inputs is None:
                raise GraphReleasedError(_RELEASED)
            if graph_mode:
                node._out = t
                try:
                    grads = type(node).backward(node, g)
                finally:
                    node._out = None
            else:
                grads = type(node).backward(node, g)
            if type(grads) is not tuple:
                grads = (grads,)
            for i, gi in enumerate(grads):
                if gi is None:
                    continue
                inp = inputs[i]
                if not isinstance(inp, Tensor) or not inp._rg:
                    continue
                if needed is not None and id(inp) not in needed:
                    continue
                if graph_mode:
                    if not isinstance(gi, Tensor):
                        gi = _make(np.asarray(gi), None)
                elif type(gi) is not _ndarray:
                    if type(gi) is IndexedGrad:
                        _contribute_indexed(inp, gi, pending, owned, leaves, heap)
                        continue
                    gi = np.asarray(gi.data if isinstance(gi, Tensor) else gi)
                if gi.shape != inp.data.shape:
                    gi = _reduce_to(gi, inp.data.shape, node, i)
                ki = id(inp)
                inode = inp._node
                if inode is None:
                    entry = leaves.get(ki)
                    if entry is None:
                        # A rule's result is ours alone unless it is the upstream grad,
                        # a view, a saved array, or returned for two inputs.
                        own = not graph_mode and gi is not g and gi.base is None
                        if own:
                            for x in node.saved:
                                if x is gi:
                                    own = False
                            for j in range(i):
                                if grads[j] is gi:
                                    own = False
                        leaves[ki] = [inp, gi, own]
                    elif entry[2]:
                        entry[1] += gi
                    else:
                        entry[1] = _sum(entry[1], gi)
                        entry[2] = not graph_mode
                    continue
                prev = pending.get(ki)
                if prev is None:
                    pending[ki] = gi
                    push(heap, (-inode.seq, inp))
                elif ki in owned:
                    prev += gi
                else:
                    pending[ki] = _sum(prev, gi)
                    if not graph_mode:
                        owned.add(ki)
            if not retain:
                node.inputs = None
                node.saved = None
    finally:
        _mode.enabled = prev_mode

    # Leaves last: each leaf's hooks see its total gradient once, and a failure above
    # (e.g. a released graph) leaves every .grad untouched.
    for leaf, g, own in leaves.values():
        if leaf._hooks is not None:
            g = _run_hooks(leaf, g, graph_mode, False)
            own = False
        if capture is not None:
            k = id(leaf)
            if k in capture:
                capture[k] = g if (own or graph_mode) else g.copy()
        else:
            _accumulate_leaf(leaf, g, own, graph_mode)


def _needed(roots: list[Tensor], targets: dict[int, Any]) -> set[int]:
    """Ids of the tensors whose gradient gg.grad must compute: the targets and every tensor
    from which a target can be reached by following inputs (iterative post-order DFS)."""
    needed: set[int] = set()
    done: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in roots]
    while stack:
        t, expanded = stack.pop()
        k = id(t)
        node = t._node
        if expanded:
            done.add(k)
            if k in targets or any(id(x) in needed for x in node.inputs):
                needed.add(k)
            continue
        if k in done:
            continue
        if node is None or node.inputs is None:  # a leaf, or a released part of the graph
            done.add(k)
            if k in targets:
                needed.add(k)
            continue
        stack.append((t, True))
        for x in node.inputs:
            if isinstance(x, Tensor) and x._rg and id(x) not in done:
                stack.append((x, False))
    return needed


def _contribute_indexed(
    t: Tensor,
    ig: IndexedGrad,
    pending: dict[int, Any],
    owned: set[int],
    leaves: dict[int, list[Any]],
    heap: list[tuple[int, Tensor]],
) -> None:
    """Add a sparse contribution into the tensor's gradient buffer (made ours first)."""
    k = id(t)
    if t._node is None:
        entry = leaves.get(k)
        if entry is None:
            leaves[k] = [t, ig.dense(), True]
            return
        if not entry[2]:
            entry[1], entry[2] = entry[1].copy(), True
        ig.add_to(entry[1])
        return
    prev = pending.get(k)
    if prev is None:
        pending[k] = ig.dense()
        owned.add(k)
        heapq.heappush(heap, (-t._node.seq, t))
        return
    if k not in owned:
        prev = pending[k] = prev.copy()
        owned.add(k)
    ig.add_to(prev)


def _contribute(
    t: Tensor,
    g: Any,
    pending: dict[int, Any],
    owned: set[int],
    leaves: dict[int, list[Any]],
    heap: list[tuple[int, Tensor]],
) -> None:
    """Add a root's seed gradient (roots may repeat, or be leaves)."""
    k = id(t)
    if t._node is None:
        entry = leaves.get(k)
        if entry is None:
            leaves[k] = [t, g, False]
        else:
            entry[1], entry[2] = _sum(entry[1], g), not isinstance(g, Tensor)
    elif k in pending:
        pending[k] = _sum(pending[k], g)
    else:
        pending[k] = g
        heapq.heappush(heap, (-t._node.seq, t))


def _sum(a: Any, b: Any) -> Any:
    """a + b as a new ndarray (NumPy returns a scalar for 0-d operands) or Tensor."""
    s = a + b
    return s if type(s) is _ndarray or isinstance(s, Tensor) else np.asarray(s)


def _accumulate_leaf(t: Tensor, g: Any, own: bool, graph_mode: bool) -> None:
    cur = t._grad
    if graph_mode or isinstance(cur, Tensor):
        t._grad = g if cur is None else _sum(cur, g)
        return
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
        own = True
    if cur is None:
        t._grad = g if own else g.copy()
    else:
        cur += g


def _run_hooks(t: Tensor, g: Any, graph_mode: bool, retain: bool) -> Any:
    """Call the tensor's hooks in registration order; ``retain_grad``'s marker stores the
    gradient in ``.grad`` (only in ``backward``, not ``gg.grad``)."""
    for hook in list(t._hooks.values()):  # type: ignore[union-attr]
        if hook is RETAIN_GRAD:
            if retain:
                t._grad = g if t._grad is None else _sum(t._grad, g)
            continue
        r = hook(g)
        if r is not None:
            if graph_mode:
                r = r if isinstance(r, Tensor) else _make(np.asarray(r), None)
            else:
                r = np.asarray(r.data if isinstance(r, Tensor) else r)
            if r.shape != g.shape:
                raise ShapeError(
                    f"a hook on a tensor of shape {t.shape} returned a gradient of shape "
                    f"{r.shape}; a hook must return None or an array of shape {g.shape}"
                )
            g = r
    return g


def _reduce_to(g: Any, shape: tuple[int, ...], node: Any, i: int) -> Any:
    """Sum a broadcast gradient back to ``shape`` (the one place broadcasting is undone)."""
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead >= 0 and all(s == 1 or s == gshape[lead + j] for j, s in enumerate(shape)):
        axes = tuple(range(lead)) + tuple(
            lead + j for j, s in enumerate(shape) if s == 1 and gshape[lead + j] != 1
        )
        return g.sum(axis=axes, keepdims=True).reshape(shape)
    raise ShapeError(
        f"backward of {type(node).__name__} returned a gradient of shape {gshape} for its "
        f"input {i} of shape {shape}, and it cannot be summed back to that shape"
    )
