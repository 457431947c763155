"""From a trace to two Python functions of straight-line NumPy calls.

``forward(<inputs>) -> (outputs, saved)`` computes the function's results;
``backward(saved, <output gradients>) -> <input gradients>`` is the backward pass that the
graph derives: each op's own rule, run once symbolically (graphgrad.compiler.symbolic), in
the order the engine runs them (newest op first), with the engine's bookkeeping written
out as code — a broadcast gradient summed back to its operand's shape, contributions to
one value added in the engine's order (in place where the engine would), sparse
gradients of slices scattered as the engine does. The generated code makes the calls the
eager engine makes, in the same order, so results agree bitwise (docs/compile.md,
"Exactness").

Only what the results need is generated: ops whose outputs reach no result are left out
(dead code), and backward work only flows along operands that require grad. An op whose
rule cannot be written down symbolically is called through a context object at run time
(its ``forward``/``backward`` themselves, still exact).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphgrad.compiler.symbolic import (
    Emitter,
    Sym,
    UnsupportedError,
    _has_sym,
    _index_src,
    active,
    value,
)
from graphgrad.compiler.trace import Ref, Trace
from graphgrad.core.engine import exclusive, reduce_to
from graphgrad.core.sparse_grad import IndexedGrad, tile
from graphgrad.errors import CompileError


@dataclass
class Generated:
    """The generated functions and what calling them needs."""

    source: str
    forward: Any
    backward: Any
    inputs: list[int]  # value indices, in the forward's parameter order
    outputs: list[int]  # value indices of the flattened results
    ops: int  # ops in the generated forward
    fallback: list[str]  # op classes called through a context object
    # every gradient the backward returns is a new array that nothing else references (so
    # the engine may keep it as a leaf's .grad without a copy: Function.fresh_grads)
    fresh: bool = False


_HELPERS: dict[str, Any] = {}


def _helpers() -> dict[str, Any]:
    if not _HELPERS:
        from graphgrad.compiler import runtime

        _HELPERS.update(
            np=np,
            _new=object.__new__,
            _output=runtime.output,
            _grads=runtime.grads,
            _dense=runtime.dense,
            inf=math.inf,
        )
    return _HELPERS


def generate(trace: Trace, name: str, fallback: set[type]) -> Generated:
    """Generate the code; a class whose rule turns out not to be symbolic is added to
    ``fallback`` and the generation repeated."""
    while True:
        try:
            return _generate(trace, name, fallback)
        except _RetryError as r:
            fallback.add(r.cls)


class _RetryError(Exception):
    def __init__(self, cls: type) -> None:
        self.cls = cls


def _live(trace: Trace, outputs: list[int]) -> list[int]:
    """Records whose outputs some result needs (dead-code elimination), in order."""
    producer = {r.out: k for k, r in enumerate(trace.records)}
    need = set(outputs)
    keep: list[int] = []
    for k in range(len(trace.records) - 1, -1, -1):
        r = trace.records[k]
        if r.out not in need and not getattr(r.cls, "impure", False):
            continue
        keep.append(k)
        for ref in refs((r.operands, r.kwargs)):
            if ref.index in producer:
                need.add(ref.index)
    keep.reverse()
    return keep


def refs(x: Any) -> list[Ref]:
    """The Refs inside operands (tuples, lists, dicts of them)."""
    if type(x) is Ref:
        return [x]
    if type(x) in (tuple, list):
        return [r for v in x for r in refs(v)]
    if type(x) is dict:
        return [r for v in x.values() for r in refs(v)]
    return []


def flat_outputs(x: Any) -> list[int]:
    return [r.index for r in refs(x)]


def _generate(trace: Trace, name: str, fallback: set[type]) -> Generated:
    values = trace.values
    # a value returned twice (``return y, y``) is one output, one tensor, as eagerly
    outputs = list(dict.fromkeys(flat_outputs(trace.outputs)))
    inputs = [v.index for v in values if v.kind in ("input", "free")]
    live = _live(trace, outputs)
    fem = Emitter()
    bem = Emitter(fem)
    consts = fem.consts
    syms: dict[int, Sym] = {}
    for i in inputs:
        v = values[i]
        ex = v.example.copy() if isinstance(v.example, np.ndarray) else v.example
        syms[i] = Sym(fem, fem.name(v.hint), ex)
    ctxs: dict[int, Any] = {}  # record -> the symbolic ctx, or a Sym naming a run-time one
    for k in live:
        r = trace.records[k]
        example = values[r.out].example
        hint = r.label or f"{r.cls.__name__.lower().lstrip('_')}{k}"
        operands = _resolve(r.operands, syms)
        kwargs = _resolve(r.kwargs, syms)
        out: Any = None
        if r.cls not in fallback:
            ctx: Any = object.__new__(r.cls)
            ctx.needs_input_grad = r.needs
            start = len(fem.lines)
            active.append(fem)
            try:
                out = r.cls.forward(
                    ctx,
                    *operands,
                    **kwargs,
                )
                if type(out) is not Sym:
                    raise UnsupportedError("the output is not an array of the generated code")
                if not _same_array(out.value, example):
                    raise UnsupportedError("the symbolic forward computed different values")
                _rename(fem, out, start, hint)
                ctxs[k] = ctx
            except UnsupportedError:
                del fem.lines[start:]
                fallback.add(r.cls)
                out = None
            finally:
                active.pop()
        draw = getattr(r.cls, "draw", None)
        if out is None and draw is not None:  # a random draw: its function, called again
            fn_ref = fem.const(draw, draw.__name__.lstrip("_"))
            args = [fem.fmt(o) for o in operands]
            out = fem.assign(f"{fn_ref}({', '.join(args)})", example, hint)
            ctxs[k] = None
        if out is None:  # through a context object at run time
            cname = r.cls.__name__
            cls_ref = fem.const(r.cls, cname)
            ctx_name = fem.name(f"ctx{k}")
            fem.stmt(f"{ctx_name} = _new({cls_ref})")
            fem.stmt(f"{ctx_name}.needs_input_grad = {r.needs!r}")
            args = [ctx_name, *(fem.fmt(o) for o in operands)]
            args += [f"{key}={fem.fmt(v)}" for key, v in kwargs.items()]
            call = f"{cls_ref}.forward({', '.join(args)})"
            out = fem.assign(f"_output({cls_ref}, {ctx_name}, {call})", example, hint)
            ctxs[k] = Sym(fem, ctx_name, None)
        syms[r.out] = out

    # ---------------------------------------------------------------- backward
    needs_grad = {i for i in inputs if values[i].requires_grad}
    acc: dict[int, _Acc] = {}
    grad_of: dict[str, str] = {}  # a temporary -> the value it is the gradient of
    seeds: list[Sym | None] = []
    active.append(bem)
    try:
        for i in outputs:
            if not values[i].requires_grad:
                seeds.append(None)
                continue
            g = Sym(bem, bem.name(f"d_{syms[i].name}"), np.ones_like(values[i].example))
            seeds.append(g)
            if i in acc:  # the same value returned twice: the two gradients add up
                acc[i].add_dense(bem, g, g, None, (g,))
            else:
                acc[i] = _Acc(values[i].example, leaf=i in inputs)
                acc[i].state = ("dense", g, False)
        for k in reversed(live):
            r = trace.records[k]
            a = acc.get(r.out)
            if a is None or not any(r.needs):
                continue
            own = a.state[0] == "sparse" or bool(a.state[2])  # the engine's ``own``
            g = a.assemble(bem)
            grad_of.setdefault(g.name, syms[r.out].name)
            into = own and getattr(r.cls, "backward_into", None) is not None
            if isinstance(ctxs[k], Sym):
                _fallback_backward(bem, trace, k, ctxs[k], g, syms, acc, inputs, into)
                continue
            if into:  # the rule writes into g at run time: called through its context
                raise _RetryError(r.cls)
            ctx = ctxs[k]
            try:
                grads = r.cls.backward(ctx, g)
            except UnsupportedError:
                raise _RetryError(r.cls) from None
            if type(grads) is not tuple:
                grads = tuple(grads) if type(grads) is list else (grads,)
            grads = _checked(r, grads, g)
            for pos, (opnd, gi) in enumerate(zip(r.operands, grads)):
                if gi is None or not r.needs[pos] or type(opnd) is not Ref:
                    continue
                target = opnd.index
                va = values[target]
                dst = acc.get(target)
                if dst is None:
                    dst = acc[target] = _Acc(va.example, leaf=target in inputs)
                if type(gi) is IndexedGrad:
                    dst.add_sparse(bem, gi)
                    continue
                if not isinstance(gi, Sym):
                    if _has_sym(gi, opaque=True):
                        raise _RetryError(r.cls)
                    # (a copy at every call: eagerly the rule returns a new array each
                    # time, which the engine may keep as a .grad or add into in place)
                    c = np.asarray(gi)
                    gi = bem.assign(f"{bem.const(c, 'g')}.copy()", c.copy())
                dst.add_dense(bem, gi, g, ctx, grads)
        results = []
        for i in inputs:
            a = acc.get(i)
            res = None if a is None or i not in needs_grad else a.assemble(bem)
            if isinstance(res, Sym):
                grad_of.setdefault(res.name, syms[i].name)
            results.append(res)
    finally:
        active.pop()

    # ---------------------------------------------------------------- the source
    saved = list(bem.borrowed.values())
    keep_f = {syms[i].name for i in outputs} | {x.name for x in saved}
    sizes = {**fem.sizes, **bem.sizes}
    for i in inputs:
        sizes[syms[i].name] = int(np.size(values[i].example))
    for x in seeds:
        if x is not None:
            sizes[x.name] = int(np.size(x.value))
    fem.lines = _free_dead(fem.lines, {syms[i].name for i in inputs}, keep_f, sizes)
    keep_b = {x.name for x in results if isinstance(x, Sym)}
    params = {x.name for x in saved} | {x.name for x in seeds if x is not None}
    bem.lines = _free_dead(bem.lines, params, keep_b, sizes)
    _name_gradients(bem, grad_of, results)
    f_params = ", ".join(syms[i].name for i in inputs)
    out_src = ", ".join(f"np.asarray({syms[i].name})" for i in outputs)
    saved_src = ", ".join(s.name for s in saved)
    lines = [f"def forward_{name}({f_params}):"]
    lines += [f"    {ln}" for ln in fem.lines]
    out_tuple = f"({out_src}{',' if len(outputs) == 1 else ''})"
    saved_tuple = f"({saved_src}{',' if len(saved) == 1 else ''})"
    lines.append(f"    return {out_tuple}, {saved_tuple}")
    lines.append("")
    lines.append("")
    seed_names = [s.name if s is not None else f"_unused{j}" for j, s in enumerate(seeds)]
    lines.append(f"def backward_{name}(saved, {', '.join(seed_names)}):")
    if saved:
        lines.append(f"    {saved_src}{',' if len(saved) == 1 else ''} = saved")
    lines += [f"    {ln}" for ln in bem.lines]
    res_src = ", ".join(r.name if isinstance(r, Sym) else "None" for r in results)
    lines.append(f"    return ({res_src}{',' if len(results) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    scope = dict(_helpers())
    scope.update(consts)
    try:
        code = compile(source, f"<gg.compile: {name}>", "exec")
    except SyntaxError as exc:  # a bug of the generator: say so with the source
        raise CompileError(f"gg.compile generated invalid code ({exc}):\n{source}") from exc
    exec(code, scope)
    return Generated(
        source=source,
        forward=scope[f"forward_{name}"],
        backward=scope[f"backward_{name}"],
        inputs=inputs,
        outputs=outputs,
        ops=len(live),
        fallback=sorted(c.__name__ for c in fallback if getattr(c, "draw", None) is None),
        fresh=_fresh(results, seeds + saved, bem.opaque, consts),
    )


def _fresh(
    results: list[Any], others: list[Any], opaque: list[Any], consts: dict[str, Any]
) -> bool:
    """Whether every gradient the backward returns is an array of its own that nothing else
    holds once it returns — as the engine's ``exclusive`` would find it, so that the engine
    keeps it as a leaf's .grad as it is, where eagerly it would keep the same array.
    Decided on the examples, whose views are views exactly where the generated code's are
    (``Sym.base``): no result is a view (eagerly the engine copies a view, into C order),
    no two are one array, and none is, or owns the memory of, a seed or a saved array
    (``others``: the engine and the node hold those), a constant of the code, or an array
    a rule run through its context returned (``opaque``: what that aliases at run time its
    example does not show). A result a NumPy call made from any of those (a product, a
    sum, an elementwise op) is its own."""
    syms = [r for r in results if isinstance(r, Sym)]
    if any(_owner(r.value) is not r.value for r in syms):
        return False
    roots = [id(r.value) for r in syms]
    if len(set(roots)) != len(roots):
        return False
    held = {id(_owner(s.value)) for s in others if isinstance(s, Sym)}
    held.update(id(_owner(x)) for x in opaque)
    held.update(id(_owner(c)) for c in consts.values() if isinstance(c, np.ndarray))
    return held.isdisjoint(roots)


def _owner(x: Any) -> Any:
    """The array that owns ``x``'s memory (``x`` itself unless it is a view)."""
    while isinstance(getattr(x, "base", None), np.ndarray):
        x = x.base
    return x


def _resolve(x: Any, syms: dict[int, Sym]) -> Any:
    if type(x) is Ref:
        return syms[x.index]
    t = type(x)
    if t is tuple:
        return tuple(_resolve(v, syms) for v in x)
    if t is list:
        return [_resolve(v, syms) for v in x]
    if t is dict:
        return {k: _resolve(v, syms) for k, v in x.items()}
    return x


def _checked(r: Any, grads: tuple[Any, ...], g: Sym) -> tuple[Any, ...]:
    """The symbolic rule's gradients, checked against the op's rule run on the eager node
    with the same upstream gradient: values bitwise equal, the same kind (dense or sparse);
    a sparse gradient takes the eager one's ``repeats`` (decided from the index's types,
    which a symbolic index does not have). Anything else: the op runs through its context
    (``_RetryError``)."""
    if r.node is None:
        raise _RetryError(r.cls)
    want = r.cls.backward(r.node, g.value)
    if type(want) is not tuple:
        want = tuple(want) if type(want) is list else (want,)
    out = list(grads)
    for pos, need in enumerate(r.needs):
        if not need:
            continue
        gi = grads[pos] if pos < len(grads) else None
        wi: Any = want[pos] if pos < len(want) else None
        if (gi is None) != (wi is None) or (type(gi) is IndexedGrad) != (type(wi) is IndexedGrad):
            raise _RetryError(r.cls)
        if gi is None:
            continue
        if type(gi) is IndexedGrad:
            gi = IndexedGrad(gi.index, gi.values, gi.shape, wi.repeats)
            out[pos] = gi
            got_index = value(gi.index)
            if gi.shape == wi.shape and _same_index(got_index, wi.index):
                got, wi = value(gi.values), wi.values  # (no dense array per slice: linear)
            else:
                got = IndexedGrad(got_index, value(gi.values), gi.shape, wi.repeats).dense()
                wi = wi.dense()
        else:
            got = value(gi)
        if not _same_array(got, wi):
            raise _RetryError(r.cls)
    return tuple(out)


def _same_index(a: Any, b: Any) -> bool:
    """The same index, read the same way (ints, slices, None, Ellipsis, arrays, tuples)."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(_same_index(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return _same_array(a, b)
    if a is None or a is Ellipsis or type(a) in (int, slice, bool):
        return bool(a == b)
    return False


def _same_array(a: Any, b: Any) -> bool:
    """Bitwise equal (what the generated code promises; NaNs and signed zeros included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


_WORD = None


_LARGE = 1 << 12  # elements: in a short function, smaller arrays live to its end
_LONG = 1000  # lines: in a longer one, every array is freed after its last use


def _free_dead(
    lines: list[str], params: set[str], keep: set[str], sizes: dict[str, int]
) -> list[str]:
    """``del`` each array after the line that reads it last, so that a long graph's
    intermediates are freed as the eager engine frees a node's saved arrays, not at the
    function's end. In a short function only large arrays are (small ones cost nothing
    there, and the code reads better without the ``del`` lines); in a long one every
    array is (a T = 20,000 RNN's small per-step arrays add up)."""
    floor = 0 if len(lines) > _LONG else _LARGE
    import re

    global _WORD
    if _WORD is None:
        _WORD = re.compile(r"(?<![.\w])[A-Za-z_]\w*")
    defined = set(params)
    uses: list[set[str]] = []
    for ln in lines:
        words = set(_WORD.findall(ln))
        target = ln.split(" = ", 1)[0] if " = " in ln and "[" not in ln.split(" = ", 1)[0] else None
        if target is not None and target.isidentifier():
            defined.add(target)
        uses.append(words)
    last: dict[str, int] = {}
    for j, words in enumerate(uses):
        for w in words & defined:
            last[w] = j
    out: list[str] = []
    for j, ln in enumerate(lines):
        out.append(ln)
        dead = sorted(
            w
            for w in uses[j] & defined
            if last.get(w) == j and w not in keep and sizes.get(w, _LARGE) >= floor
        )
        if dead:
            out.append(f"del {', '.join(dead)}")
    return out


def _name_gradients(em: Emitter, grad_of: dict[str, str], results: list[Any]) -> None:
    """Name each gradient the backward pass assembles after its value (``d_tanh5``,
    ``d_W_hh``) instead of a temporary's name; one pass over the lines."""
    import re

    defined = {ln.split(" = ", 1)[0] for ln in em.lines if " = " in ln}
    new = {
        old: em.name(f"d_{hint}")
        for old, hint in grad_of.items()
        if old in defined and re.fullmatch(r"t\d+", old)
    }
    if not new:
        return
    pat = re.compile(r"\bt\d+\b")

    def sub(m: re.Match[str]) -> str:
        return new.get(m.group(), m.group())

    em.lines = [pat.sub(sub, ln) for ln in em.lines]
    for r in results:
        if isinstance(r, Sym) and r.name in new:
            r.name = new[r.name]


def _rename(em: Emitter, out: Sym, start: int, hint: str) -> None:
    """Give an op's output the op's name (``tanh3``) instead of a temporary's."""
    old = out.name
    new = em.name(hint)

    def sub(m: re.Match[str]) -> str:
        return new if m.group() == old else m.group()

    if old in em.sizes:
        em.sizes[new] = em.sizes.pop(old)
    pat = _TEMP if _TEMP.fullmatch(old) else re.compile(rf"\b{re.escape(old)}\b")
    for j in range(start, len(em.lines)):
        if old in em.lines[j]:
            em.lines[j] = pat.sub(sub, em.lines[j])
    out.name = new


_TEMP = re.compile(r"\bt\d+\b")  # the temporaries' names (Emitter.temp)


class _Acc:
    """One value's gradient as the engine accumulates it, written out as code.

    ``state``: None, ("dense", sym, owned) or ("sparse", [IndexedGrad], size); a leaf
    (an input of the compiled function) follows the engine's leaf path, any other value
    its node path (see graphgrad.core.engine._run, step 5)."""

    def __init__(self, example: Any, leaf: bool) -> None:
        self.shape = np.shape(example)
        self.leaf = leaf
        self.state: Any = None

    def add_dense(self, em: Emitter, gi: Sym, g: Sym, ctx: Any, grads: tuple[Any, ...]) -> None:
        if type(gi.value) is not np.ndarray:
            gi = em.assign(f"np.asarray({em.fmt(gi)})", np.asarray(gi.value))
        st = self.state
        if self.leaf:
            if gi.shape != self.shape:
                gi = _reduce_to(em, gi, self.shape)
                if st is None:
                    self.state = ("dense", gi, True)
                    return
            if st is None:
                self.state = ("dense", gi, exclusive(gi, g, ctx, grads))
            elif st[0] == "sparse":  # (a leaf's sparse sum is dense at once: not reached)
                raise AssertionError
            elif st[2]:
                em.stmt(f"{st[1].name} += {em.fmt(gi)}")
                st[1].value += gi.value
            else:
                self.state = ("dense", _sum(em, st[1], gi), True)
            return
        if gi.shape != self.shape:
            gi = _reduce_to(em, gi, self.shape)
        if st is None:
            self.state = ("dense", gi, False)
        elif st[0] == "dense" and st[2]:
            em.stmt(f"{st[1].name} += {em.fmt(gi)}")
            st[1].value += gi.value
        else:
            prev = self._dense_sparse(em) if st[0] == "sparse" else st[1]
            if gi.dtype == prev.dtype and exclusive(gi, g, ctx, grads):
                em.stmt(f"{gi.name} += {prev.name}")
                gi.value += prev.value
                self.state = ("dense", gi, True)
            else:
                self.state = ("dense", _sum(em, prev, gi), True)

    def add_sparse(self, em: Emitter, ig: IndexedGrad) -> None:
        st = self.state
        if st is None:
            if self.leaf:
                self.state = ("dense", _densify(em, ig), True)
            else:
                self.state = ("sparse", [ig], np.size(value(ig.values)))
            return
        if st[0] == "sparse":
            st[1].append(ig)
            size = st[2] + np.size(value(ig.values))
            self.state = ("sparse", st[1], size)
            if size > math.prod(self.shape):
                self.state = ("dense", self._dense_sparse(em), True)
            return
        buf = st[1]
        if not st[2]:
            buf = em.assign(f"{buf.name}.copy()", buf.value.copy())
        _add_to(em, buf, ig)
        self.state = ("dense", buf, True)

    def _dense_sparse(self, em: Emitter) -> Sym:
        parts: list[IndexedGrad] = self.state[1]
        if len(parts) > 1:
            examples = [
                IndexedGrad(value(p.index), value(p.values), p.shape, p.repeats) for p in parts
            ]
            tiled = tile(examples, self.shape)
            if tiled is not None:
                dtype = em.fmt(np.dtype(value(parts[0].values).dtype))
                out = em.assign(f"np.empty({self.shape!r}, dtype={dtype})", tiled)
                for p in parts:
                    em.stmt(f"{out.name}[{_index_src(em, p.index)}] = {em.fmt(p.values)}")
                return out
        out = _densify(em, parts[0])
        for p in parts[1:]:
            _add_to(em, out, p)
        return out

    def assemble(self, em: Emitter) -> Sym:
        st = self.state
        if st[0] == "sparse":
            out = self._dense_sparse(em)
            self.state = ("dense", out, True)
            return out
        return st[1]


def _densify(em: Emitter, ig: IndexedGrad) -> Sym:
    ex = IndexedGrad(value(ig.index), value(ig.values), ig.shape, ig.repeats).dense()
    dtype = em.fmt(np.dtype(ex.dtype))
    out = em.assign(f"np.zeros({ig.shape!r}, dtype={dtype})", ex)
    if ig.repeats:
        em.stmt(f"np.add.at({out.name}, {em.fmt(ig.index)}, {em.fmt(ig.values)})")
    else:
        em.stmt(f"{out.name}[{_index_src(em, ig.index)}] = {em.fmt(ig.values)}")
    return out


def _add_to(em: Emitter, buf: Sym, ig: IndexedGrad) -> None:
    IndexedGrad(value(ig.index), value(ig.values), ig.shape, ig.repeats).add_to(buf.value)
    if ig.repeats:
        em.stmt(f"np.add.at({buf.name}, {em.fmt(ig.index)}, {em.fmt(ig.values)})")
    else:
        em.stmt(f"{buf.name}[{_index_src(em, ig.index)}] += {em.fmt(ig.values)}")


def _sum(em: Emitter, a: Sym, b: Sym) -> Sym:
    s = a.value + b.value
    if type(s) is np.ndarray:
        return em.assign(f"{em.fmt(a)} + {em.fmt(b)}", s)
    return em.assign(f"np.asarray({em.fmt(a)} + {em.fmt(b)})", np.asarray(s))


def _reduce_to(em: Emitter, g: Sym, shape: tuple[int, ...]) -> Sym:
    """The engine's ``reduce_to`` on a symbol: the same NumPy calls, written as code."""
    active.append(em)
    try:
        out: Sym = reduce_to(g, shape, None, None)
    finally:
        active.pop()
    return out


def _fallback_backward(
    em: Emitter,
    trace: Trace,
    k: int,
    ctx: Sym,
    g: Sym,
    syms: dict[int, Sym],
    acc: dict[int, _Acc],
    inputs: list[int],
    into: bool,
) -> None:
    """An op's backward called through its run-time context; each gradient is made dense
    and summed back to its operand's shape at run time (graphgrad.compiler.runtime).
    ``into``: g is the engine's own array there, so the rule's ``backward_into`` runs, as
    the engine would call it."""
    r = trace.records[k]
    cls_ref = em.const(r.cls, r.cls.__name__)
    n = len(r.operands)
    res = em.name(f"grads{k}")
    rule = "backward_into" if into else "backward"
    em.stmt(f"{res} = _grads({cls_ref}.{rule}({em.fmt(ctx)}, {em.fmt(g)}), {n}, {cls_ref})")
    for pos, opnd in enumerate(r.operands):
        if not r.needs[pos] or type(opnd) is not Ref:
            continue
        va = trace.values[opnd.index]
        shape = np.shape(va.example)
        ex = np.zeros(shape, dtype=np.asarray(g.value).dtype)
        gi = em.assign(f"_dense({res}[{pos}], {shape!r}, {em.fmt(ex.dtype)})", ex)
        em.opaque.append(ex)
        dst = acc.get(opnd.index)
        if dst is None:
            dst = acc[opnd.index] = _Acc(va.example, leaf=opnd.index in inputs)
        dst.add_dense(em, gi, gi, None, (gi,))  # (may alias g or a saved array)
