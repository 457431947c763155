"""``gg.compile(fn)``: the callable that traces ``fn``, checks the trace, and then runs the
generated code (see docs/compile.md).

Per guard key — the arguments' structure, shapes, dtypes and requires-grad flags, Python
constants among the arguments, whether grad mode is on, and the ``training`` flag of every
module the function reaches — the first call runs ``fn`` eagerly under the tracer, the
second runs it eagerly once more and compares the two traces (a constant that changed, a
branch that went the other way: ``CompileError``), then generates the code and checks
that the generated forward reproduces the second call's results bitwise. Later calls run
the generated code: one node whose backward is the generated backward, with the free
inputs' (parameters') current ``.data`` read at every call.
"""

from __future__ import annotations

import functools
import operator
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from graphgrad.compiler import codegen, trace
from graphgrad.core.function import Function
from graphgrad.core.grad_mode import recording
from graphgrad.core.tensor import Tensor
from graphgrad.errors import CompileError, CompileWarning


@dataclass
class _Entry:
    trace: trace.Trace
    program: _Program | None = None
    traces: int = 1
    eager: str | None = None  # why this signature runs uncompiled (fullgraph=False)


@dataclass
class _Program:
    gen: codegen.Generated
    op: type[Function]
    values: list[trace.Value]
    outputs: Any
    grad_outputs: list[bool]  # per flattened result: whether it requires grad
    free: list[trace.Value] = field(default_factory=list)
    compile_seconds: float = 0.0
    extras: list[Any] = field(default_factory=list)
    # arguments no op reads, with their traced values: guarded by value (see _unread)
    unread: list[tuple[trace.Value, np.ndarray]] = field(default_factory=list)


class Compiled:
    """What ``gg.compile(fn)`` returns: call it as ``fn``.

    Attributes:
        source: the generated forward and backward of the latest trace (Python source).
        compile_seconds: the time the latest code generation took.
        stats: per guard key, how the function was run (traces, ops, fallback ops, or why
            it runs uncompiled).
    """

    def __init__(self, fn: Callable[..., Any], fullgraph: bool = False) -> None:
        if isinstance(fn, Compiled):
            fn = fn.fn
        self.fn: Callable[..., Any] = fn
        self.fullgraph = fullgraph
        self._cache: dict[Any, _Entry] = {}
        self._reach = _reachable(fn)
        self._latest: _Program | None = None
        functools.update_wrapper(self, fn)

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        reach = self._reach
        for read, obj in reach.roots:  # a closure variable or global rebound: trace again
            if read() is not obj:
                self.retrace()
                reach = self._reach
                break
        key = (
            trace.signature(args) if kwargs else _flat_signature(args),
            trace.signature(kwargs) if kwargs else None,
            recording.enabled,
            tuple([m.training for m in reach.modules]) if reach.modules else (),
        )
        entry = self._cache.get(key)
        if entry is None:
            self._reach = reach = _reachable(self.fn)  # the places, as they are now
            t, result = trace.run(self.fn, args, kwargs, reach.names, reach.sources, self.fullgraph)
            self._cache[key] = entry = _Entry(t)
            if t.broken:
                self._stay_eager(entry, t.broken)
            return result
        if entry.eager is not None:
            return self.fn(*args, **kwargs)
        prog = entry.program
        if prog is None:
            return self._verify_and_build(entry, args, kwargs)
        for v, snap in prog.unread:
            x = _at((args, kwargs), v.path)
            if not codegen._same_array(x.data if isinstance(x, Tensor) else x, snap):
                why = (
                    f"gg.compile({_name(self.fn)}): argument {v.hint!r} is used by no op of "
                    "the trace, and its values changed since it was traced: the function "
                    "may compute with it in Python (x.data, np.asarray, a conversion), "
                    "which compiled code would keep fixed"
                )
                if self.fullgraph:
                    raise CompileError(why)
                self._stay_eager(entry, why)
                return self.fn(*args, **kwargs)
        free = []
        for v in prog.free:  # read where the function reads it; guard its shape, dtype, flag
            cur = v.tensor if v.source is None else _read_source(reach, v.source)
            if (
                cur is None
                or cur.data.shape != v.example.shape
                or cur.data.dtype != v.example.dtype
                or cur._rg != v.requires_grad
            ):
                del self._cache[key]
                return self(*args, **kwargs)
            free.append(cur)
        return _run(prog, args, kwargs, free)

    def _verify_and_build(self, entry: _Entry, args: Any, kwargs: Any) -> Any:
        self._reach = reach = _reachable(self.fn)
        t2, result = trace.run(self.fn, args, kwargs, reach.names, reach.sources, self.fullgraph)
        why = t2.broken
        if why is None:
            diff = trace.compare(entry.trace, t2)
            if diff:
                why = (
                    f"gg.compile({_name(self.fn)}): two calls with the same shapes traced "
                    f"different computations — {diff}. See docs/compile.md (what is fixed at "
                    "trace time)"
                )
        if why is None:
            try:
                start = time.perf_counter()
                prog = _build(t2, _name(self.fn))
                prog.compile_seconds = time.perf_counter() - start
                _check_forward(prog, t2, args, kwargs)
            except CompileError as exc:
                if self.fullgraph:
                    raise
                why = str(exc)
        if why is not None:
            if self.fullgraph:
                raise CompileError(why)
            self._stay_eager(entry, why)
            return result
        prog.unread = _unread(t2, args, kwargs)
        entry.trace, entry.program, entry.traces = t2, prog, 2
        self._latest = prog
        return result

    def _stay_eager(self, entry: _Entry, why: str) -> None:
        entry.eager = why
        warnings.warn(
            f"{why}\n{_name(self.fn)} runs uncompiled (eagerly) for these argument shapes; "
            "gg.compile(fn, fullgraph=True) raises instead",
            CompileWarning,
            stacklevel=4,
        )

    def retrace(self) -> None:
        """Forget every trace: the next call traces again (after a change the guards cannot
        see: a Python value read from an object's attribute or from a mutable container,
        a tensor the function reaches only through such an object)."""
        self._cache.clear()
        self._latest = None
        self._reach = _reachable(self.fn)

    # ------------------------------------------------------------------ inspecting
    @property
    def source(self) -> str:
        """The generated forward and backward of the latest compiled trace."""
        if self._latest is None:
            raise RuntimeError(
                "no code generated yet: a compiled function generates its code on its second "
                "call with the same shapes (the first traces, the second checks the trace)"
            )
        return self._latest.gen.source

    @property
    def compile_seconds(self) -> float:
        return 0.0 if self._latest is None else self._latest.compile_seconds

    @property
    def stats(self) -> list[dict[str, Any]]:
        return [
            {
                "traces": e.traces,
                "ops": None if e.program is None else e.program.gen.ops,
                "fallback": None if e.program is None else e.program.gen.fallback,
                "eager": e.eager,
            }
            for e in self._cache.values()
        ]

    def __repr__(self) -> str:
        return f"<gg.compile of {_name(self.fn)}>"


def compile(fn: Callable[..., Any] | None = None, *, fullgraph: bool = False) -> Any:
    """Compile ``fn`` — a forward pass or a training step's loss — into generated NumPy
    code for its forward and backward passes (see ``Compiled`` and docs/compile.md).

    Works as a decorator too (``@gg.compile`` or ``@gg.compile(fullgraph=True)``). The
    result is called as ``fn``; its outputs' ``grad_fn`` is one node whose backward is the
    generated backward pass, so ``loss.backward()``, optimizers, gradient clipping, leaf
    hooks and ``gg.grad`` work around it as before. Python control flow and numbers are
    fixed at trace time; tensors (arguments, parameters, closure tensors) are read at
    every call.

    What compiled code could not repeat — a traced value read as a Python value
    (``.item()``, ``if t > 0``), a hook on an intermediate, ``backward()`` or an optimizer
    step inside ``fn``, two calls that trace different computations — makes ``fn`` run
    eagerly for those argument shapes, with a ``CompileWarning`` naming the cause (as
    ``torch.compile`` falls back to eager at a graph break); ``fullgraph=True`` raises
    ``CompileError`` instead.
    """
    if fn is None:
        return functools.partial(compile, fullgraph=fullgraph)
    if not callable(fn):
        raise TypeError(f"gg.compile: expected a function or a Module, got {type(fn).__name__}")
    return Compiled(fn, fullgraph=fullgraph)


def _flat_signature(args: tuple[Any, ...]) -> Any:
    """trace.signature of positional arguments, without its recursion for the usual case of
    tensors and arrays (the guard runs on every call)."""
    out: list[Any] = []
    for x in args:
        t = type(x)
        if t is Tensor:
            d = x.data
            out.append(("T", d.shape, d.dtype.str, x._rg))
        elif t is np.ndarray:
            out.append(("A", x.shape, x.dtype.str))
        else:
            out.append(trace.signature(x))
    return ("tuple", tuple(out))


# ---------------------------------------------------------------------- building
def _build(t: trace.Trace, name: str) -> _Program:
    gen = codegen.generate(t, _identifier(name), set())
    grad_outputs = [t.values[i].requires_grad for i in gen.outputs]
    extras: list[Any] = []
    op = _op_class(name, gen, grad_outputs, extras)
    free = [t.values[i] for i in gen.inputs if t.values[i].kind == "free"]
    return _Program(gen, op, t.values, t.outputs, grad_outputs, free, extras=extras)


def _unread(t: trace.Trace, args: Any, kwargs: Any) -> list[tuple[trace.Value, np.ndarray]]:
    """The array arguments that no op of the trace reads, with a copy of their values.
    The function received them yet computed nothing from them with ops: either it ignores
    them or it read their values in Python, which the generated code would not repeat. A
    later call with other values there runs eagerly rather than trust the fixed trace."""
    used: set[int] = set()

    def mark(x: Any) -> None:
        if type(x) is trace.Ref:
            used.add(x.index)
        elif type(x) in (tuple, list):
            for v in x:
                mark(v)
        elif type(x) is dict:
            for v in x.values():
                mark(v)

    for r in t.records:
        mark(r.operands)
        mark(r.kwargs)
    mark(t.outputs)
    out = []
    for v in t.values:
        if v.kind == "input" and v.index not in used:
            x = _at((args, kwargs), v.path)
            out.append((v, np.array(x.data if isinstance(x, Tensor) else x, copy=True)))
    return out


def _op_class(
    name: str, gen: codegen.Generated, grad_outputs: list[bool], extras: list[Any]
) -> type[Function]:
    """The Function whose node stands for the whole compiled call."""
    forward_code, backward_code = gen.forward, gen.backward
    n_out = len(grad_outputs)
    graded = [j for j, r in enumerate(grad_outputs) if r]
    single = len(graded) == 1

    def forward(ctx: Any, *xs: Any) -> Any:
        outs, saved = forward_code(*xs)
        ctx.saved_tensors = saved
        extras[:] = [outs]
        if single:
            return outs[graded[0]]
        return tuple(outs[j] for j in graded) if graded else outs[0]

    def backward(ctx: Any, *gs: Any) -> Any:
        if any(isinstance(g, Tensor) for g in gs):
            raise CompileError(
                f"backward(create_graph=True) through compiled {name}: its generated "
                "backward is NumPy code, which records nothing; use the uncompiled function "
                "for higher-order gradients"
            )
        seeds: list[Any] = [None] * n_out
        for j, g in zip(graded, gs):
            seeds[j] = g
        return backward_code(ctx.saved_tensors, *seeds)

    cls = type(
        f"Compiled_{_identifier(name)}",
        (Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )
    return cls


def _run(prog: _Program, args: tuple[Any, ...], kwargs: dict[str, Any], free: list[Tensor]) -> Any:
    operands = []
    it_free = iter(free)
    for i in prog.gen.inputs:
        v = prog.values[i]
        operands.append(next(it_free) if v.kind == "free" else _at((args, kwargs), v.path))
    res = prog.op.apply(*operands)
    outs = prog.extras[0]
    graded = [j for j, r in enumerate(prog.grad_outputs) if r]
    flat: list[Any] = []
    pos = 0
    multi = isinstance(res, tuple)
    for j, arr in enumerate(outs):
        if prog.grad_outputs[j] and res is not None:
            flat.append(res[pos] if multi else res)
            pos += 1
        else:
            flat.append(_plain(arr))
    if not graded:  # nothing required grad: the op's one output is the first result
        flat[0] = res
    it = iter(flat)
    return _rebuild(prog.outputs, it)


def _plain(arr: np.ndarray) -> Tensor:
    t = Tensor.__new__(Tensor)
    t.data = arr
    t._grad = None
    t._rg = False
    t._node = None
    return t


def _rebuild(x: Any, it: Any) -> Any:
    if type(x) is trace.Ref:
        return next(it)
    t = type(x)
    if t in (tuple, list):
        return t(_rebuild(v, it) for v in x)
    if t is dict:
        return {k: _rebuild(v, it) for k, v in x.items()}
    return x


def _at(tree: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def _check_forward(prog: _Program, t: trace.Trace, args: Any, kwargs: Any) -> None:
    """The generated forward on the second call's inputs must give that call's results."""
    xs = []
    for i in prog.gen.inputs:
        v = prog.values[i]
        x = v.tensor if v.kind == "free" else _at((args, kwargs), v.path)
        xs.append(x.data if isinstance(x, Tensor) else x)
    outs, _ = prog.gen.forward(*xs)
    for j, i in enumerate(prog.gen.outputs):
        want = t.values[i].example
        if not codegen._same_array(outs[j], want):
            raise CompileError(
                f"gg.compile: the generated forward's result {j} differs from the eager one "
                "(a bug in graphgrad's code generation; please report it with the source "
                f"below)\n{prog.gen.source}"
            )


# ---------------------------------------------------------------------- names, modules
def _name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _identifier(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out and not out[0].isdigit() else f"f{out}"


@dataclass
class _Reach:
    """What a function reaches outside its arguments (see ``_reachable``)."""

    roots: list[tuple[Callable[[], Any], Any]]  # closure cells and globals: (read, value)
    modules: list[Any]  # every module reached (their training flags join the guard key)
    names: dict[int, str]  # id(tensor) -> a readable name for the generated code
    sources: dict[int, tuple[str, ...]]  # id(tensor) -> the labels it is reached under
    readers: dict[str, Callable[[], Any]]  # label -> read the tensor there now


_MISSING = object()


def _read_source(reach: _Reach, labels: tuple[str, ...]) -> Any:
    """The tensor now at a free input's place; None if it is gone or tied places (a weight
    shared by two modules) no longer agree."""
    t = reach.readers[labels[0]]()
    for other in labels[1:]:
        if reach.readers[other]() is not t:
            return None
    return t if isinstance(t, Tensor) else None


def _reachable(fn: Any) -> _Reach:
    """The objects ``fn`` reaches outside its arguments: itself (a Module), its ``self``,
    its closure cells and the globals its code names; through modules (every submodule's
    parameters and tensor attributes) and one level into dicts, lists and tuples, the
    tensors it may read, each with the place it is read from at every call."""
    from graphgrad.nn.module import Module

    found: list[tuple[str, Callable[[], Any], Any, bool]] = []  # name, read, value, is a root
    if isinstance(fn, Module):
        found.append(("", lambda: fn, fn, False))
    target = getattr(fn, "__func__", fn)
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        found.append(("self", lambda: owner, owner, False))
    code = getattr(target, "__code__", None)
    if code is None and isinstance(fn, Module):
        code = type(fn).forward.__code__
    if code is not None:
        cells = getattr(target, "__closure__", None) or ()
        for name, cell in zip(code.co_freevars, cells):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            found.append((name, functools.partial(_cell, cell), value, True))
        glb = getattr(target, "__globals__", {})
        for name in code.co_names:
            if name in glb:
                found.append((name, functools.partial(glb.get, name, _MISSING), glb[name], True))
    reach = _Reach([], [], {}, {}, {})
    modules: dict[int, Any] = {}

    def tensor(label: str, hint: str, read: Callable[[], Any], t: Tensor) -> None:
        reach.names.setdefault(id(t), hint)
        reach.sources[id(t)] = (*reach.sources.get(id(t), ()), label)
        reach.readers[label] = read

    def visit(name: str, read: Callable[[], Any], obj: Any, depth: int) -> None:
        if isinstance(obj, Module):
            for path, m in obj.named_modules():
                modules.setdefault(id(m), m)
                for attr, value in vars(m).items():
                    if isinstance(value, Tensor):
                        dotted = f"{path}.{attr}" if path else attr
                        hint = f"{name}_{dotted}" if name and name != "self" else dotted
                        get = operator.attrgetter(dotted)
                        tensor(
                            f"{name}.{dotted}" if name else dotted,
                            hint.replace(".", "_"),
                            functools.partial(_get, read, get),
                            value,
                        )
        elif isinstance(obj, Tensor):
            tensor(name, name, read, obj)
        elif depth == 0 and type(obj) in (dict, list, tuple):
            items = obj.items() if type(obj) is dict else enumerate(obj)
            for k, v in items:
                sub = functools.partial(_item, read, k)
                visit(str(k) if type(obj) is dict else f"{name}{k}", sub, v, 1)

    for name, read, obj, root in found:
        if root:
            reach.roots.append((read, obj))
        visit(name, read, obj, 0)
    reach.modules = list(modules.values())
    return reach


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


def _get(read: Callable[[], Any], get: Callable[[Any], Any]) -> Any:
    try:
        return get(read())
    except (AttributeError, TypeError):
        return None


def _item(read: Callable[[], Any], k: Any) -> Any:
    try:
        return read()[k]
    except (LookupError, TypeError):
        return None
