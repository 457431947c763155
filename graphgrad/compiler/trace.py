"""Tracing: run the user's function once, eagerly, and write down every op it applies.

While a ``Tracer`` is installed (``graphgrad.core.grad_mode.tracer``), each recording path
reports the op it applied (class, operands, keywords, output). Operands are identified:

* a Tensor or array the function received as an argument, or the output of an op traced
  earlier, is a *value* of the trace (``Ref``); so is a detached alias of one
  (``t.detach()``, ``t.data``, a same-dtype copy ``gg.tensor(x)``), which carries no
  gradient, as eagerly; so are the values graphgrad computes outside the graph —
  comparisons, integer casts, max/min indices, dropout masks (graphgrad.compiler.derived);
* any other Tensor — a module's parameter, a tensor in the function's closure — is a
  *free input*: the generated code reads it at its place at every call, never a copy;
* everything else (Python numbers, shapes, axes, arrays built in Python) is a constant of
  the trace, fixed at its trace-time value. Two traces (the first two calls) are compared
  so that a constant that changes between calls — a random array drawn with NumPy, an
  array computed from an argument's values — is caught instead of silently frozen.

What compiled code could not repeat — a traced value read as a Python value
(``t.item()``, ``bool(t)``, ``np.asarray(t)``), a hook on an intermediate, ``backward()``,
an in-place write into a parameter, a module assignment — is refused (``Tracer.refuse``):
the call finishes eagerly and the function stays uncompiled, or with ``fullgraph=True``
it raises ``CompileError``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphgrad.core.grad_mode import refresh_watching, tracer
from graphgrad.core.tensor import Tensor, wrap
from graphgrad.errors import CompileError

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@dataclass(frozen=True)
class Ref:
    """An operand that is value ``index`` of the trace."""

    index: int


@dataclass(frozen=True)
class Same:
    """A result that is one of the function's inputs itself (``return x``, ``return
    self.weight``, a tensor made inside the function and returned as it is): not computed
    by the generated code, but returned as the eager function returns it."""

    index: int


@dataclass
class Value:
    """One array of the traced computation."""

    index: int
    kind: str  # "input" (an argument), "free" (closure / parameter) or "op"
    example: np.ndarray
    hint: str  # a name for the generated code
    requires_grad: bool
    tensor: Tensor | None = None  # a free input's tensor (at trace time)
    shape: tuple[int, ...] = ()  # the example's (kept when the example is released)
    dtype: Any = None
    # where a free input is read at every call ("model.fc.weight"; several for a tied one)
    source: tuple[str, ...] | None = None
    path: tuple[Any, ...] = ()  # an argument's place in (args, kwargs)
    # a free input without a place that each call creates anew (``gg.zeros(2)`` inside the
    # function): the program keeps its own copy, and returns a new one as a result
    per_call: bool = False


@dataclass
class Record:
    """One op application."""

    cls: Any  # a Function subclass
    operands: tuple[Any, ...]  # Refs, constants, tuples of them
    kwargs: dict[str, Any]
    out: int
    needs: tuple[bool, ...]
    label: str | None
    site: str
    node: Any  # the eager node (its rule is run once more to check the generated one)


@dataclass
class Trace:
    values: list[Value] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    outputs: Any = None  # the function's result with Tensors replaced by Refs
    keep: list[Any] = field(default_factory=list)  # what keeps the ids above unique
    broken: str | None = None  # why the function could not be traced (Tracer.refuse)
    modules: list[Any] = field(default_factory=list)  # the modules called while tracing
    rng_states: list[tuple[Any, Any]] = field(default_factory=list)  # before the first draws
    wrapped: bool = False  # the array arguments were given as tensors (run's wrap_arrays)


def user_site() -> str:
    """``file:line`` of the innermost caller outside graphgrad."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        inside = _INSIDE.get(name)
        if inside is None:
            inside = _INSIDE[name] = name.startswith("<graphgrad") or os.path.abspath(
                name
            ).startswith(_ROOT)
        if not inside:
            return f"{os.path.basename(name)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<graphgrad>"


_INSIDE: dict[str, bool] = {}  # file name -> whether it is graphgrad's own


class Tracer:
    """The recorder installed while the function runs (see the module docstring)."""

    def __init__(
        self, names: dict[int, str], sources: dict[int, tuple[str, ...]], fullgraph: bool
    ) -> None:
        self.trace = Trace()
        self._by_tensor: dict[int, int] = {}
        self._by_array: dict[int, int] = {}
        self._names = names  # id(tensor) -> a readable name (parameters, closure)
        self._sources = sources  # id(tensor) -> where the function reads it (Value.source)
        self.fullgraph = fullgraph
        self.modules: dict[int, Any] = {}  # every module called while tracing
        self.broken: str | None = None  # why the function cannot be compiled
        self.prev: Any = None  # the tracer this one replaced (restored on a break)

    def refuse(self, why: str) -> None:
        """The function did something compiled code could not repeat. With
        ``fullgraph=True`` that raises; otherwise the tracer steps aside, the call finishes
        eagerly (its results are the eager ones) and the function stays uncompiled."""
        if self.fullgraph:
            raise CompileError(why)
        self.broken = why
        if tracer[0] is self:
            tracer[0] = self.prev
            refresh_watching()

    def _new(self, kind: str, t: Any, hint: str, rg: bool, **extra: Any) -> int:
        arr = t.data if isinstance(t, Tensor) else t
        i = len(self.trace.values)
        v = Value(i, kind, arr, hint, rg, **extra)
        v.shape, v.dtype = np.shape(arr), getattr(arr, "dtype", None)
        self.trace.values.append(v)
        self.trace.keep.append(t)
        if isinstance(t, Tensor):
            self._by_tensor[id(t)] = i
        self._by_array.setdefault(id(arr), i)
        return i

    def argument(self, x: Any, hint: str, path: tuple[Any, ...]) -> Ref:
        rg = isinstance(x, Tensor) and x.requires_grad
        if isinstance(x, Tensor):
            known = self._by_tensor.get(id(x))
        else:  # an array passed twice, or an earlier tensor argument's array
            known = self._by_array.get(id(x))
            if known is not None and self.trace.values[known].kind != "input":
                known = None
        if known is not None:  # the same tensor passed twice (trace.aliasing guards it)
            return Ref(known)
        return Ref(self._new("input", x, hint, rg, path=path))

    def ref(self, a: Any) -> Any:
        if isinstance(a, Tensor):
            i = self._by_tensor.get(id(a))
            if i is None:
                i = self._by_array.get(id(a.data))  # a detached alias: no gradient
                if i is None:
                    hint = self._names.get(id(a), "const")
                    src = self._sources.get(id(a))
                    i = self._new("free", a, hint, a.requires_grad, tensor=a, source=src)
            return Ref(i)
        t = type(a)
        if t is np.ndarray:
            i = self._by_array.get(id(a))
            return a if i is None else Ref(i)
        if t is tuple:
            return tuple(self.ref(v) for v in a)
        if t is list:
            return [self.ref(v) for v in a]
        return a

    # --- called by the recording paths and the Tensor (see graphgrad.core)
    def op(self, cls: type, args: tuple[Any, ...], kwargs: Any, out: Tensor) -> None:
        operands = tuple(self.ref(a) for a in args)
        kw = {k: self.ref(v) for k, v in kwargs.items()} if kwargs else {}
        node = out._node
        needs = tuple(node.needs_input_grad) if node is not None else (False,) * len(args)
        label = getattr(node, "label", None) if node is not None else None
        hint = cls.__name__.lower().lstrip("_")
        i = self._new("op", out, hint, out._rg)
        self.trace.records.append(Record(cls, operands, kw, i, needs, label, user_site(), node))

    def created(self, t: Tensor, src: Any) -> None:
        """``Tensor(src)`` / ``gg.tensor(src)`` copied ``src``: if it is a traced array and
        the copy keeps its dtype, the new tensor is a detached alias of that value (the
        generated code reads the argument at every call instead of keeping the copy)."""
        arr = src.data if isinstance(src, Tensor) else src
        if type(arr) is not np.ndarray:
            return
        i = self._by_array.get(id(arr))
        if i is None or t.data.dtype != arr.dtype or t.data.shape != arr.shape:
            return
        if t.requires_grad:
            return  # a new leaf to differentiate: a free input of its own
        self._by_array[id(t.data)] = i
        self.trace.keep.append(t)

    def derived(self, kind: str, operands: tuple[Any, ...], out: Any) -> None:
        """A value computed from traced operands outside the graph (see
        graphgrad.compiler.derived): recorded as an op without gradient when an operand
        is a value of the trace; a constant otherwise."""
        from graphgrad.compiler.derived import KINDS

        refs = tuple(self.ref(a) for a in operands)
        if not any(type(r) is Ref for r in refs):
            return
        arr = out.data if isinstance(out, Tensor) else out
        i = self._new("op", out, kind, False)
        if not isinstance(out, Tensor):
            self._by_array[id(arr)] = i
        needs = (False,) * len(refs)
        self.trace.records.append(Record(KINDS[kind], refs, {}, i, needs, None, user_site(), None))

    def random_draw(self, rng: Any) -> None:
        """Before a random draw from ``rng`` (None: the default generator): its state, the
        first time, so the generated forward can be checked on the same draws."""
        from graphgrad.random import get_rng

        if rng is not None and not isinstance(rng, np.random.Generator):
            return  # an int seed: a new generator at every call, the same draws
        gen = get_rng(rng)
        if all(g is not gen for g, _ in self.trace.rng_states):
            self.trace.rng_states.append((gen, gen.bit_generator.state))

    def random(self, kind: str, operands: tuple[Any, ...], out: np.ndarray) -> None:
        """A random draw (graphgrad.compiler.derived.RANDOM): a value of the trace, drawn
        again at every call, never a constant."""
        from graphgrad.compiler.derived import KINDS

        i = self._new("op", out, kind.split("_")[-1], False)
        needs = (False,) * len(operands)
        self.trace.records.append(
            Record(KINDS[kind], operands, {}, i, needs, None, user_site(), None)
        )

    def module_called(self, m: Any) -> None:
        self.modules.setdefault(id(m), m)

    def several_outputs(self, cls: type) -> None:
        self.refuse(
            f"gg.compile: {cls.__name__}.forward returns several arrays, which compiled code "
            "does not support yet; compile the code around it, or return one array"
        )

    def hook_registered(self, t: Tensor, how: str) -> None:
        if t._node is not None and id(t) in self._by_tensor:
            self.refuse(
                f"gg.compile: the function calls {how} on a tensor it computed (at "
                f"{user_site()}); compiled code has no such tensor to call it on at run time. "
                "Register hooks on parameters or on the compiled function's results instead"
            )

    def rebound(self, t: Tensor, out: Tensor) -> None:
        """``t`` takes over ``out``, the recorded result of an in-place change (``t += x``):
        what reads ``t`` from now on reads that result, not the value before."""
        was = self._by_tensor.get(id(t))
        v = None if was is None else self.trace.values[was]
        # an argument, or a tensor read at a place: the caller's. (One made inside the
        # function has no place; one reached by no place that persists between calls is
        # a non-leaf after the first, so the second trace differs and is not compiled.)
        if v is not None and (v.kind == "input" or (v.kind == "free" and v.source)):
            self.refuse(
                f"gg.compile: the function changes an argument or a tensor it reads in place "
                f"(at {user_site()}), a change to the caller's tensor that compiled code could "
                "not repeat. Write x = x + y for a new tensor, or do it outside the compiled "
                "function"
            )
            return
        if v is not None and v.kind == "free":  # (made inside: its value before the change)
            v.tensor = wrap(t.data, None)
        i = self._by_tensor.get(id(out))
        if i is not None:
            self._by_tensor[id(t)] = i
            self.trace.keep.append(t)

    def changed_outside_ops(self, t: Tensor) -> None:
        """A traced tensor's value changed in place by no recorded op (``t += x`` or
        ``t[i] = v`` under no_grad): the replay would compute with the value before."""
        if id(t) in self._by_tensor:
            self.refuse(
                f"gg.compile: the function changes a tensor it computed in place without "
                f"recording it (under no_grad, at {user_site()}), which compiled code could "
                "not repeat. Compute the new value with ops (t = t + x), or do it outside "
                "the compiled function"
            )

    def side_effect(self, what: str) -> None:
        self.refuse(
            f"gg.compile: the function runs {what} (at {user_site()}), which compiled code "
            "could not repeat: it replays the recorded tensor ops only. Keep it outside the "
            "compiled function (compile the loss, call backward() and the optimizer after "
            "it; pass recurrent state in as an argument and return the new state)"
        )

    def value_read(self, t: Tensor, how: str) -> None:
        if id(t) in self._by_tensor or id(t.data) in self._by_array or t._rg:
            self.refuse(
                f"gg.compile: the function read a traced tensor's value as a Python value "
                f"({how} at {user_site()}). Compiled code fixes Python values and branches "
                "at trace time, so it could not repeat what was done with it. Compute it "
                "with tensor ops (gg.where(cond, a, b) for a branch), read it outside the "
                "compiled function, or call the function uncompiled"
            )


def run(
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    names: dict[int, str],
    sources: dict[int, tuple[str, ...]],
    fullgraph: bool = True,
    wrap_arrays: bool = False,
) -> tuple[Trace, Any]:
    """Run ``fn(*args, **kwargs)`` eagerly under a Tracer; returns the trace and the eager
    result (what the first call returns). ``trace.broken`` says why the function could
    not be traced (``fullgraph=False``; with True that raises ``CompileError``).

    ``wrap_arrays``: the function gets each NumPy array argument as a tensor on it (no
    gradient), so that what it computes from the array is recorded too. A trace made so
    equals one made with the arrays themselves exactly when the function only hands the
    arrays to ops; where it computes with one in NumPy (``x + 1``, ``np.exp(x)``,
    ``x > 0``, a loop over its rows), that result is a constant of the plain trace, which
    compiled code would keep — the two traces differ (``Compiled`` checks this way)."""
    rec = Tracer(names, sources, fullgraph)
    params = parameter_names(fn, len(args))
    wrapped: dict[int, Tensor] = {}
    for path, x, hint in _leaves((args, kwargs), params):
        if (
            wrap_arrays
            and type(x) is np.ndarray
            and x.dtype.kind in "biuf"
            and id(x) not in rec._by_array  # (not again, nor an earlier tensor's array)
        ):
            wrapped[id(x)] = t = wrap(x, None)
            x = t
        rec.argument(x, hint, path)
    if wrapped:
        args, kwargs = _swap((args, kwargs), wrapped)
        rec.trace.wrapped = True
    prev = rec.prev = tracer[0]
    tracer[0] = rec
    refresh_watching()
    try:
        result = fn(*args, **kwargs)
    except CompileError:
        raise
    except Exception as exc:
        if not wrapped:
            raise
        # it used an argument as a NumPy array (an ndarray method, a NumPy function that
        # takes no tensor): compiled code could not record that; the caller runs it on the
        # arrays themselves
        why = (
            f"gg.compile: the function failed when given its array arguments as tensors "
            f"({type(exc).__name__}: {exc}): it uses one as a NumPy array, which compiled "
            "code could not record"
        )
        if fullgraph:
            raise CompileError(why) from exc
        rec.broken, result = rec.broken or why, None
    finally:
        tracer[0] = prev
        refresh_watching()
    if rec.broken is None:
        rec.trace.outputs = _map_outputs(rec, result)
    rec.trace.broken = rec.broken
    rec.trace.modules = list(rec.modules.values())
    return rec.trace, result


def _swap(x: Any, wrapped: dict[int, Tensor]) -> Any:
    """``x`` with each array in ``wrapped`` replaced by its tensor."""
    t = type(x)
    if t is np.ndarray:
        return wrapped.get(id(x), x)
    if t in (tuple, list):
        return t(_swap(v, wrapped) for v in x)
    if t is dict:
        return {k: _swap(v, wrapped) for k, v in x.items()}
    return x


def _map_outputs(rec: Tracer, x: Any) -> Any:
    if isinstance(x, Tensor):
        r = rec.ref(x)
        if rec.trace.values[r.index].kind != "op" and rec._by_tensor.get(id(x)) == r.index:
            return Same(r.index)  # an input returned as it is: the very object, as eagerly
        if not x._rg and rec.trace.values[r.index].requires_grad:
            # a detached alias of a value that requires grad: a result of its own, without
            rec.derived("detach", (x.data,), x)
            r = rec.ref(x)
        return r
    t = type(x)
    if t in (tuple, list):
        return t(_map_outputs(rec, v) for v in x)
    if t is dict:
        return {k: _map_outputs(rec, v) for k, v in x.items()}
    if x is None or t in (int, float, bool, str):
        return x
    rec.refuse(
        f"gg.compile: the function returned a {t.__name__}; a compiled function returns "
        "tensors (or tuples, lists and dicts of them, and Python constants)"
    )
    return x


def parameter_names(fn: Any, n: int) -> list[str]:
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [f"arg{i}" for i in range(n)]
    names = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    var = next((p.name for p in sig.parameters.values() if p.kind == p.VAR_POSITIONAL), "arg")
    return [names[i] if i < len(names) else f"{var}{i}" for i in range(n)]


def _leaves(
    tree: tuple[tuple[Any, ...], dict[str, Any]], params: list[str]
) -> list[tuple[tuple[Any, ...], Any, str]]:
    """The arrays and Tensors among the arguments: (path, object, name)."""
    out: list[tuple[tuple[Any, ...], Any, str]] = []

    def walk(x: Any, path: tuple[Any, ...], hint: str) -> None:
        if isinstance(x, (Tensor, np.ndarray)):
            out.append((path, x, hint))
        elif type(x) in (tuple, list):
            for i, v in enumerate(x):
                walk(v, (*path, i), f"{hint}{i}")
        elif type(x) is dict:
            for k, v in x.items():
                walk(v, (*path, k), str(k))

    args, kwargs = tree
    for i, a in enumerate(args):
        walk(a, (0, i), params[i])
    for k, v in kwargs.items():
        walk(v, (1, k), k)
    return out


def aliasing(args: tuple[Any, ...], kwargs: dict[str, Any], reached: dict[int, Any]) -> Any:
    """Which arguments hold the same array as an earlier argument, or as a tensor the
    function reaches itself (``f(model.weight)``): ``(k, j)`` pairs of argument positions
    (in the order the arrays are met), ``j = -1`` for a reached tensor's array (``reached``:
    id -> a weak reference to it). A trace sees one value where two names hold one array,
    so a call that pairs them differently must run a program of its own; () in the usual
    case."""
    out: list[tuple[int, int]] = []
    seen: dict[int, int] = {}
    k = 0
    stack: list[Any] = [kwargs, args] if kwargs else [args]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is np.ndarray or isinstance(x, Tensor):
            arr = x.data if isinstance(x, Tensor) else x
            i = id(arr)
            j = seen.setdefault(i, k)
            if j != k:
                out.append((k, j))
            ref = reached.get(i)
            if ref is not None and ref() is arr:
                out.append((k, -1))
            k += 1
        elif t is tuple or t is list:
            stack.extend(reversed(x))
        elif t is dict:
            stack.extend(reversed(list(x.values())))
    return tuple(out)


def signature(x: Any) -> Any:
    """The guard key of arguments: structure, and per array its shape, dtype and
    requires-grad flag; other leaves by value (they are constants of the trace)."""
    if isinstance(x, Tensor):
        return ("T", x.data.shape, x.data.dtype.str, x.requires_grad)
    if type(x) is np.ndarray:
        return ("A", x.shape, x.dtype.str)
    t = type(x)
    if t in (tuple, list):
        return (t.__name__, tuple(signature(v) for v in x))
    if t is dict:
        return ("dict", tuple((k, signature(v)) for k, v in x.items()))
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return ("S", t.__name__, x)


def compare(a: Trace, b: Trace) -> str | None:
    """Why two traces of one function at the same signature differ, or None."""
    if len(a.records) != len(b.records):
        return (
            f"the first call applied {len(a.records)} ops and the second {len(b.records)}: "
            "a Python branch or loop depends on the values"
        )
    for k, (ra, rb) in enumerate(zip(a.records, b.records)):
        where = f"op {k} ({ra.cls.__name__} at {rb.site})"
        if ra.cls is not rb.cls:
            return f"{where}: the second call applied {rb.cls.__name__} there instead"
        why = _differs(a, b, ra.operands, rb.operands) or _differs(a, b, ra.kwargs, rb.kwargs)
        if why:
            return f"{where}: {why}"
        if ra.needs != rb.needs:
            return f"{where}: which operands require grad changed"
    why = _differs(a, b, a.outputs, b.outputs)
    return f"the results: {why}" if why else None


def _differs(ta: Trace, tb: Trace, x: Any, y: Any) -> str | None:
    if type(x) is not type(y):
        return f"an operand was {type(x).__name__} and became {type(y).__name__}"
    if type(x) is Same:
        return _differs(ta, tb, Ref(x.index), Ref(y.index))
    if type(x) is Ref:
        va, vb = ta.values[x.index], tb.values[y.index]
        if va.kind != vb.kind or (va.kind != "free" and va.index != vb.index):
            return "an operand is a different value of the computation"
        if va.kind == "free" and va.tensor is not vb.tensor:
            if va.source is not None and va.source == vb.source:
                return None  # read from the same place at every call: an input
            if va.requires_grad or not _same(va.example, vb.example):
                return (
                    "a tensor created inside the function (not from an op, e.g. gg.tensor(...) "
                    "of values computed in Python) changed between calls; make it with ops "
                    "from the arguments, or pass it as an argument"
                )
        return None
    if type(x) in (tuple, list):
        if len(x) != len(y):
            return "an operand's length changed"
        for u, v in zip(x, y):
            why = _differs(ta, tb, u, v)
            if why:
                return why
        return None
    if type(x) is dict:
        if x.keys() != y.keys():
            return "the keyword arguments changed"
        for k in x:
            why = _differs(ta, tb, x[k], y[k])
            if why:
                return why
        return None
    if not _same(x, y):
        what = "an array" if isinstance(x, np.ndarray) else repr(x)
        return (
            f"the constant operand {what} changed between calls (an array or number computed "
            "in Python — from an argument's values, or random, like a dropout mask drawn "
            "outside an op): compiled code would keep the first one. Pass it as an argument, "
            "or compute it with ops"
        )
    return None


def _same(x: Any, y: Any) -> bool:
    if x is y:
        return True
    if isinstance(x, (np.ndarray, np.generic)) or isinstance(y, (np.ndarray, np.generic)):
        xa, ya = np.asarray(x), np.asarray(y)
        return (
            xa.shape == ya.shape
            and xa.dtype == ya.dtype
            and bool(np.array_equal(xa, ya, equal_nan=xa.dtype.kind in "fc"))
        )
    try:
        return bool(x == y) or (x != x and y != y)
    except Exception:
        return False
