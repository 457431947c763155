"""Each primitive's spellings, declared once on its class, and what is generated from them.

An op class states how users call it::

    class Sin(Function):
        '''y = sin x.   ∂L/∂x = g ∘ cos x.'''
        spellings = Spellings(method="sin", function="sin", numpy=(np.sin,))

and ``install`` (run once, by ``graphgrad.ops``) generates from that:

* the Tensor method ``t.sin()`` (``method``), and for ``operator="add"`` the operators
  ``t + x``, ``x + t`` and ``t += x`` (``operator="neg"``: ``-t``; ``"abs"``: ``abs(t)``);
* the function ``gg.sin(x)`` / ``graphgrad.ops.sin`` (``function``);
* the NumPy dispatch entry, so that ``np.sin(t)`` records the op (``numpy``: the ufuncs
  that answer to it) — which is also what lets another op's backward rule call
  ``np.sin`` on Tensors under ``create_graph``.

The generated callables take the forward's own parameters (names, defaults and
annotations, ``ctx`` left out) and call the recording path directly, as hand-written
ones would: nothing is added per call. The type checker's view of them is the block of
stubs at the end of ``Tensor`` and of ``graphgrad.ops``, rewritten with the API page by
``python docs/gen_api.py`` and checked by the tests.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

# operator name -> (dunder, reflected dunder or None, in-place dunder or None, symbol)
_BINARY = {
    "add": ("__add__", "__radd__", "__iadd__", "+"),
    "sub": ("__sub__", "__rsub__", "__isub__", "-"),
    "mul": ("__mul__", "__rmul__", "__imul__", "*"),
    "truediv": ("__truediv__", "__rtruediv__", "__itruediv__", "/"),
    "pow": ("__pow__", "__rpow__", "__ipow__", "**"),
    # no in-place form: `t @= w` is Python's fallback, t = t @ w (a new tensor, rebound)
    "matmul": ("__matmul__", "__rmatmul__", None, "@"),
}
_UNARY = {"neg": "__neg__", "abs": "__abs__"}


@dataclass(frozen=True)
class Spellings:
    """The names an op answers to (each optional).

    Attributes:
        method: the Tensor method (``t.exp()``).
        function: the function in ``graphgrad`` / ``graphgrad.ops`` (``gg.exp(x)``).
        operator: Python's operator (``"add"``: ``+``, reflected and in-place forms;
            ``"neg"``: unary ``-``; ``"abs"``: ``abs()``).
        numpy: the NumPy ufuncs that record this op when given a Tensor (``np.exp``).
        by_hand: the spellings are written by hand (their arguments reconcile NumPy's
            and PyTorch's keywords: ``t.sum(axis=)`` and ``t.sum(dim=)``): in
            ``core/tensor.py``, ``graphgrad.ops`` and ``core/numpy_dispatch.py``'s adapters.
            Nothing is generated; ``install`` checks that they exist, the tests that they
            record this op, and the API page lists them with the rest.
    """

    method: str | None = None
    function: str | None = None
    operator: str | None = None
    numpy: tuple[Any, ...] = ()
    by_hand: bool = False


@dataclass(frozen=True)
class Generated:
    """One generated callable: where it went and what it records (for the stubs, the API
    page and the tests)."""

    owner: str  # "Tensor" or "ops"
    name: str
    op: type
    fn: Callable[..., Any]


def _parameters(op: Any) -> list[inspect.Parameter]:
    params = list(inspect.signature(op.forward).parameters.values())[1:]  # without ctx
    if not params or any(p.kind != p.POSITIONAL_OR_KEYWORD for p in params):
        raise TypeError(f"{op.__name__}.forward must take (ctx, x, ...) positional parameters")
    return params


def _summary(op: type) -> str:
    return (op.__doc__ or op.__name__).strip().split("\n\n")[0]


def _build(
    name: str,
    params: list[str],
    call: str,
    defaults: tuple[Any, ...],
    annotations: dict[str, Any],
    doc: str,
    scope: dict[str, Any],
) -> Callable[..., Any]:
    source = f"def {name}({', '.join(params)}):\n    return {call}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<graphgrad.ops: {name}>", "exec"), scope, namespace)
    fn = namespace[name]
    fn.__defaults__ = defaults or None
    fn.__annotations__ = annotations
    fn.__doc__ = doc
    return fn


def _call(op_name: str, args: list[str]) -> str:
    if len(args) == 1:
        return f"apply1({op_name}, {args[0]})"
    if len(args) == 2:
        return f"apply2({op_name}, {args[0]}, {args[1]})"
    return f"{op_name}.apply({', '.join(args)})"


def install(
    ops: list[type], tensor_cls: type, namespace: dict[str, Any], scope: dict[str, Any]
) -> list[Generated]:
    """Generate every declared spelling of ``ops``: methods and operators onto
    ``tensor_cls``, functions into ``namespace`` (a module's globals), NumPy entries into
    the dispatch table. ``scope`` supplies the recording paths the generated code calls
    (``apply1``, ``apply2``, ``_in_place``). Refuses a name that something else owns."""
    from graphgrad.core import numpy_dispatch  # (the Tensor–ops cycle: see tensor.py)

    made: list[Generated] = []
    for op in ops:
        s: Spellings | None = op.__dict__.get("spellings")
        if s is None:
            continue
        if s.by_hand:
            missing = (
                [f"Tensor.{s.method}"] if s.method and not hasattr(tensor_cls, s.method) else []
            )
            if s.function and s.function not in namespace:
                missing.append(f"graphgrad.ops.{s.function}")
            if missing:
                raise TypeError(
                    f"{op.__name__} declares hand-written {missing}, which do not exist"
                )
            continue
        for owner, name, fn in _callables(op, s, scope):
            _place(op, owner, name, fn, tensor_cls, namespace)
            made.append(Generated(owner, name, op, fn))
        for u in s.numpy:
            numpy_dispatch.answer(u, op)
    return made


def _callables(
    op: type, s: Spellings, scope: dict[str, Any]
) -> list[tuple[str, str, Callable[..., Any]]]:
    """(owner, name, function) for each spelling of ``op``."""
    params = _parameters(op)
    names = [p.name for p in params]
    defaults = tuple(p.default for p in params if p.default is not p.empty)
    notes = {p.name: p.annotation for p in params if p.annotation is not p.empty}
    key = f"_op_{op.__name__}"
    local = {**scope, key: op}
    doc = _summary(op)
    tensor_notes = {**notes, "return": "Tensor"}
    out: list[tuple[str, str, Callable[..., Any]]] = []
    if s.method is not None:
        args = ["self", *names[1:]]
        fn = _build(s.method, args, _call(key, args), defaults, tensor_notes, doc, local)
        out.append(("Tensor", s.method, fn))
    if s.function is not None:
        fn = _build(s.function, names, _call(key, names), defaults, tensor_notes, doc, local)
        out.append(("ops", s.function, fn))
    if s.operator in _UNARY:
        dunder = _UNARY[s.operator]
        fn = _build(dunder, ["self"], _call(key, ["self"]), (), {"return": "Tensor"}, doc, local)
        out.append(("Tensor", dunder, fn))
    elif s.operator is not None:
        dunder, reflected, in_place, symbol = _BINARY[s.operator]
        both = {"other": "ArrayLike", "return": "Tensor"}
        pair = ["self", "other"]
        calls = [(dunder, _call(key, pair), f"``t {symbol} x``: {doc}")]
        if reflected is not None:
            calls.append((reflected, _call(key, ["other", "self"]), f"``x {symbol} t``: {doc}"))
        if in_place is not None:
            local[f"_ufunc_{op.__name__}"] = s.numpy[0]
            call = f"_in_place.apply(self, other, {key}, _ufunc_{op.__name__}, {symbol + '='!r})"
            calls.append((in_place, call, f"``t {symbol}= x``, changing t (core.in_place)"))
        for name, call, text in calls:
            out.append(("Tensor", name, _build(name, pair, call, (), both, text, local)))
    return out


def _place(
    op: type,
    owner: str,
    name: str,
    fn: Callable[..., Any],
    tensor_cls: type,
    namespace: dict[str, Any],
) -> None:
    """Put a generated callable in its place, refusing to replace anything."""
    if owner == "Tensor":
        if any(name in vars(k) for k in tensor_cls.__mro__):
            raise TypeError(f"{op.__name__} declares Tensor.{name}, which already exists")
        fn.__qualname__ = f"Tensor.{name}"
        setattr(tensor_cls, name, fn)
    else:
        if name in namespace:
            raise TypeError(f"{op.__name__} declares the function {name}, which already exists")
        fn.__module__ = namespace["__name__"]
        namespace[name] = fn


def stub_lines(made: list[Generated], owner: str, indent: str) -> list[str]:
    """The type checker's declarations of the generated callables of ``owner``."""
    lines = []
    for g in sorted(made, key=lambda g: g.name):
        if g.owner != owner:
            continue
        sig = inspect.signature(g.fn)
        parts = []
        for p in sig.parameters.values():
            ann = p.annotation
            text = p.name if ann is p.empty else f"{p.name}: {ann}"
            if p.default is not p.empty:
                text += f" = {p.default!r}"
            parts.append(text)
        ret = sig.return_annotation
        lines.append(f"{indent}def {g.name}({', '.join(parts)}) -> {ret}: ...")
    return lines
