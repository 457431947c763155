"""NumPy's dispatch protocols for Tensors (``__array_ufunc__``, ``__array_function__``).

* NumPy functions graphgrad can differentiate (``np.exp(t)``, ``np.sum(t, axis)``,
  ``np.concatenate([t, u])``, ``arr @ t`` ...) run the graphgrad op and return a recorded
  Tensor. This is also what lets one backward rule serve ndarrays and Tensors.
* Other NumPy functions compute on the arrays and return ndarrays when that loses no
  gradient: a non-floating result (``np.isnan``, ``np.allclose``, comparisons) or no
  input that requires grad.
* A floating result computed from a tensor that requires grad raises ``TypeError``:
  silently returning an ndarray would silently drop the gradient.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from graphgrad import ops
from graphgrad.grad_mode import is_grad_enabled
from graphgrad.tensor import Tensor, _writable
from graphgrad.writes import note_write


def _ufunc_table() -> dict[Any, Callable[..., Tensor]]:
    # The binary ufuncs (np.add, np.multiply, np.matmul, ...) never get here when they
    # can be differentiated: Tensor.__array_ufunc__ sends them to their op directly.
    return {
        np.negative: ops.Neg.apply,
        np.positive: lambda x: x,
        np.exp: ops.Exp.apply,
        np.log: ops.Log.apply,
        np.tanh: ops.Tanh.apply,
        np.sqrt: lambda x: ops.Pow.apply(x, 0.5),
        np.square: lambda x: _t(x) * x,
        np.absolute: lambda x: _t(x).abs(),
        np.maximum: ops.Maximum.apply,
        np.minimum: ops.Minimum.apply,
    }


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


def _function_table() -> dict[Any, Callable[..., Tensor]]:
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
        np.matmul: ops.matmul,
        np.dot: _dot,
        np.clip: lambda a, a_min=None, a_max=None: _t(a).clip(a_min, a_max),
        np.where: _where,
    }


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


def _into(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict) -> Any:
    """A ufunc called with ``out=`` naming a Tensor: an in-place write, allowed only when
    nothing would be recorded (as for ``t += x``)."""
    outs = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
    if is_grad_enabled() and (_needs_grad(inputs) or _needs_grad(outs)):
        raise TypeError(
            f"np.{ufunc.__name__}(..., out=t) writes into a tensor in place, which graphgrad "
            f"does not record: write t = np.{ufunc.__name__}(...) for a new tensor, use "
            "t += x (t -= x, ...), or do it under gg.no_grad()"
        )
    # as for t += x: a leaf's array is written (and the write noted), a non-leaf's copied
    targets = tuple(_writable(o) if isinstance(o, Tensor) else o for o in outs)
    getattr(ufunc, method)(*_plain(inputs), **{**_plain(kwargs), "out": targets})
    for o, target in zip(outs, targets):
        if isinstance(o, Tensor):
            if target is o.data:
                note_write(target)
            o.data = target
    return outs[0] if len(outs) == 1 else outs


def _undifferentiable(name: str, args: Any, result: Any) -> Any:
    if (
        isinstance(result, np.ndarray | np.generic)
        and result.dtype.kind in "fc"
        and (_needs_grad(args))
    ):
        raise TypeError(
            f"np.{name} is not a graphgrad operation, so its result would carry no "
            f"gradient. Use np.{name}(t.data) for a constant, compose it from graphgrad "
            "ops, or define it as a gg.Function with its own backward rule"
        )
    return result


# Built on first use: graphgrad.ops is not importable yet when tensor.py imports this module.
_UFUNCS: dict[Any, Callable[..., Tensor]] = {}
_FUNCTIONS: dict[Any, Callable[..., Tensor]] = {}


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict) -> Any:
    if not _UFUNCS:
        _UFUNCS.update(_ufunc_table())
    op = _UFUNCS.get(ufunc)
    if op is not None and method == "__call__" and not kwargs:
        return op(*inputs)
    if kwargs.get("out") is not None and _needs_tensor(kwargs["out"]):
        return _into(ufunc, method, inputs, kwargs)
    result = getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))
    return _undifferentiable(ufunc.__name__, inputs, result)


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict) -> Any:
    if not _FUNCTIONS:
        _FUNCTIONS.update(_function_table())
    op = _FUNCTIONS.get(func)
    if op is not None:
        return op(*args, **kwargs)
    result = func(*_plain(args), **_plain(kwargs))
    return _undifferentiable(_numpy_name(func), (args, tuple(kwargs.values())), result)
