"""NumPy's dispatch protocols for Tensors (``__array_ufunc__``, ``__array_function__``):
the one place where NumPy calls meet Tensors (docs/design.md, "The NumPy boundary").

* NumPy functions graphgrad can differentiate (``np.exp(t)``, ``np.sum(t, axis)``,
  ``np.concatenate([t, u])``, ``np.split(t, 2)``, ``arr @ t`` ...) run the graphgrad op and
  return recorded Tensors. This is also what lets one backward rule serve ndarrays and
  Tensors.
* Every other NumPy function and ufunc method runs on *read-only* views of the tensors'
  arrays, so nothing can write into a tensor behind the graph's back. Its result is returned
  as it is when that loses no gradient: a result holding no floating-point array (``np.isnan``,
  ``np.argmax``, ``np.allclose``, ``np.shape``), or no argument that requires grad.
* A floating (or complex, or object) result computed from a tensor that requires grad —
  alone or inside a tuple or list of results (``np.histogram``, ``np.linalg.svd``) — raises
  ``TypeError``: returning it would silently drop the gradient.
* A function that writes into an argument (``np.copyto``, ``np.put``, ``np.place``,
  ``np.add.at``, ``out=``) is refused while it would be recorded (a tensor involved requires
  grad and recording is on), as ``t += x`` is; otherwise the write happens as ``t -= x``
  does: into a leaf's own array, noted for the saved-array guard (graphgrad.core.in_place), or into
  a copy for a non-leaf (its op may have saved the old array).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from graphgrad.core.grad_mode import is_grad_enabled, tracer

# NumPy ufuncs that are graphgrad ops, filled from the ops' declared spellings
# (graphgrad.ops.declare): np.exp(t) records Exp, array * t records Mul.
UFUNCS: dict[Any, Any] = {}


def answer(numpy_callable: Any, op: Any) -> None:
    """Make ``numpy_callable`` (a ufunc) record ``op`` when it meets a Tensor."""
    if not isinstance(numpy_callable, np.ufunc):
        raise TypeError(f"{op.__name__}: {numpy_callable!r} is not a NumPy ufunc")
    if UFUNCS.get(numpy_callable, op) is not op:
        raise ValueError(f"np.{numpy_callable.__name__} already answers to another op")
    UFUNCS[numpy_callable] = op


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _reduction(name: str) -> Callable[..., Tensor]:
    def reduce(
        a: Any,
        axis: Any = None,
        dtype: Any = None,
        out: Any = None,
        keepdims: Any = False,
        **unused: Any,
    ) -> Tensor:
        if out is not None or dtype is not None or unused:
            raise TypeError(f"np.{name} on a Tensor supports axis= and keepdims= only")
        return getattr(_t(a), name)(axis=axis, keepdims=bool(keepdims))

    return reduce


def _function_table() -> dict[Any, Callable[..., Any]]:
    return {
        np.sum: _reduction("sum"),
        np.mean: _reduction("mean"),
        np.max: _reduction("max"),
        np.amax: _reduction("max"),
        np.min: _reduction("min"),
        np.amin: _reduction("min"),
        np.reshape: _reshape,
        np.transpose: lambda a, axes=None: _t(a).transpose(axes),
        np.swapaxes: lambda a, axis1, axis2: _t(a).swapaxes(axis1, axis2),
        np.squeeze: lambda a, axis=None: _t(a).squeeze(axis),
        np.expand_dims: lambda a, axis: _t(a).unsqueeze(axis),
        np.broadcast_to: lambda array, shape, subok=False: ops.broadcast_to(array, shape),
        np.concatenate: lambda arrays, axis=0, **kw: ops.concat(
            arrays, axis=_only_axis("concatenate", axis, kw)
        ),
        np.stack: lambda arrays, axis=0, **kw: ops.stack(
            arrays, axis=_only_axis("stack", axis, kw)
        ),
        np.dot: _dot,
        np.clip: lambda a, a_min=None, a_max=None: _t(a).clip(a_min, a_max),
        np.where: _where,
        np.split: _splitter("split", None),
        np.array_split: _splitter("array_split", None),
        np.hsplit: _splitter("hsplit", "h"),
        np.vsplit: _splitter("vsplit", 0),
        np.dsplit: _splitter("dsplit", 2),
    }


def _splitter(name: str, fixed_axis: int | str | None) -> Callable[..., list[Tensor]]:
    """np.split and its relatives as recorded slices (GetItem ops) of the tensor. NumPy
    itself splits a zero-stride stand-in of the same shape, so the piece boundaries, the
    validation and the errors are NumPy's own."""
    func = getattr(np, name)

    def split(ary: Any, indices_or_sections: Any, *args: Any, **kwargs: Any) -> list[Tensor]:
        t = _t(ary)
        probe = np.broadcast_to(np.zeros((), dtype=t.data.dtype), t.shape)
        pieces = func(probe, indices_or_sections, *args, **kwargs)
        if fixed_axis is None:
            axis = args[0] if args else kwargs.get("axis", 0)
        elif fixed_axis == "h":
            axis = 1 if t.ndim > 1 else 0
        else:
            axis = fixed_axis
        axis = normalize_axis_index(int(axis), max(t.ndim, 1))  # NumPy checked it above
        out, start = [], 0
        for p in pieces:
            stop = start + p.shape[axis]
            out.append(t[(slice(None),) * axis + (slice(start, stop),)])
            start = stop
        return out

    return split


def _only_axis(name: str, axis: Any, kwargs: dict[str, Any]) -> Any:
    """Refuse keywords the graphgrad op cannot honour (out=, dtype=, ...) rather than
    silently ignoring them."""
    unused = {
        k: v
        for k, v in kwargs.items()
        if v is not None and not (k == "casting" and v == "same_kind")
    }
    if unused:
        raise TypeError(f"np.{name} on Tensors supports axis= only, got {sorted(unused)}")
    return axis


def _reshape(a: Any, shape: Any = None, order: str = "C", **kw: Any) -> Tensor:
    if order != "C":
        raise TypeError("np.reshape on a Tensor supports order='C' only")
    return _t(a).reshape(kw.pop("newshape", shape) if shape is None else shape)


def _needs_tensor(x: Any) -> bool:
    return isinstance(x, Tensor) or (isinstance(x, tuple) and any(isinstance(i, Tensor) for i in x))


def _needs_grad(args: Any) -> bool:
    for a in args:
        if isinstance(a, Tensor):
            if a._rg:
                return True
        elif isinstance(a, (list, tuple)) and _needs_grad(a):
            return True
    return False


def _plain(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(i) for i in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _replace(x: Any, arrays: dict[int, np.ndarray]) -> Any:
    """``x`` with each Tensor in it (also inside lists, tuples and dicts) replaced by
    ``arrays[id(tensor)]``."""
    if isinstance(x, Tensor):
        return arrays[id(x)]
    if isinstance(x, list):
        return [_replace(i, arrays) for i in x]
    if isinstance(x, tuple):
        return tuple(_replace(i, arrays) for i in x)
    if isinstance(x, dict):
        return {k: _replace(v, arrays) for k, v in x.items()}
    return x


def _tensors(x: Any, found: dict[int, Tensor]) -> dict[int, Tensor]:
    """Every Tensor inside ``x`` (lists, tuples, dicts), by id."""
    if isinstance(x, Tensor):
        found[id(x)] = x
    elif isinstance(x, (list, tuple)):
        for i in x:
            _tensors(i, found)
    elif isinstance(x, dict):
        for v in x.values():
            _tensors(v, found)
    return found


def _read_only(t: Tensor) -> np.ndarray:
    # np.array of a NumPy scalar (a 0-d comparison's result) copies it into an array
    view = t.data.view() if type(t.data) is np.ndarray else np.array(t.data)
    view.flags.writeable = False
    return view


def _numpy_name(func: Any) -> str:
    """``np.linalg.norm``'s name as written: ``linalg.norm`` (``sum`` for ``np.sum``)."""
    module = getattr(func, "__module__", None) or "numpy"
    if module.startswith("numpy.") and not module.startswith("numpy._"):
        return f"{module[len('numpy.') :]}.{func.__name__}"
    return func.__name__


def _where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """np.where(cond, a, b) is the Where op; np.where(cond) (indices) is not differentiable."""
    if x is None and y is None:
        return np.where(_plain(condition))
    if x is None or y is None:
        raise TypeError("np.where takes either a condition alone or a condition, x and y")
    return ops.Where.apply(condition, x, y)


def _dot(a: Any, b: Any, out: Any = None) -> Tensor:
    """np.dot is np.matmul for vectors and matrices (and multiplication for scalars)."""
    if out is not None:
        raise TypeError("np.dot on Tensors does not support out=")
    ranks = (np.ndim(_plain(a)), np.ndim(_plain(b)))
    if 0 in ranks:
        return ops.Mul.apply(a, b)
    if max(ranks) > 2:
        raise TypeError(
            "np.dot of arrays with more than 2 dimensions sums over other axes than matmul "
            "does; graphgrad differentiates np.matmul / @ (batched over leading axes)"
        )
    return ops.matmul(a, b)


def _into(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A ufunc called with ``out=`` naming a Tensor: an in-place write, allowed only when
    nothing would be recorded (as for ``t += x``)."""
    outs = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
    if is_grad_enabled() and (_needs_grad(inputs) or _needs_grad(outs)):
        raise TypeError(
            f"np.{ufunc.__name__}(..., out=t) writes into a tensor in place, which graphgrad "
            f"does not record: write t = np.{ufunc.__name__}(...) for a new tensor, use "
            "t += x (t -= x, ...), or do it under gg.no_grad()"
        )
    _refuse_foreign_dtypes(f"np.{ufunc.__name__}(..., out=t)", inputs, kwargs)
    # as for t += x: a leaf's array is written (and the write noted), a non-leaf's copied
    targets = tuple(writable(o) if isinstance(o, Tensor) else o for o in outs)
    getattr(ufunc, method)(*_plain(inputs), **{**_plain(kwargs), "out": targets})
    for o, target in zip(outs, targets):
        if isinstance(o, Tensor):
            if target is o.data:
                note_write(target)
            o.data = target
    return outs[0] if len(outs) == 1 else outs


def _refuse_foreign_dtypes(name: str, args: Any, kwargs: dict[str, Any]) -> None:
    """A write of complex or object values into a tensor would change what it holds."""
    dtype = kwargs.get("dtype")
    if dtype is not None and np.dtype(dtype).kind not in "biuf":
        raise TypeError(f"{name}: graphgrad tensors hold real numbers, not dtype {dtype}")


def _float_inside(result: Any) -> bool:
    """Whether ``result`` is, or holds (in tuples and lists: several outputs), a value that
    could carry a gradient: a floating, complex or object array or scalar."""
    if isinstance(result, np.ndarray | np.generic):
        return result.dtype.kind not in "biuSUMmV"
    if isinstance(result, (float, complex)):
        return True
    if isinstance(result, (list, tuple)):
        return any(_float_inside(r) for r in result)
    return False


def _described(args: Any) -> str:
    """The tensors among ``args``, for a message: ``Tensor (3,) float64 requiring grad``."""
    found = _tensors(args, {}).values()
    return ", ".join(
        f"Tensor {t.shape} {t.dtype}" + (" requiring grad" if t._rg else "") for t in found
    )


def _undifferentiable(name: str, args: Any, result: Any) -> Any:
    if _needs_grad(args) and _float_inside(result):
        raise TypeError(
            f"np.{name} (on {_described(args)}) is not a graphgrad operation, so its result "
            f"would carry no gradient. Use np.{name}(t.data) for a constant, compose it "
            "from graphgrad ops, or define it as a gg.Function with its own backward rule"
        )
    return result


def _outside_call(
    name: str, call: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run a NumPy function (or ufunc method) graphgrad does not record on the tensors'
    arrays. They are passed read-only, so a function that writes into one fails there and
    is then run again under the write rules (``_write_through``). ``ufunc.at`` ignores the
    read-only flag (NumPy writes through it), so it goes to the write rules directly."""
    tensors = _tensors((args, kwargs), {})
    if tracer[0] is not None:  # gg.compile: a NumPy result computed outside the trace
        for t in tensors.values():
            tracer[0].value_read(t, f"np.{name}")  # type: ignore[attr-defined]
    out = kwargs.get("out")
    if out is not None and _needs_grad(args) and _float_inside(out):
        raise TypeError(  # refused before NumPy writes anything
            f"np.{name}(..., out=array) (on {_described(args)}) would write values "
            "computed from a tensor that requires grad into a NumPy array, outside the "
            "graph: use the result of the graphgrad op (a new tensor), or t.detach() on "
            "purpose for a constant"
        )
    if name.endswith(".at") and isinstance(args[0], Tensor):
        return _write_through(name, call, args, kwargs, tensors)
    views = {k: _read_only(t) for k, t in tensors.items()}
    try:
        result = call(*_replace(args, views), **_replace(kwargs, views))
    except ValueError as exc:
        if "read-only" not in str(exc):
            raise
        return _write_through(name, call, args, kwargs, tensors)
    return _undifferentiable(name, (args, tuple(kwargs.values())), result)


def _write_through(
    name: str,
    call: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    tensors: dict[Any, Any],
) -> Any:
    """A NumPy function that writes into a tensor: refused while it would be recorded, else
    applied as ``t -= x`` is (a leaf's own array is written and the write noted; a
    non-leaf gets a new array, since its op may have saved the old one)."""
    if is_grad_enabled() and any(t._rg for t in tensors.values()):
        raise TypeError(
            f"np.{name} (on {_described((args, kwargs))}) writes into a tensor's array in "
            "place, which graphgrad does not record, so a gradient through it would be "
            "wrong: build the new value with graphgrad ops (gg.where(mask, v, t), t * mask, "
            "gg.concat), or write under gg.no_grad() for a change no gradient flows through "
            "(an initialisation)"
        )
    _refuse_foreign_dtypes(f"np.{name}", args, kwargs)
    copies = {k: np.array(t.data) for k, t in tensors.items()}
    result = call(*_replace(args, copies), **_replace(kwargs, copies))
    for k, t in tensors.items():
        new = copies[k]
        if new.tobytes() == t.data.tobytes():
            continue  # not written
        if t._node is None:
            t.data[...] = new
            note_write(t.data)
        else:
            t.data = new
    return result


# NumPy functions with their own argument conventions, adapted to Tensor methods and ops;
# built on first use (they name the ops, which import this module's Tensor).
_FUNCTIONS: dict[Any, Callable[..., Any]] = {}


def array_ufunc(
    ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``Tensor.__array_ufunc__``."""
    if method == "__call__" and not kwargs:
        op = UFUNCS.get(ufunc)
        if op is not None:
            n = len(inputs)
            if n == 2:
                return apply2(op, inputs[0], inputs[1])
            if n == 1:
                return apply1(op, inputs[0])
        elif ufunc is np.positive:
            return inputs[0]
    if kwargs.get("out") is not None and _needs_tensor(kwargs["out"]):
        return _into(ufunc, method, inputs, kwargs)
    name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
    return _outside_call(name, getattr(ufunc, method), inputs, kwargs)


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tensor.__array_function__``."""
    if not _FUNCTIONS:
        _FUNCTIONS.update(_function_table())
    op = _FUNCTIONS.get(func)
    if op is not None:
        return op(*args, **kwargs)
    return _outside_call(_numpy_name(func), func, args, kwargs)


# The Tensor–ops import cycle (see graphgrad/core/tensor.py's end).
from graphgrad import ops  # noqa: E402
from graphgrad.core.function import apply1, apply2  # noqa: E402
from graphgrad.core.in_place import note_write, writable  # noqa: E402
from graphgrad.core.tensor import Tensor  # noqa: E402
