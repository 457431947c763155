"""A compiled program's entry: one generated Python function that does, for the usual
call, what ``Compiled.__call__`` does in general — check the guard key (with which
arguments share an array), check that no closure variable, global, module setting or
reached container's keys or length the trace depends on has changed, read the free
tensors at their places, run the generated forward and make the call's one node —
with every shape, dtype, flag and place written into the code as a constant instead of
looked up and compared in loops (at the XOR MLP's size that general path costs as much
as a third of the generated forward).

The entry only ever says "these arguments and places are exactly the traced ones" or
``MISS``: a guard that fails, a place that cannot be read, anything it was not built to
check. On ``MISS`` the general path runs and decides (trace again, run eagerly, raise),
so the entry can never take a call the general path would not; a check written more
strictly here (``is`` where the key compares with ``==``) costs a call the general path,
never a wrong result. It is built only for calls whose arguments are all Tensors or
ndarrays, whose result has at most one output that requires grad, and that read no
argument outside ops (``program._unread``); other programs always take the general path.

For the XOR MLP the entry reads::

    def enter(args):
        if len(args) != 2:
            return MISS
        a0, a1 = args
        if type(a0) is not ndarray or a0.shape != S0 or a0.dtype is not D0:
            return MISS
        ...
        try:
            if K0.cell_contents is not R0:
                return MISS
            f0 = K0.cell_contents['W1']
            ...
        except Exception:
            return MISS
        if type(f0) is not T0 or f0._rg is not True or f0.data.shape != S2 ...:
            return MISS
        outs, saved = forward(a0, a1, f0.data, ...)
        ...
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from graphgrad import runtime
from graphgrad.compiler import trace
from graphgrad.core.function import sequence
from graphgrad.core.grad_mode import recording, threads_off
from graphgrad.core.tensor import Tensor, wrap
from graphgrad.nn.module import assignments

if TYPE_CHECKING:
    from graphgrad.compiler.program import _Program, _Reach

MISS = object()


class _Source:
    """Lines of the entry and the constants they name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self._ids: dict[int, str] = {}

    def const(self, obj: Any, prefix: str = "C") -> str:
        name = self._ids.get(id(obj))
        if name is None:
            name = self._ids[id(obj)] = f"{prefix}{len(self.consts)}"
            self.consts[name] = obj
        return name

    def add(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line)


def _place(src: _Source, read: Callable[[], Any]) -> str | None:
    """An expression that reads what ``read()`` returns (the readers of
    ``program._reachable``), or None for a reader it does not know. It may raise where
    ``read`` returns None or a marker (an empty cell, a missing key): the entry then
    misses, and the general path reads the place itself."""
    from graphgrad.compiler import program as P

    if type(read) is not functools.partial:
        return None
    f, a = read.func, read.args
    if f is P._const:
        return src.const(a[0], "O")
    if f is P._cell:
        return f"{src.const(a[0], 'K')}.cell_contents"
    if f is P._default:
        return f"{src.const(a[0], 'F')}.__defaults__[{a[1]}]"
    if f is getattr and len(a) == 2 and type(a[1]) is str and a[1].isidentifier():
        return f"{src.const(a[0], 'O')}.{a[1]}"
    if f is P._get:
        inner = _place(src, a[0])
        ok = all(type(x) is str and x.isidentifier() for x in a[1])
        return None if inner is None or not ok else f"{inner}.{'.'.join(a[1])}"
    if f is P._item:
        inner = _place(src, a[0])
        return None if inner is None else f"{inner}[{src.const(a[1], 'I')}]"
    owner = getattr(f, "__self__", None)
    if type(owner) is dict and getattr(f, "__name__", "") == "get" and len(a) == 2:
        return f"{src.const(owner, 'G')}[{src.const(a[0], 'I')}]"  # a module's global
    return None


def _tensor_guard(src: _Source, name: str, t: Tensor, shape: Any, dtype: Any) -> None:
    src.add(
        f"if type({name}) is not {src.const(type(t), 'T')} or {name}._rg is not "
        f"{bool(t._rg)} or {name}.data.shape != {src.const(shape, 'S')} or "
        f"{name}.data.dtype is not {src.const(dtype, 'D')}:"
    )
    src.add("return MISS", 2)


def build(prog: _Program, reach: _Reach, args: tuple[Any, ...]) -> Callable[..., Any] | None:
    """The entry of ``prog`` for calls like ``args`` (positional only), as the guards stand
    in ``reach``; None where the general path must run every call."""
    graded = [j for j, r in enumerate(prog.grad_outputs) if r]
    if prog.unread or len(graded) > 1:
        return None
    if any(type(a) is not np.ndarray and not isinstance(a, Tensor) for a in args):
        return None
    if any(type(m.training) is not bool for m in reach.modules):
        return None
    if trace.aliasing(args, {}, reach.arrays) or _returns_an_input(prog.outputs):
        return None
    src = _Source()
    src.add("def enter(args):", 0)
    src.add(f"if len(args) != {len(args)}:")
    src.add("return MISS", 2)
    names = [f"a{k}" for k in range(len(args))]
    if args:
        src.add(f"{', '.join(names)}{',' if len(args) == 1 else ''} = args")
    for name, a in zip(names, args):
        if type(a) is np.ndarray:
            src.add(
                f"if type({name}) is not ndarray or {name}.shape != "
                f"{src.const(a.shape, 'S')} or {name}.dtype is not {src.const(a.dtype, 'D')}:"
            )
            src.add("return MISS", 2)
        else:
            _tensor_guard(src, name, a, a.data.shape, a.data.dtype)
    # no two arguments hold one array, and none holds a reached tensor's (trace.aliasing)
    arrays = [f"{n}.data" if isinstance(a, Tensor) else n for n, a in zip(names, args)]
    if len(args) > 1:
        src.add(f"if len({{{', '.join(f'id({d})' for d in arrays)}}}) != {len(args)}:")
        src.add("return MISS", 2)
    if args:
        reached = src.const(reach.arrays.keys(), "A")  # (an id hit: the general path decides)
        src.add(f"if not {reached}.isdisjoint(({''.join(f'id({d}), ' for d in arrays)})):")
        src.add("return MISS", 2)
    # the rest of the guard key: grad mode, the default dtype, the modules' modes
    src.add("if not threads_off or _rec.enabled:" if not recording.enabled else
            "if threads_off and not _rec.enabled:")  # fmt: skip
    src.add("return MISS", 2)
    src.add(f"if _runtime._default_dtype is not {src.const(runtime._default_dtype, 'D')}:")
    src.add("return MISS", 2)
    for m in reach.modules:
        src.add(f"if {src.const(m, 'M')}.training is not {m.training}:")
        src.add("return MISS", 2)
    src.add(f"if _assign[0] != {src.const(reach, 'R')}.assignments:")
    src.add("return MISS", 2)
    # the places: closure variables and globals as traced, free tensors read where they are
    src.add("try:")
    for read, obj in reach.roots:
        where = _place(src, read)
        if where is None:
            return None
        src.add(f"if {where} is not {src.const(obj, 'O')}:", 2)
        src.add("return MISS", 3)
    for read, (kind, then) in reach.layouts:  # the reached containers' keys and lengths
        where = _place(src, read)
        if where is None:
            return None
        if kind is dict:
            src.add(f"if type({where}) is not dict or tuple({where}) != {src.const(then, 'Y')}:", 2)
        elif kind in (list, tuple):
            src.add(f"if type({where}) is not {kind.__name__} or len({where}) != {then}:", 2)
        else:
            return None
        src.add("return MISS", 3)
    frees = []
    for k, v in enumerate(prog.free):
        f = f"f{k}"
        frees.append(f)
        if v.source is None:
            src.add(f"{f} = {src.const(v, 'V')}.tensor", 2)
            continue
        places = [_place(src, reach.readers[label]) for label in v.source]
        if None in places:
            return None
        src.add(f"{f} = {places[0]}", 2)
        for other in places[1:]:  # a tied weight: every place holds the same tensor
            src.add(f"if {other} is not {f}:", 2)
            src.add("return MISS", 3)
    if src.lines[-1] == "    try:":
        src.lines.pop()  # nothing to read
    else:
        src.add("except Exception:")
        src.add("return MISS", 2)
    for f, v in zip(frees, prog.free):
        src.add(
            f"if not isinstance({f}, Tensor) or {f}._rg is not {bool(v.requires_grad)} or "
            f"{f}.data.shape != {src.const(v.shape, 'S')} or {f}.data.dtype is not "
            f"{src.const(v.dtype, 'D')}:"
        )
        src.add("return MISS", 2)
    # the operands, in the forward's order, as Function.apply would pass them
    operands: list[tuple[str, bool, bool]] = []  # (name, is a Tensor, requires grad)
    it_free = iter(zip(frees, prog.free))
    for i in prog.gen.inputs:
        v = prog.values[i]
        if v.kind == "free":
            f, fv = next(it_free)
            operands.append((f, True, bool(fv.requires_grad)))
        else:
            if len(v.path) != 2 or v.path[0] != 0:
                return None
            a = args[v.path[1]]
            is_t = isinstance(a, Tensor)
            operands.append((names[v.path[1]], is_t, is_t and bool(a._rg)))
    datas = ", ".join(f"{n}.data" if is_t else n for n, is_t, _ in operands)
    src.add(f"outs, saved = forward({datas})")
    record = bool(graded) and recording.enabled and any(r for _, _, r in operands)
    if graded and not record:
        return None  # (cannot happen: an output requires grad only if some operand does)
    results = []
    for j in range(len(prog.grad_outputs)):
        if record and j == graded[0]:
            # the node, as Function.apply makes it (tests/test_compile.py compares the two)
            needs = tuple(r for _, _, r in operands)
            verts = ", ".join(
                f"{n} if {n}._node is None else {n}._node" if is_t else "None"
                for n, is_t, _ in operands
            )
            src.add("ctx = _new(Op)")
            src.add(f"ctx.needs_input_grad = {needs!r}")
            src.add("ctx.saved_tensors = saved")
            src.add(f"ctx.inputs = ({verts}{',' if len(operands) == 1 else ''})")
            src.add("ctx._seq = next(_sequence)")
            src.add(f"o = outs[{j}]")
            src.add("ctx._shape = o.shape")
            src.add("ctx._out_id = id(o)")
            src.add(f"r{j} = wrap(o, ctx)")
        else:
            src.add(f"r{j} = wrap(outs[{j}], None)")
        results.append(f"r{j}")
    src.add(f"return {_structure(src, prog.outputs, dict(zip(prog.gen.outputs, results)))}")
    source = "\n".join(src.lines) + "\n"
    scope: dict[str, Any] = {
        "MISS": MISS,
        "ndarray": np.ndarray,
        "Tensor": Tensor,
        "threads_off": threads_off,
        "_rec": recording,
        "_runtime": runtime,
        "_assign": assignments,
        "_new": object.__new__,
        "wrap": wrap,
        "_sequence": sequence,
        "Op": prog.op,
        "forward": prog.gen.forward,
        **src.consts,
    }
    exec(compile(source, f"<gg.compile entry: {prog.op.__name__}>", "exec"), scope)
    enter: Callable[..., Any] = scope["enter"]
    enter.source = source  # type: ignore[attr-defined]
    return enter


def _returns_an_input(x: Any) -> bool:
    if type(x) is trace.Same:
        return True
    if type(x) in (tuple, list):
        return any(_returns_an_input(v) for v in x)
    if type(x) is dict:
        return any(_returns_an_input(v) for v in x.values())
    return False


def _structure(src: _Source, x: Any, made: dict[int, str]) -> str:
    """The expression that rebuilds the function's result (``program._rebuild``)."""
    if type(x) is trace.Ref:
        return made[x.index]
    t = type(x)
    if t is tuple:
        parts = [_structure(src, v, made) for v in x]
        return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
    if t is list:
        return f"[{', '.join(_structure(src, v, made) for v in x)}]"
    if t is dict:
        items = (f"{src.const(k, 'I')}: {_structure(src, v, made)}" for k, v in x.items())
        return "{" + ", ".join(items) + "}"
    return src.const(x, "O")
