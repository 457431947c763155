"""Symbolic arrays: run an op's own ``forward``/``backward`` once and write down the NumPy
calls it makes, as lines of Python source.

A ``Sym`` stands for one array of the generated code: it has a variable name and an
*example* value (the array the traced call computed there), so a rule's Python logic on
shapes, dtypes and sizes runs as it does eagerly, and every NumPy call it makes on a Sym —
an operator, a ufunc (``np.exp``, ``np.add.reduce``, ``out=`` forms), a NumPy function
(``np.where``) or an ndarray method (``.reshape``, ``.T``) — becomes one line
``name = <the same call>`` in the same order. The generated code therefore makes exactly
the calls the eager rule makes, and gives bitwise the same results.

What cannot be written down that way raises ``UnsupportedError``: reading a value as a Python
value (``bool(sym)``, ``np.asarray(sym)``, iterating), writing a Sym into an array the
rule created itself, a NumPy function that does not dispatch. The compiler then calls
that op's ``forward``/``backward`` through a context object at run time instead (still
exact, a little slower).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class UnsupportedError(Exception):
    """The rule did something a Sym cannot write down as source."""


class Emitter:
    """The lines of one generated function, its variable names and its constants."""

    def __init__(self, shared: Emitter | None = None) -> None:
        self.lines: list[str] = []
        self.borrowed: dict[str, Sym] = {}  # values of the other function that this reads
        # examples standing for arrays a rule run through its context returns: what they
        # alias at run time (the upstream gradient, a saved array) their examples do not show
        self.opaque: list[Any] = []
        if shared is None:  # the forward's: names, constants and the temporaries' counter
            self.consts: dict[str, Any] = {}
            self._const_ids: dict[int, str] = {}
            self.names: set[str] = set()
            self._temps = [0]
            self.sizes: dict[str, int] = {}  # elements of each array, to free large ones
        else:  # the backward shares them with the forward
            self.consts, self._const_ids = shared.consts, shared._const_ids
            self.names, self._temps = shared.names, shared._temps
            self.sizes = shared.sizes

    def name(self, hint: str) -> str:
        base = _identifier(hint)
        if base not in self.names:
            self.names.add(base)
            return base
        k = 1
        while f"{base}_{k}" in self.names:
            k += 1
        self.names.add(f"{base}_{k}")
        return f"{base}_{k}"

    def temp(self) -> str:
        self._temps[0] += 1
        return self.name(f"t{self._temps[0]}")

    def const(self, obj: Any, hint: str = "c") -> str:
        name = self._const_ids.get(id(obj))
        if name is None:
            name = self.name(f"_{hint}")
            self.consts[name] = obj
            self._const_ids[id(obj)] = name
        return name

    def fmt(self, x: Any) -> str:
        """Source text for an argument: a Sym's name, a literal, or a named constant."""
        if isinstance(x, Sym):
            if x.em is not self:
                self.borrowed[x.name] = x  # a value of the other function (saved)
            return x.name
        t = type(x)
        if x is None or t is bool:
            return repr(x)
        if t is int:
            return repr(x)
        if t is float:
            return repr(x) if math.isfinite(x) else self.const(x, "f")
        if t is str:
            return repr(x)
        if x is Ellipsis:
            return "..."
        if t is slice:
            return f"slice({self.fmt(x.start)}, {self.fmt(x.stop)}, {self.fmt(x.step)})"
        if t is tuple:
            inner = ", ".join(self.fmt(v) for v in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        if t is list:
            return "[" + ", ".join(self.fmt(v) for v in x) + "]"
        return self.const(x, "c")

    def call(self, head: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        parts = [self.fmt(a) for a in args]
        parts += [f"{k}={self.fmt(v)}" for k, v in kwargs.items()]
        return f"{head}({', '.join(parts)})"

    def assign(self, expr: str, value: Any, hint: str | None = None) -> Sym:
        name = self.name(hint) if hint else self.temp()
        self.lines.append(f"{name} = {expr}")
        self.sizes[name] = int(np.size(value)) if isinstance(value, np.ndarray) else 0
        return Sym(self, name, value)

    def stmt(self, text: str) -> None:
        self.lines.append(text)


# The function being written: every Sym operation appends its line there (a forward value
# used by a backward rule is read from ``saved``, see Emitter.borrowed).
active: list[Emitter] = []


def _em() -> Emitter:
    return active[-1]


def _identifier(hint: str) -> str:
    if hint.isidentifier() and hint.isascii() and hint not in _RESERVED:
        return hint
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in hint)
    if not out or out[0].isdigit():
        out = "v" + out
    if out in _RESERVED:
        out += "_"
    return out


_RESERVED = {
    "np",
    "saved",
    "grads",
    "None",
    "True",
    "False",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "for",
    "while",
    "def",
    "return",
    "del",
    "lambda",
    "class",
    "global",
    "pass",
    "with",
    "as",
    "from",
    "import",
    "try",
    "except",
    "finally",
    "raise",
    "yield",
    "assert",
    "break",
    "continue",
    "elif",
    "nonlocal",
    "async",
    "await",
}


def value(x: Any) -> Any:
    """The example value of an argument (Syms unwrapped, inside tuples and lists too)."""
    if isinstance(x, Sym):
        return x.value
    t = type(x)
    if t is tuple:
        return tuple(value(v) for v in x)
    if t is list:
        return [value(v) for v in x]
    if t is dict:
        return {k: value(v) for k, v in x.items()}
    return x


_STATIC = {np.shape, np.ndim, np.size, np.result_type}


def _has_sym(x: Any, opaque: bool = False) -> bool:
    """Whether ``x`` holds a Sym; with ``opaque``, also an object the generated code could
    not write down as a constant (one with a ``__dict__`` or slots, not an array)."""
    if isinstance(x, Sym):
        return True
    if type(x) in (tuple, list):
        return any(_has_sym(v, opaque) for v in x)
    if not opaque or isinstance(x, np.ndarray):
        return False
    return hasattr(x, "__dict__") or hasattr(x, "__slots__")


_BINARY = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "truediv": "/",
    "floordiv": "//",
    "mod": "%",
    "pow": "**",
    "matmul": "@",
    "and": "&",
    "or": "|",
    "xor": "^",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "eq": "==",
    "ne": "!=",
}
_IN_PLACE = ("add", "sub", "mul", "truediv", "pow", "and", "or", "xor")
_METHODS = (
    "reshape",
    "sum",
    "mean",
    "max",
    "min",
    "astype",
    "transpose",
    "swapaxes",
    "squeeze",
    "copy",
    "clip",
    "ravel",
    "repeat",
    "prod",
    "var",
    "std",
    "any",
    "all",
    "argmax",
    "cumsum",
    "take",
    "dot",
    "view",
)


class Sym:
    """One array of the generated code: its name and its example value."""

    __slots__ = ("em", "name", "value")
    __array_priority__ = 1000.0  # operators with an ndarray defer to the Sym

    def __init__(self, em: Emitter, name: str, value: Any) -> None:
        self.em = em
        self.name = name
        self.value = value

    # --- what a rule may read as Python values: metadata, fixed for the trace's shapes
    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def base(self) -> Any:
        """The example's base: a view in the generated code exactly where it is eagerly."""
        return getattr(self.value, "base", None)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.value).dtype

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def T(self) -> Sym:
        return _em().assign(f"{_em().fmt(self)}.T", self.value.T)

    # --- what it may not: the value itself
    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedError(f"reads the value of {self.name}")

    __bool__ = __float__ = __int__ = __index__ = __len__ = __iter__ = _refuse
    __array__ = _refuse

    def __hash__(self) -> int:
        return id(self)

    # --- NumPy's protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        em = _em()
        if getattr(np, ufunc.__name__, None) is not ufunc:
            raise UnsupportedError(f"ufunc {ufunc.__name__}")
        head = f"np.{ufunc.__name__}" if method == "__call__" else f"np.{ufunc.__name__}.{method}"
        vals = tuple(value(v) for v in inputs)
        kv = {k: value(v) for k, v in kwargs.items()}
        out = kwargs.get("out")
        if method == "at":
            if not isinstance(inputs[0], Sym):
                raise UnsupportedError("np.ufunc.at into an array the rule made")
            getattr(ufunc, method)(*vals, **kv)
            em.stmt(em.call(head, inputs, kwargs))
            return None
        if out is not None:
            outs = out if type(out) is tuple else (out,)
            if len(outs) != 1 or not isinstance(outs[0], Sym):
                raise UnsupportedError("out= an array the rule made")
            if type(outs[0].value) is not np.ndarray:  # (eagerly a NumPy scalar: no out=)
                raise UnsupportedError("out= a 0-d result")
            kv["out"] = (outs[0].value,)
            getattr(ufunc, method)(*vals, **kv) if method != "__call__" else ufunc(*vals, **kv)
            em.stmt(em.call(head, inputs, {**kwargs, "out": outs[0]}))
            return outs[0]
        res = ufunc(*vals, **kv) if method == "__call__" else getattr(ufunc, method)(*vals, **kv)
        if type(res) is tuple:
            raise UnsupportedError(f"{ufunc.__name__} with several outputs")
        return em.assign(em.call(head, inputs, kwargs), res)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        name = getattr(func, "__name__", "")
        if getattr(np, name, None) is not func:
            raise UnsupportedError(f"NumPy function {name}")
        res = func(*value(args), **value(kwargs))  # type: ignore[misc]
        if func in _STATIC:  # shapes and dtypes are fixed per trace (the guard key)
            return res
        if not isinstance(res, (np.ndarray, np.generic)):
            raise UnsupportedError(f"np.{name} returning {type(res).__name__}")
        return _em().assign(_em().call(f"np.{name}", args, kwargs), res)

    # --- indexing and in-place writes
    def __getitem__(self, index: Any) -> Sym:
        em = _em()
        return em.assign(f"{em.fmt(self)}[{_index_src(em, index)}]", self.value[value(index)])

    def __setitem__(self, index: Any, v: Any) -> None:
        em = _em()
        self.value[value(index)] = value(v)
        em.stmt(f"{em.fmt(self)}[{_index_src(em, index)}] = {em.fmt(v)}")

    def __neg__(self) -> Sym:
        return _em().assign(f"-{_em().fmt(self)}", -self.value)

    def __pos__(self) -> Sym:
        return self

    def __invert__(self) -> Sym:
        return _em().assign(f"~{_em().fmt(self)}", ~self.value)

    def __abs__(self) -> Sym:
        return _em().assign(f"abs({_em().fmt(self)})", abs(self.value))


def _index_src(em: Emitter, index: Any) -> str:
    if type(index) is tuple:
        if not index:
            return "()"
        return ", ".join(em.fmt(i) for i in index) + ("," if len(index) == 1 else "")
    return em.fmt(index)


def _binary(op: str, sym: str) -> Any:
    import operator

    fn = getattr(operator, f"__{op}__")

    def forward(self: Sym, other: Any) -> Sym:
        return _em().assign(
            f"{_em().fmt(self)} {sym} {_em().fmt(other)}", fn(self.value, value(other))
        )

    def reflected(self: Sym, other: Any) -> Sym:
        return _em().assign(
            f"{_em().fmt(other)} {sym} {_em().fmt(self)}", fn(value(other), self.value)
        )

    return forward, reflected


def _in_place(op: str, sym: str) -> Any:
    import operator

    fn = getattr(operator, f"__i{op}__")

    def method(self: Sym, other: Any) -> Sym:
        res = fn(self.value, value(other))
        if res is not self.value:  # (a 0-d value: NumPy scalars have no in-place forms)
            raise UnsupportedError("in-place operation on a scalar")
        _em().stmt(f"{_em().fmt(self)} {sym}= {_em().fmt(other)}")
        return self

    return method


def _method(name: str) -> Any:
    def method(self: Sym, *args: Any, **kwargs: Any) -> Any:
        res = getattr(self.value, name)(*value(args), **value(kwargs))
        if not isinstance(res, (np.ndarray, np.generic)):
            raise UnsupportedError(f".{name}() returning {type(res).__name__}")
        em = _em()
        return em.assign(em.call(f"{em.fmt(self)}.{name}", args, kwargs), res)

    return method


for _op, _sym in _BINARY.items():
    _f, _r = _binary(_op, _sym)
    setattr(Sym, f"__{_op}__", _f)
    if _op not in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(Sym, f"__r{_op}__", _r)
for _op in _IN_PLACE:
    setattr(Sym, f"__i{_op}__", _in_place(_op, _BINARY[_op]))
for _name in _METHODS:
    setattr(Sym, _name, _method(_name))
