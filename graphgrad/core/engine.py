"""The backward engine: reverse traversal of the recorded graph.

Algorithm (DESIGN rules 3, 4, 6): the graph's vertices are op nodes (each stands for the
tensor it produced) and leaf tensors. Every node carries a sequence number from its
creation, and a node's inputs were all created before it. So visiting nodes in
*decreasing* sequence order is a reverse topological order, and no discovery pass or
dependency counting is needed: a max-heap holds the nodes whose output has received a
gradient contribution; when one is popped, every consumer that can contribute to it has a
larger sequence number and has already run. Contributions from several consumers are
summed (fan-out in the forward pass is a sum in the backward pass; weights shared across
time steps get Σ_t — that is BPTT). The popped node's hooks run, then its backward rule
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
import math
import weakref
from typing import Any, Sequence

import numpy as np

from graphgrad.core import hooks
from graphgrad.core.collector import CollectorPaused
from graphgrad.core.grad_mode import anomaly_on, recording, set_enabled, tracer
from graphgrad.core.in_place import check_saved, last_write
from graphgrad.core.sparse_grad import IndexedGrad, IndexedSum
from graphgrad.core.tensor import Tensor, _make
from graphgrad.errors import GraphReleasedError, ShapeError

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
    retain_graph = create_graph if retain_graph is None else retain_graph
    _run(roots, seeds, retain_graph, create_graph, None)


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
    capture: dict[int, Any] = {id(_vertex(t)): None for t in ins}
    retain_graph = create_graph if retain_graph is None else retain_graph
    vertices = [_vertex(t) for t in ins]
    _run(roots, seeds, retain_graph, create_graph, capture, _needed(roots, capture, vertices))
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = capture[id(_vertex(t))]
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
            g = np.empty(r.data.shape, dtype=r.data.dtype)  # np.ones is twice the cost
            g.fill(1)
            seeds.append(_make(g, None) if create_graph else g)
            continue
        if isinstance(g, Tensor):
            gshape = g.shape
        else:
            given = np.asarray(g)
            if given.dtype.kind not in "biuf":  # a complex one would lose its imaginary part
                raise TypeError(
                    f"{who}: grad has dtype {given.dtype}; it must hold real numbers (it is "
                    f"∂L/∂tensor for a tensor of dtype {r.data.dtype})"
                )
            g = given.astype(r.data.dtype, copy=False)
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


def _vertex(t: Tensor) -> Any:
    """A tensor's place in the graph: the node that produced it, or the leaf itself."""
    node = t._node
    return t if node is None else node


def _run(
    roots: list[Tensor],
    seeds: list[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: dict[int, Any] | None,
    needed: set[int] | None = None,
) -> None:
    """Propagate ``seeds`` from ``roots``. With ``capture`` (gg.grad), the gradients of the
    captured vertices are stored there instead of in ``.grad``, and only ops with an input
    in ``needed`` (on a path to a captured vertex, decided before the pass) run.

    The pass, step by step (the numbers mark them in the code):

    1. seed: each root's gradient becomes its vertex's pending sum;
    2. pop the newest node with a pending gradient (keys are ``-node._seq``, so the heap's
       smallest key is the newest node: every consumer of it has run); check its saved
       arrays if an in-place write came after it; assemble a sparse sum; run its hooks;
    3. gg.grad only: capture the node's gradient if asked for, and prune the inputs
       that lead to no captured vertex;
    4. run the rule (on Tensors under ``create_graph``, recorded);
    5. accumulate: each contribution is summed back to its input's shape and added to
       that input's pending sum (a leaf's in ``leaves``) — in place when the engine alone
       holds the sum (``owned``), else as a new array;
    6. release the node's saved arrays and inputs (unless ``retain_graph``);
    7. store: leaves' hooks see their total gradient, then ``.grad`` (or the capture)
       gets it; nothing is stored before every rule has run, so a failure leaves every
       ``.grad`` as it was.
    """
    if tracer[0] is not None:  # gg.compile could not replay a backward pass run inside
        tracer[0].side_effect("backward()" if capture is None else "gg.grad()")  # type: ignore[attr-defined]
    pending: dict[int, list[Any]] = {}  # -seq -> [node, sum of contributions so far, owned]
    leaves: dict[int, list[Any]] = {}  # id(leaf) -> [leaf, gradient sum, owned]
    heap: list[int] = []  # -seq of every node with a pending gradient
    for r, s in zip(roots, seeds):  # 1. seed
        _seed(_vertex(r), s, pending, leaves, heap)
    # retain_grad() values, stored with the leaves' gradients once everything has run
    retained: list[tuple[Tensor, Any]] | None = [] if capture is None else None
    push, pop = heapq.heappush, heapq.heappop
    stale = -last_write[0]  # keys above it: nodes recorded before the latest in-place write
    hooks_on = hooks.registered()  # no tensor has hooks: skip looking for them
    anomaly = anomaly_on[0]  # gg.detect_anomaly() is active
    prev_mode = recording.enabled
    set_enabled(create_graph)
    paused = CollectorPaused()
    paused.__enter__()
    node = None  # the node being run, for the failure path
    # what a released node's saved becomes: gg.grad runs only part of what lies behind
    released = () if capture is None else _PARTLY_RELEASED
    try:
        while heap:
            key = pop(heap)  # 2. the newest node
            node, g, own = pending.pop(key)
            if key > stale:
                check_saved(node)
            if type(g) is IndexedSum:  # only slices of this node's output received gradient
                g, own = g.dense(), True
            if hooks_on and id(node) in hooks.table:
                g = _run_hooks(hooks.table[id(node)], g, create_graph, retained)
                own = False
            inputs = node.inputs
            needs = node.needs_input_grad
            if capture is not None:  # 3. gg.grad: capture, prune
                own, needs = _capture(node, g, own, create_graph, capture, needed)  # type: ignore[arg-type]
                if needs is None:
                    continue
            if inputs is None:
                raise GraphReleasedError(_RELEASED)
            if create_graph:  # 4. the rule
                _contribute_tensors(
                    node, g, _backward_on_tensors(node, g), needs, pending, leaves, heap
                )
            else:
                rule = type(node).backward_into if own and not anomaly else None
                grads = (type(node).backward if rule is None else rule)(node, g)
                if type(grads) is not tuple:  # (inline: a call here costs ~1% of small graphs)
                    grads = tuple(grads) if type(grads) is list else (grads,)
                # zip below would silently drop a missing gradient (PyTorch's engine checks
                # this too). Rules of ops with trailing axes/indices return fewer.
                k = len(grads)
                if k != len(inputs) and (k > len(inputs) or True in node.needs_input_grad[k:]):
                    _check_arity(node, grads)
                if anomaly:
                    from graphgrad.core.anomaly import check_backward  # (only under detect_anomaly)

                    check_backward(node, g, grads)
                for inp, gi, need in zip(inputs, grads, needs):  # 5. accumulate
                    if gi is None or not need:
                        continue
                    if type(gi) is not _ndarray:
                        if type(gi) is IndexedGrad:
                            _contribute_indexed(inp, gi, pending, leaves, heap)
                            continue
                        gi = np.asarray(gi.data if isinstance(gi, Tensor) else gi)
                    if isinstance(inp, Tensor):  # a leaf
                        ki = id(inp)
                        entry = leaves.get(ki)
                        if gi.shape != inp.data.shape:
                            gi = reduce_to(gi, inp.data.shape, node, inp)
                            if entry is None:  # the sum is a new array, ours alone
                                leaves[ki] = [inp, gi, True]
                                continue
                        if entry is None:
                            own_gi = type(node).fresh_grads or exclusive(gi, g, node, grads)
                            leaves[ki] = [inp, gi, own_gi]
                        elif entry[2]:
                            entry[1] += gi
                        else:
                            entry[1], entry[2] = _sum(entry[1], gi), True
                        continue
                    if gi.shape != inp._shape:
                        gi = reduce_to(gi, inp._shape, node, inp)
                    key = -inp._seq
                    entry = pending.get(key)
                    if entry is None:
                        pending[key] = [inp, gi, False]
                        push(heap, key)
                    elif entry[2]:
                        entry[1] += gi
                    else:
                        prev = entry[1]
                        if type(prev) is IndexedSum:
                            prev = prev.dense()
                        if gi.dtype == prev.dtype and (
                            type(node).fresh_grads or exclusive(gi, g, node, grads)
                        ):
                            gi += prev  # no new buffer
                        else:
                            gi = _sum(prev, gi)
                        entry[1], entry[2] = gi, True
            if not retain_graph:  # 6. release
                node.inputs = None
                node.saved_tensors = released
    except BaseException:
        if not retain_graph:  # what the pass left unrun now lies behind released nodes
            _note_unrun([e[0] for e in pending.values()] + [node])
        raise
    finally:
        set_enabled(prev_mode)
        paused.__exit__()
    _store(leaves, retained, capture, hooks_on, create_graph)  # 7. store


def _capture(
    node: Any,
    g: Any,
    own: bool,
    create_graph: bool,
    capture: dict[int, Any],
    needed: set[int],
) -> tuple[bool, tuple[bool, ...] | None]:
    """gg.grad's step 3: store ``g`` if ``node`` is a captured vertex (the caller's then: no
    rule may write into it); return whether the engine still owns ``g``, and the inputs
    that lead to a captured vertex (None: none does, the node's rule need not run)."""
    k = id(node)
    if k in capture:
        capture[k] = g if (own or create_graph) else g.copy()
        own = False
    needs = tuple(n and id(x) in needed for x, n in zip(node.inputs or (), node.needs_input_grad))
    return own, (needs if any(needs) else None)


def _contribute_tensors(
    node: Any,
    g: Any,
    grads: tuple[Any, ...],
    needs: tuple[bool, ...],
    pending: dict[int, list[Any]],
    leaves: dict[int, list[Any]],
    heap: list[int],
) -> None:
    """Step 5 under ``create_graph``: the contributions are Tensors, summed by recorded
    additions (never in place: each sum is a value of the new graph)."""
    k = len(grads)
    if k != len(node.inputs) and (k > len(node.inputs) or True in node.needs_input_grad[k:]):
        _check_arity(node, grads)
    if anomaly_on[0]:
        from graphgrad.core.anomaly import check_backward  # (only under detect_anomaly)

        check_backward(node, g, grads)
    for inp, gi, need in zip(node.inputs, grads, needs):
        if gi is None or not need:
            continue
        if isinstance(inp, Tensor):
            if gi.shape != inp.data.shape:
                gi = reduce_to(gi, inp.data.shape, node, inp)
            entry = leaves.get(id(inp))
            if entry is None:
                leaves[id(inp)] = [inp, gi, False]
            else:
                entry[1] = _sum(entry[1], gi)
            continue
        if gi.shape != inp._shape:
            gi = reduce_to(gi, inp._shape, node, inp)
        key = -inp._seq
        entry = pending.get(key)
        if entry is None:
            pending[key] = [inp, gi, False]
            heapq.heappush(heap, key)
        else:
            entry[1] = entry[1] + gi


def _store(
    leaves: dict[int, list[Any]],
    retained: list[tuple[Tensor, Any]] | None,
    capture: dict[int, Any] | None,
    hooks_on: bool,
    create_graph: bool,
) -> None:
    """Step 7: leaves' hooks (each sees its leaf's total gradient once), then the gradients
    go to ``.grad`` and retained tensors (backward) or to ``capture`` (gg.grad)."""
    if hooks_on:
        for entry in leaves.values():
            if id(entry[0]) in hooks.table:
                entry[1] = _run_hooks(hooks.table[id(entry[0])], entry[1], create_graph, None)
                entry[2] = False
    if capture is not None:
        for leaf, g, own in leaves.values():
            k = id(leaf)
            if k in capture:
                capture[k] = g if (own or create_graph) else g.copy()
        return
    if retained:
        _store_retained(retained)
    for leaf, g, own in leaves.values():
        if own and leaf._grad is None and not create_graph and g.dtype is leaf.data.dtype:
            leaf._grad = g  # the usual case, without a call
        else:
            _accumulate_leaf(leaf, g, own, create_graph)


def _backward_on_tensors(node: Any, g: Tensor) -> tuple[Any, ...]:
    """Run a rule under create_graph: its saved arrays become Tensors at their place in the
    graph (the op's inputs or output, so second derivatives flow through them) or constants,
    and what it returns becomes Tensors."""
    saved = getattr(node, "saved_tensors", ())
    node.saved_tensors = tuple(_as_graph_value(s, node) for s in saved)
    try:
        grads = type(node).backward(node, g)
    finally:
        node.saved_tensors = saved
    if type(grads) is not tuple:
        grads = tuple(grads) if type(grads) is list else (grads,)
    return tuple(
        x if x is None or isinstance(x, Tensor) else _make(np.asarray(x), None) for x in grads
    )


def _check_arity(node: Any, grads: tuple[Any, ...]) -> None:
    """Raise for a rule that returned the wrong number of gradients. It may leave out
    trailing gradients only for arguments that need none (indices, axes, constants); a
    missing gradient for a tensor that requires grad, or a surplus one, is a bug in the
    rule, not a zero."""
    n, k = len(node.inputs), len(grads)
    raise TypeError(
        f"backward of {type(node).__name__} returned {k} gradient(s) but its forward took "
        f"{n} positional argument(s), and {'more' if k > n else 'a later one requires grad'}: "
        "return one gradient per argument, in order (None where ctx.needs_input_grad says "
        "none is needed)"
    )


def _as_graph_value(value: Any, node: Any) -> Any:
    # Identity by id() is sound here: a node's saved arrays and its inputs' outputs were all
    # alive together during its forward, so equal ids mean the same array.
    if type(value) is not _ndarray:
        return value
    vid = id(value)
    if vid == node._out_id:
        return _make(value, node)
    views = getattr(node, "views", None)  # a multi-output Function's saved output
    if views is not None and value.base is not None and id(value.base) == node._out_id:
        from graphgrad.core.function import _unpack  # (a multi-output Function: rare)

        for v, entry in zip(views, node.layout):
            if v is value:
                return _unpack(_make(value.base, node), entry)
    for x in node.inputs:
        if isinstance(x, Tensor):
            if x.data is value:
                return x
        elif x is not None and x._out_id == vid:
            return _make(value, x)
    return _make(value, None)


def exclusive(gi: Any, g: Any, node: Any, grads: tuple[Any, ...]) -> bool:
    """Whether a rule's result is referenced by nothing but the engine: not the upstream
    gradient, not a view, not a saved array, not returned for two inputs. (gg.compile
    decides it on its symbolic arrays, whose ``base`` is their example's.)"""
    if gi is g or gi.base is not None:
        return False
    for s in getattr(node, "saved_tensors", ()):
        if gi is s:
            return False
    n = 0
    for x in grads:
        if x is gi:
            n += 1
    return n == 1


def _needed(roots: list[Tensor], targets: dict[int, Any], vertices: list[Any]) -> set[int]:
    """Ids of the vertices whose gradient gg.grad must compute: the targets (``vertices``,
    keyed by id in ``targets``) and every vertex from which a target can be reached by
    following inputs (iterative post-order DFS). A released vertex on the way raises
    ``GraphReleasedError`` when a target could lie behind it (``_may_hide_a_target``)."""
    needed: set[int] = set()
    done: set[int] = set()
    stack: list[tuple[Any, bool]] = [(_vertex(r), False) for r in roots]
    while stack:
        v, expanded = stack.pop()
        k = id(v)
        if expanded:
            done.add(k)
            if k in targets or any(id(x) in needed for x in v.inputs):
                needed.add(k)
            continue
        if k in done:
            continue
        if isinstance(v, Tensor):
            done.add(k)
            if k in targets:
                needed.add(k)
            continue
        if v.inputs is None and _may_hide_a_target(v, vertices):
            raise GraphReleasedError(_RELEASED)
        if v.inputs is None:  # a released target: its own gradient is still wanted
            done.add(k)
            if k in targets:
                needed.add(k)
            continue
        stack.append((v, True))
        for x in v.inputs:
            if x is not None and id(x) not in done and (not isinstance(x, Tensor) or x._rg):
                stack.append((x, False))
    return needed


class _Released(tuple):  # type: ignore[type-arg]
    """The (empty) saved arrays of a node released by gg.grad: that pass ran only the part
    of the graph on paths to its inputs, so unreleased nodes may lie behind it."""

    __slots__ = ()


_PARTLY_RELEASED = _Released()
# Unreleased nodes behind the released part of a pass that failed midway.
_behind_failed: weakref.WeakSet[Any] = weakref.WeakSet()


def _note_unrun(frontier: list[Any]) -> None:
    """After a failed pass: every node at or behind its unrun frontier (cost: only then)."""
    stack = [v for v in frontier if v is not None and not isinstance(v, Tensor)]
    while stack:
        v = stack.pop()
        if v in _behind_failed or v.inputs is None:
            continue
        _behind_failed.add(v)
        stack.extend(x for x in v.inputs if x is not None and not isinstance(x, Tensor))


def _may_hide_a_target(released: Any, vertices: list[Any]) -> bool:
    """Whether a target of gg.grad may lie behind a released node (its inputs are gone, so
    the path cannot be followed: the gradient would silently lack that path's share).

    A backward() pass that released a node ran every node behind it that requires grad,
    releasing each; so a target that is an unreleased node cannot lie behind it (nor can
    the released node itself, when it is a target: its own gradient needs nothing behind
    it). Leaves, other released targets, nodes released by gg.grad (which runs only part
    of the graph) and nodes of a pass that failed midway give no such guarantee."""
    if released.saved_tensors is _PARTLY_RELEASED:
        return True
    return any(
        v is not released and (isinstance(v, Tensor) or v.inputs is None or v in _behind_failed)
        for v in vertices
    )


def _contribute_indexed(
    v: Any,
    ig: IndexedGrad,
    pending: dict[int, list[Any]],
    leaves: dict[int, list[Any]],
    heap: list[int],
) -> None:
    """Add a sparse contribution to a vertex's gradient. A node collects its contributions
    in an IndexedSum (assembled when the node runs); a leaf, or a node whose sum is dense
    already, gets it added in place into a buffer of its own."""
    if isinstance(v, Tensor):
        entry = leaves.get(id(v))
        if entry is None:
            leaves[id(v)] = [v, ig.dense(), True]
            return
    else:
        key = -v._seq
        entry = pending.get(key)
        if entry is None:
            pending[key] = [v, IndexedSum(ig), False]
            heapq.heappush(heap, key)
            return
        parts = entry[1]
        if type(parts) is IndexedSum:
            parts.add(ig)
            if parts.size > math.prod(parts.shape):
                entry[1], entry[2] = parts.dense(), True  # bound the memory the parts hold
            return
    if not entry[2]:
        entry[1], entry[2] = entry[1].copy(), True
    ig.add_to(entry[1])


def _seed(
    v: Any,
    g: Any,
    pending: dict[int, list[Any]],
    leaves: dict[int, list[Any]],
    heap: list[int],
) -> None:
    """Add a root's seed gradient (roots may repeat, or be leaves)."""
    if isinstance(v, Tensor):
        entry = leaves.get(id(v))
        if entry is None:
            leaves[id(v)] = [v, g, False]
        else:
            entry[1], entry[2] = _sum(entry[1], g), not isinstance(g, Tensor)
        return
    key = -v._seq
    entry = pending.get(key)
    if entry is None:
        pending[key] = [v, g, False]
        heapq.heappush(heap, key)
    else:
        entry[1], entry[2] = _sum(entry[1], g), not isinstance(g, Tensor)


def _sum(a: Any, b: Any) -> Any:
    """a + b as a new ndarray (NumPy returns a scalar for 0-d operands) or Tensor."""
    s = a + b
    return s if type(s) is _ndarray or isinstance(s, Tensor) else np.asarray(s)


def _accumulate_leaf(t: Tensor, g: Any, own: bool, create_graph: bool) -> None:
    cur = t._grad
    if create_graph or isinstance(cur, Tensor):
        t._grad = g if cur is None else _sum(cur, g)
        return
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
        own = True
    if cur is None:
        t._grad = g if own else g.copy()
    else:
        cur += g


def _store_retained(retained: list[tuple[Tensor, Any]]) -> None:
    for t, g in retained:
        cur = getattr(t, "_grad", None)
        t._grad = g if cur is None else _sum(cur, g)


def _run_hooks(
    vertex_hooks: dict[Any, Any],
    g: Any,
    create_graph: bool,
    retained: list[tuple[Tensor, Any]] | None,
) -> Any:
    """Call a vertex's hooks in registration order; ``retain_grad``'s entry (a weak reference
    to the tensor) adds the tensor and its gradient to ``retained`` (in ``backward``; None
    in ``gg.grad``), stored once the whole pass has succeeded."""
    for key, hook in list(vertex_hooks.items()):
        if key is hooks.RETAIN_GRAD:
            t = hook()
            if retained is not None and t is not None:
                retained.append((t, g))
            continue
        r = hook(g)
        if r is not None:
            if create_graph:
                r = r if isinstance(r, Tensor) else _make(np.asarray(r), None)
            else:
                r = np.asarray(r.data if isinstance(r, Tensor) else r)
            if r.shape != g.shape:
                raise ShapeError(
                    f"a hook on a tensor of shape {g.shape} returned a gradient of shape "
                    f"{r.shape}; a hook must return None or an array of shape {g.shape}"
                )
            g = r
    return g


def reduce_to(g: Any, shape: tuple[int, ...], node: Any, inp: Any) -> Any:
    """Sum a broadcast gradient back to the input's shape (the one place broadcasting is
    undone). Returns a new array (or Tensor). gg.compile runs it on its symbolic arrays,
    which write these same NumPy calls into the generated code (``node`` is None there)."""
    gshape = g.shape
    lead = len(gshape) - len(shape)
    if lead == 1 and shape and gshape[1:] == shape and type(g) is not Tensor:
        return np.add.reduce(g, 0)  # a bias over a batch: half the cost of the general path
    if lead >= 0:
        axes = list(range(lead))
        for j, s in enumerate(shape):
            n = gshape[lead + j]
            if s != n:
                if s != 1:
                    break
                axes.append(lead + j)
        else:
            if isinstance(g, Tensor):
                return g.sum(axis=tuple(axes), keepdims=True).reshape(shape)
            return np.add.reduce(g, axis=tuple(axes), keepdims=True).reshape(shape)
    if node is None:
        raise ShapeError(f"a gradient of shape {gshape} cannot be summed back to shape {shape}")
    i = next(j for j, x in enumerate(node.inputs) if x is inp)
    raise ShapeError(
        f"backward of {type(node).__name__} returned a gradient of shape {gshape} for its "
        f"input {i} of shape {shape}, and it cannot be summed back to that shape"
    )
