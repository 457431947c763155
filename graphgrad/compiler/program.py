"""``gg.compile(fn)``: the callable that traces ``fn``, checks the trace, and then runs the
generated code (see docs/compile.md).

Per guard key — the arguments' structure, shapes, dtypes and requires-grad flags, Python
constants among the arguments, whether grad mode is on, the default dtype, and the
``training`` flag of every module the function reaches or calls — the first call runs
``fn`` eagerly under the tracer, the second runs it eagerly once more and compares the two
traces (a constant that changed, a branch that went the other way: the function runs
eagerly, or ``CompileError`` with ``fullgraph=True``), then generates the code and checks
that the generated forward reproduces the second call's results bitwise. Later calls run
the generated code: one node whose backward is the generated backward, with the tensors
the function reads outside its arguments (parameters, closure tensors) read at their
places at every call.
"""

from __future__ import annotations

import functools
import time
import types
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from graphgrad import runtime
from graphgrad.compiler import codegen, trace
from graphgrad.compiler import entry as entry_mod
from graphgrad.core.collector import CollectorPaused
from graphgrad.core.creation import from_numpy
from graphgrad.core.function import Function
from graphgrad.core.grad_mode import anomaly_on, recording, tracer
from graphgrad.core.tensor import Tensor
from graphgrad.errors import CompileError, CompileWarning
from graphgrad.nn.module import assignments as module_assignments


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
    # the generated entry for the usual call (graphgrad.compiler.entry), and the guards'
    # places it was built against
    enter: Callable[..., Any] | None = None
    enter_reach: Any = None


class Compiled:
    """What ``gg.compile(fn)`` returns: call it as ``fn``.

    Attributes:
        source: the generated forward and backward of the latest trace (Python source).
        compile_seconds: the time the latest code generation took.
        stats: per guard key, how the function was run (traces, ops, fallback ops, or why
            it runs uncompiled).
        cache_limit: how many guard keys it traces (8); calls with a new one after that
            run eagerly, with one CompileWarning.
    """

    #: how many argument signatures (guard keys) one compiled function traces; calls with
    #: a new one after that run eagerly, with one CompileWarning (as torch.compile's
    #: ``cache_size_limit``, 8)
    cache_limit = 8

    def __init__(self, fn: Callable[..., Any], fullgraph: bool = False) -> None:
        if isinstance(fn, Compiled):
            fn = fn.fn
        self.fn: Callable[..., Any] = fn
        self.fullgraph = fullgraph
        self._cache: dict[Any, _Entry] = {}
        self._used: dict[int, Any] = {}  # modules called while tracing, reachable or not
        self._reach = _reachable(fn, self._used)
        self._hot: Callable[..., Any] | None = None  # the entry of the program last run
        self._latest: _Program | None = None
        self._bound: weakref.WeakKeyDictionary[Any, Compiled] = weakref.WeakKeyDictionary()
        self._over_limit_warned = False
        functools.update_wrapper(self, fn)

    # ------------------------------------------------------------------ calling
    def _key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        modules = self._reach.modules
        return (
            trace.signature(args) if kwargs else _flat_signature(args),
            trace.signature(kwargs) if kwargs else None,
            recording.enabled,
            runtime._default_dtype,  # the dtype of tensors made inside from Python values
            tuple([m.training for m in modules]) if modules else (),
            trace.aliasing(args, kwargs, self._reach.arrays),
        )

    def _traced(self, t: trace.Trace) -> None:
        """After a trace: the modules it called join the guard (their training flags and
        settings), and the places are read again as they are now."""
        for m in t.modules:
            self._used.setdefault(id(m), m)
        self._reach = _reachable(self.fn, self._used)
        self._hot = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if tracer[0] is not None or anomaly_on[0]:
            # inside another compiled function's trace: inlined; under gg.detect_anomaly:
            # eager, so that every op's output is checked and the culprit named
            return self.fn(*args, **kwargs)
        hot = self._hot
        if hot is not None and not kwargs:
            res = hot(args)
            if res is not entry_mod.MISS:
                return res
        reach = self._reach
        for read, obj in reach.roots:  # a closure variable or global rebound: trace again
            if read() is not obj:
                self.retrace()
                reach = self._reach
                break
        if reach.layouts and _layouts_changed(reach):  # an entry added to a list or dict
            self.retrace()
            reach = self._reach
        if reach.assignments != module_assignments[0]:  # some module's attribute was set
            if _settings(reach.modules) != reach.settings:
                self.retrace()  # a Python value the traces fixed (a module's p, eps, ...)
                reach = self._reach
            reach.assignments = module_assignments[0]
        key = self._key(args, kwargs)
        entry = self._cache.get(key)
        if entry is None:
            if len(self._cache) >= self.cache_limit:
                return self._over_limit(key, args, kwargs)
            self._reach = reach = _reachable(self.fn, self._used)  # the places, as they are now
            self._hot = None
            t, result = trace.run(self.fn, args, kwargs, reach.names, reach.sources, self.fullgraph)
            self._traced(t)
            key = self._key(args, kwargs)  # (with the places as the trace left them)
            if key in self._cache:  # the key before named no entry only as places stood then
                _release(t)
                return result
            self._cache[key] = entry = _Entry(t)
            if t.broken:
                self._stay_eager(entry, t.broken)
            else:
                _release(t, keep_for_compare=True)  # a shape called once holds no arrays
            return result
        if entry.eager is not None:
            return self.fn(*args, **kwargs)
        prog = entry.program
        if prog is None:
            return self._verify_and_build(entry, args, kwargs)
        for v, snap in prog.unread:
            if not codegen._same_array(_at((args, kwargs), v.path), snap):
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
                or cur.data.shape != v.shape
                or cur.data.dtype != v.dtype
                or cur._rg != v.requires_grad
            ):
                del self._cache[key]
                self._hot = None
                return self(*args, **kwargs)
            free.append(cur)
        if not kwargs:
            if prog.enter_reach is not reach:
                prog.enter, prog.enter_reach = entry_mod.build(prog, reach, args), reach
            self._hot = prog.enter
        return _run(prog, args, kwargs, free)

    def _verify_and_build(self, entry: _Entry, args: Any, kwargs: Any) -> Any:
        self._reach = reach = _reachable(self.fn, self._used)
        self._hot = None
        key = self._key(args, kwargs)
        # the check: this time the function gets its array arguments as tensors, so that a
        # value it computes from one in NumPy (a constant of the first trace) is recorded
        t2, result = trace.run(
            self.fn, args, kwargs, reach.names, reach.sources, self.fullgraph, wrap_arrays=True
        )
        self._traced(t2)
        if self._key(args, kwargs) != key:  # it called modules the first trace did not
            del self._cache[key]
            key = self._key(args, kwargs)
            if key in self._cache:  # (that key has an entry of its own: keep it)
                _release(t2)
                return result
            self._cache[key] = entry
        why = t2.broken
        if why is not None and t2.wrapped:
            why += (
                " (this call gave the function its array arguments as tensors, to check "
                "that it computes nothing from them in NumPy: pass them as tensors, or read "
                "them outside the compiled function)"
            )
        if why is None:
            diff = trace.compare(entry.trace, t2)
            if diff:
                why = (
                    f"gg.compile({_name(self.fn)}): two calls with the same shapes traced "
                    f"different computations — {diff}"
                )
                if t2.wrapped:
                    why += (
                        ", or the function computes with an array argument in NumPy (x + 1, "
                        "np.exp(x), x > 0, a loop over its rows), a value compiled code would "
                        "keep fixed: pass that argument as a tensor (gg.tensor(x)), and those "
                        "ops are recorded"
                    )
                why += ". See docs/compile.md (what is fixed at trace time)"
        if why is None:
            _own_constants(entry.trace, t2)
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
            if t2.wrapped:  # this call's result as the function computes it on the arrays
                for g, state in t2.rng_states:  # (its draws once more)
                    g.bit_generator.state = state
                result = self.fn(*args, **kwargs)
            return result
        prog.unread = _unread(t2, args, kwargs)
        _release(t2)
        entry.trace, entry.program, entry.traces = t2, prog, 2
        self._latest = prog
        return result

    def _over_limit(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A new signature once ``cache_limit`` are traced: eager (fullgraph: raise)."""
        varying = _varying_numbers(self.fn, key, list(self._cache), len(args))
        why = (
            f"gg.compile({_name(self.fn)}): {len(self._cache)} argument signatures traced "
            f"(Compiled.cache_limit){varying}. Calls with a new one run uncompiled. A Python "
            "number passed as an argument is a constant of its trace, so one that changes at "
            "every call makes a trace at every call: pass it as an array or a tensor, a value "
            "the generated code reads. fast.retrace() forgets the traces"
        )
        if self.fullgraph:
            raise CompileError(why)
        if not self._over_limit_warned:
            self._over_limit_warned = True
            warnings.warn(why, CompileWarning, stacklevel=3)
        return self.fn(*args, **kwargs)

    def _stay_eager(self, entry: _Entry, why: str) -> None:
        entry.eager = why
        self._hot = None
        _release(entry.trace)
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
        self._over_limit_warned = False
        self._hot = None
        self._latest = None
        self._used.clear()
        self._reach = _reachable(self.fn, self._used)

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

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """A compiled method (``@gg.compile`` on ``def forward(self, x)``): bound to each
        instance as a compiled function of its own (its own traces and guards)."""
        if obj is None:
            return self
        bound = self._bound.get(obj)
        if bound is None:
            bound = self._bound[obj] = Compiled(types.MethodType(self.fn, obj), self.fullgraph)
        return bound


def compile(model: Callable[..., Any] | None = None, *, fullgraph: bool = False) -> Any:
    """Compile ``model`` — a function (a forward pass, a training step's loss) or a Module,
    called ``fn`` below — into generated NumPy code for its forward and backward passes
    (see ``Compiled`` and docs/compile.md). The argument is named ``model`` as in
    ``torch.compile``; ``fullgraph`` means what it means there.

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
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph)
    if not callable(model):
        raise TypeError(f"gg.compile: expected a function or a Module, got {type(model).__name__}")
    return Compiled(model, fullgraph=fullgraph)


def _varying_numbers(fn: Any, key: Any, keys: list[Any], n: int) -> str:
    """Which positional arguments hold a Python value that differs from the one at their
    place in every traced signature: "; argument 's' holds ...", or ""."""

    def numbers(k: Any) -> list[Any]:
        sig = k[0][1] if k[0] and k[0][0] == "tuple" else ()
        return [x if type(x) is tuple and x[:1] == ("S",) else None for x in sig]

    now = numbers(key)
    names = trace.parameter_names(fn, n)
    changed = [
        names[i]
        for i, x in enumerate(now[:n])
        if x is not None and all(len(numbers(k)) > i and numbers(k)[i] != x for k in keys)
    ]
    if not changed:
        return ""
    listed = ", ".join(repr(c) for c in changed)
    return f"; argument {listed} holds a Python value that differs from every traced one"


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
    from graphgrad.compiler.derived import RANDOM

    # a random draw is never run symbolically (that would draw): through its context
    # the collector off: generation makes millions of small objects that live until it ends
    # (symbolic arrays, lines, names), and its passes over that growing heap took ~30% of a
    # 20,000-step graph's compile time
    with CollectorPaused():
        gen = codegen.generate(t, _identifier(name), set(RANDOM.values()))
    grad_outputs = [t.values[i].requires_grad for i in gen.outputs]
    extras: list[Any] = []
    op = _op_class(name, gen, grad_outputs, extras)
    free = [t.values[i] for i in gen.inputs if t.values[i].kind == "free"]
    return _Program(gen, op, t.values, t.outputs, grad_outputs, free, extras=extras)


def _own_constants(first: trace.Trace, second: trace.Trace) -> None:
    """A tensor without a place that the two traces saw as two objects of equal values
    (``trace.compare`` checked them) is made inside the function at every call
    (``gg.zeros(2)``). The program keeps a copy of its own: the traced object went back
    to the caller (as a result, or kept somewhere), and changing it in place must not
    change what later calls compute."""
    for va, vb in zip(first.values, second.values):
        if vb.kind == "free" and vb.source is None and va.tensor is not vb.tensor:
            assert vb.tensor is not None
            vb.tensor = from_numpy(vb.tensor.data.copy())
            vb.per_call = True


def _release(t: trace.Trace, keep_for_compare: bool = False) -> None:
    """Drop what the traced call computed (every intermediate array, the eager nodes and
    what they saved): the program keeps only the values' places, shapes and dtypes. A
    first trace, still to be compared with the second, keeps its records and its free
    inputs' values (``trace.compare`` reads those), not the nodes or the intermediates."""
    for v in t.values:
        if keep_for_compare and v.kind == "free":
            if v.source is None:  # its values as traced: the caller may change the object
                v.example = v.example.copy()
        else:
            v.example = None  # type: ignore[assignment]
    if keep_for_compare:
        for r in t.records:
            r.node = None
    else:
        t.records.clear()
    t.keep.clear()
    t.rng_states.clear()


def _unread(t: trace.Trace, args: Any, kwargs: Any) -> list[tuple[trace.Value, np.ndarray]]:
    """The NumPy array arguments that no op of the trace reads, with a copy of their
    values. The function received them yet computed nothing from them with ops: either it
    ignores them or it computed with them in NumPy (a conversion, a mask), which the
    generated code would not repeat. A later call with other values there runs eagerly
    rather than trust the fixed trace. (A Tensor argument's values are read through ops;
    what is done with its ``.data`` is the documented way round the graph.)"""
    read = [(r.operands, r.kwargs) for r in t.records]
    used = {ref.index for ref in codegen.refs((read, t.outputs))}
    out = []
    for v in t.values:
        if v.kind == "input" and v.index not in used:
            x = _at((args, kwargs), v.path)
            if type(x) is np.ndarray:  # (a Tensor's value is read through ops, or .data)
                out.append((v, x.copy()))
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
        {
            "forward": staticmethod(forward),
            "backward": staticmethod(backward),
            "fresh_grads": gen.fresh,
        },
    )
    return cls


def _run(prog: _Program, args: tuple[Any, ...], kwargs: dict[str, Any], free: list[Tensor]) -> Any:
    operands = []
    it_free = iter(free)
    for i in prog.gen.inputs:
        v = prog.values[i]
        operands.append(next(it_free) if v.kind == "free" else _at((args, kwargs), v.path))

    made_anew: dict[int, Tensor] = {}

    def same(i: int) -> Any:  # a result that is an input itself (trace.Same)
        v = prog.values[i]
        if v.kind == "input":
            return _at((args, kwargs), v.path)
        if v.per_call:  # a new tensor at every call, as eagerly (one, if returned twice)
            assert v.tensor is not None
            if i not in made_anew:
                made_anew[i] = from_numpy(v.tensor.data.copy())
            return made_anew[i]
        return next(t for t, fv in zip(free, prog.free) if fv is v)

    if True not in prog.grad_outputs:
        # no result requires grad (as traced): no node, even where an operand requires grad
        # (a result computed under no_grad, detached, or of integers)
        outs, _ = prog.gen.forward(*[x.data if isinstance(x, Tensor) else x for x in operands])
        made = dict(zip(prog.gen.outputs, [from_numpy(a) for a in outs]))
        return _rebuild(prog.outputs, made, same)
    res = prog.op.apply(*operands)
    outs = prog.extras[0]
    flat: list[Any] = []
    pos = 0
    multi = isinstance(res, tuple)
    for j, arr in enumerate(outs):
        if prog.grad_outputs[j]:
            flat.append(res[pos] if multi else res)
            pos += 1
        else:
            flat.append(from_numpy(arr))  # a result that needs no gradient
    return _rebuild(prog.outputs, dict(zip(prog.gen.outputs, flat)), same)


def _rebuild(x: Any, made: dict[int, Any], same: Callable[[int], Any]) -> Any:
    """The function's result structure with each value's tensor (``made``: by value index)."""
    if type(x) is trace.Ref:
        return made[x.index]
    if type(x) is trace.Same:
        return same(x.index)
    t = type(x)
    if t in (tuple, list):
        return t(_rebuild(v, made, same) for v in x)
    if t is dict:
        return {k: _rebuild(v, made, same) for k, v in x.items()}
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
    now = [(g, g.bit_generator.state) for g, _ in t.rng_states]
    for g, state in t.rng_states:  # the second call's draws, once more
        g.bit_generator.state = state
    try:
        outs, _ = prog.gen.forward(*xs)
    finally:
        for g, state in now:
            g.bit_generator.state = state
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
    # id(tensor.data) of every tensor reached -> a weak reference to that array (a hit is
    # the same array, never a later one that took a freed array's id)
    arrays: dict[int, Any] = field(default_factory=dict)
    # the dicts, lists and tuples looked into, and their keys or lengths then: a loop over
    # one is unrolled in the trace, so an entry added or removed must trace again
    layouts: list[tuple[Callable[[], Any], Any]] = field(default_factory=list)
    settings: Any = None  # the modules' Python-valued attributes (see _settings)
    assignments: int = -1  # graphgrad.nn.module.assignments when they were read


_MISSING = object()


def _read_source(reach: _Reach, labels: tuple[str, ...]) -> Any:
    """The tensor now at a free input's place; None if it is gone or tied places (a weight
    shared by two modules) no longer agree."""
    t = reach.readers[labels[0]]()
    for other in labels[1:]:
        if reach.readers[other]() is not t:
            return None
    return t if isinstance(t, Tensor) else None


def _reachable(fn: Any, used: dict[int, Any]) -> _Reach:
    """The objects ``fn`` reaches outside its arguments, and where: itself (a Module), its
    ``self`` (a callable object's is itself; a ``functools.partial``'s bound arguments
    count too), its closure cells and the globals its code names — and, recursively, those
    of the functions found there, the attributes of a plain ``self``, the submodules,
    parameters and tensor attributes of every module, and one level into dicts, lists and
    tuples. Each tensor gets the place it is read from at every call; the modules called
    while tracing (``used``) join the guard even where no place leads to them."""
    from graphgrad.nn.module import Module

    reach = _Reach([], [], {}, {}, {})
    modules: dict[int, Any] = {}
    seen: set[int] = set()

    def tensor(label: str, hint: str, read: Callable[[], Any], t: Tensor) -> None:
        reach.names.setdefault(id(t), hint)
        reach.sources[id(t)] = (*reach.sources.get(id(t), ()), label)
        reach.readers[label] = read
        reach.arrays[id(t.data)] = weakref.ref(t.data)

    def function(prefix: str, f: Any, depth: int) -> None:
        target = getattr(f, "__func__", f)
        code = getattr(target, "__code__", None)
        if code is None or id(target) in seen or depth > 3:
            return
        seen.add(id(target))
        cells = getattr(target, "__closure__", None) or ()
        for name, cell in zip(code.co_freevars, cells):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            read = functools.partial(_cell, cell)
            reach.roots.append((read, value))
            visit(name if not prefix else f"{prefix}.{name}", read, value, depth)
        for k, value in enumerate(getattr(target, "__defaults__", None) or ()):
            visit(f"{prefix}default{k}", functools.partial(_default, target, k), value, depth)
        glb = getattr(target, "__globals__", {})
        names = list(code.co_names)
        for const in code.co_consts:  # nested functions' and comprehensions' names
            if hasattr(const, "co_names"):
                names += const.co_names
        for name in dict.fromkeys(names):
            if name in glb:
                read = functools.partial(glb.get, name, _MISSING)
                reach.roots.append((read, glb[name]))
                visit(name, read, glb[name], depth)

    def visit(name: str, read: Callable[[], Any], obj: Any, depth: int) -> None:
        if isinstance(obj, Module):
            if id(obj) in modules:
                return
            for path, m in obj.named_modules():
                modules.setdefault(id(m), m)
                for attr, value in vars(m).items():
                    if isinstance(value, Tensor):
                        dotted = f"{path}.{attr}" if path else attr
                        hint = f"{name}_{dotted}" if name and name != "self" else dotted
                        tensor(
                            f"{name}.{dotted}" if name else dotted,
                            hint.replace(".", "_"),
                            functools.partial(_get, read, tuple(dotted.split("."))),
                            value,
                        )
        elif isinstance(obj, Tensor):
            tensor(name, name, read, obj)
        elif type(obj) in (dict, list, tuple):
            if depth > 1 or id(obj) in seen:
                return
            seen.add(id(obj))
            reach.layouts.append((read, _layout(obj)))
            items = obj.items() if type(obj) is dict else enumerate(obj)
            for k, v in items:
                sub = functools.partial(_item, read, k)
                visit(str(k) if type(obj) is dict else f"{name}{k}", sub, v, depth + 1)
        elif isinstance(obj, Compiled):  # a compiled function called inside: inlined
            visit(name, functools.partial(getattr, obj, "fn"), obj.fn, depth)
        elif isinstance(obj, types.FunctionType) or isinstance(obj, types.MethodType):
            if isinstance(obj, types.MethodType) and not isinstance(obj.__self__, type):
                owner = obj.__self__
                visit(f"{name}_self", functools.partial(getattr, obj, "__self__"), owner, depth + 1)
            function("", obj, depth + 1)

    if isinstance(fn, functools.partial):  # its function's places; its bound arguments
        visit("partial", functools.partial(_const, fn.args), fn.args, 0)
        visit("partial", functools.partial(_const, fn.keywords), fn.keywords, 0)
        fn = fn.func
    elif not isinstance(fn, (Module, type, types.FunctionType, types.MethodType)):
        call = next((vars(k)["__call__"] for k in type(fn).__mro__ if "__call__" in vars(k)), None)
        if isinstance(call, types.FunctionType):  # a callable object: its __call__, bound
            fn = types.MethodType(call, fn)
    if isinstance(fn, Module):
        visit("", functools.partial(_const, fn), fn, 0)
        function("", type(fn).forward, 0)
    else:
        owner = getattr(fn, "__self__", None)
        if owner is not None and not isinstance(owner, type):
            here = functools.partial(_const, owner)
            if isinstance(owner, Module):
                visit("self", here, owner, 0)
            elif hasattr(owner, "__dict__") and id(owner) not in seen:
                seen.add(id(owner))
                for attr, value in vars(owner).items():
                    visit(attr, functools.partial(_get, here, (attr,)), value, 1)
        function("", fn, 0)
    for m in list(used.values()):  # called while tracing, maybe through no place above
        for sub in m.modules():
            modules.setdefault(id(sub), sub)
    reach.modules = list(modules.values())
    reach.assignments = module_assignments[0]
    reach.settings = _settings(reach.modules)
    return reach


# (a generator compares by identity: a module's rng replaced by another traces again)
_SETTING_TYPES = (int, float, bool, str, type(None), np.random.Generator)


def _settings(modules: list[Any]) -> Any:
    """The Python-valued attributes of the modules (a Dropout's ``p``, a layer's ``eps``)
    and their structure (the submodules and the tensor attributes, by name and identity:
    a ``ModuleList.append`` adds a layer the traced loop does not have): a trace fixes
    them, so a change must trace again."""
    return tuple(
        (
            tuple(
                (k, v) for k, v in vars(m).items() if type(v) in _SETTING_TYPES and k != "training"
            ),
            tuple((k, id(c)) for k, c in m._modules.items()),
            # (by identity: a module reached through no place, e.g. an argument, has its
            # tensors read as traced, so one replaced must trace again)
            tuple((k, id(v)) for k, v in vars(m).items() if isinstance(v, Tensor)),
        )
        for m in modules
    )


def _layout(x: Any) -> Any:
    """A container's structure as a trace fixes it: a dict's keys, a list's length."""
    t = type(x)
    if t is dict:
        return (t, tuple(x))
    if t in (list, tuple):
        return (t, len(x))
    return (t, id(x))


def _layouts_changed(reach: _Reach) -> bool:
    """Whether a dict, list or tuple the function reaches gained or lost an entry."""
    for read, then in reach.layouts:
        try:
            now = _layout(read())
        except Exception:  # (the place itself is gone)
            return True
        if now != then:
            return True
    return False


def _default(f: Any, k: int) -> Any:
    return (f.__defaults__ or ())[k]


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


def _const(obj: Any) -> Any:
    return obj


def _get(read: Callable[[], Any], attrs: tuple[str, ...]) -> Any:
    try:
        obj = read()
        for a in attrs:
            obj = getattr(obj, a)
        return obj
    except (AttributeError, TypeError):
        return None


def _item(read: Callable[[], Any], k: Any) -> Any:
    try:
        return read()[k]
    except (LookupError, TypeError):
        return None
