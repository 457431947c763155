"""``Tensor``: an ndarray plus the graph node (op) that produced it.

A tensor created by the user is a *leaf*: ``_node is None``. Every primitive applied to
a tensor that requires grad returns a new tensor whose ``_node`` is that op's context,
which holds the op's input tensors. Edges therefore point only from outputs to inputs
(tensor -> node -> inputs), never back, so a graph is freed by reference counting
alone (DESIGN rule 6).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from graphgrad import runtime
from graphgrad.core import hints, hooks
from graphgrad.core.grad_mode import recording, threads_off, tracer
from graphgrad.errors import ShapeError

if TYPE_CHECKING:
    from graphgrad.core.function import Function
    from graphgrad.core.hooks import RemovableHandle

_new = object.__new__
_ndarray = np.ndarray

ArrayLike = Any  # anything np.asarray accepts: ndarray, list, Python scalar, Tensor
Shape = tuple[int, ...]


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Attributes:
        data: the live ``np.ndarray`` (writing ``p.data[...] = v`` changes the tensor). It
            is outside the graph on purpose: what is computed from it, or written into it,
            is not recorded (the saved-array guard does not see such writes either).
        grad: ``∂L/∂self`` as an ndarray of ``self.shape`` after ``backward()``, or None.
            It accumulates across backward calls until cleared (``t.grad = None``).
        requires_grad: whether gradients flow to this tensor.

    ``Tensor(data)`` and ``gg.tensor(data)`` copy ``data`` (a Tensor given is copied as a
    constant: its values, detached on purpose, like ``torch.tensor(t)``);
    ``gg.from_numpy(a)`` shares it. Only floating-point tensors may require grad.
    """

    __slots__ = ("__weakref__", "_grad", "_node", "_rg", "data")
    data: np.ndarray
    _grad: Any
    _node: Function | None
    _rg: bool
    __hash__ = object.__hash__  # == is elementwise, so hashing stays by identity

    if TYPE_CHECKING:  # generated from the ops' declared spellings (python docs/gen_api.py)
        # --- generated stubs: begin
        def __abs__(self) -> Tensor: ...
        def __add__(self, other: ArrayLike) -> Tensor: ...
        def __iadd__(self, other: ArrayLike) -> Tensor: ...
        def __imul__(self, other: ArrayLike) -> Tensor: ...
        def __ipow__(self, other: ArrayLike) -> Tensor: ...
        def __isub__(self, other: ArrayLike) -> Tensor: ...
        def __itruediv__(self, other: ArrayLike) -> Tensor: ...
        def __matmul__(self, other: ArrayLike) -> Tensor: ...
        def __mul__(self, other: ArrayLike) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __pow__(self, other: ArrayLike) -> Tensor: ...
        def __radd__(self, other: ArrayLike) -> Tensor: ...
        def __rmatmul__(self, other: ArrayLike) -> Tensor: ...
        def __rmul__(self, other: ArrayLike) -> Tensor: ...
        def __rpow__(self, other: ArrayLike) -> Tensor: ...
        def __rsub__(self, other: ArrayLike) -> Tensor: ...
        def __rtruediv__(self, other: ArrayLike) -> Tensor: ...
        def __sub__(self, other: ArrayLike) -> Tensor: ...
        def __truediv__(self, other: ArrayLike) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def clip(self, low: Any = None, high: Any = None) -> Tensor: ...
        def cos(self) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def sin(self) -> Tensor: ...
        def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def square(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...

        # --- generated stubs: end
        pass

    def __init__(
        self, data: ArrayLike, *, requires_grad: bool = False, dtype: Any = None, device: Any = None
    ) -> None:
        # keyword-only, as torch.tensor's: a positional Tensor(2, 3) is PyTorch's
        # uninitialised 2 x 3 tensor, which must not be read as data=2, requires_grad=3
        if device is not None:
            runtime.check_device(device, "Tensor")
        src = data
        if isinstance(data, Tensor):
            data = data.data
        elif type(data) is list or type(data) is tuple:
            _refuse_graph_inside(data, "gg.tensor")
            data = _values_inside(data)  # nothing is recorded: the tensors' values are wanted
        arr = np.array(data, dtype=dtype)
        if (
            dtype is None
            and arr.dtype is not runtime._default_dtype
            and arr.dtype.kind == "f"
            and not isinstance(data, (np.ndarray, np.generic))
        ):  # Python floats take the default dtype (an array keeps its own), as in PyTorch
            arr = arr.astype(runtime._default_dtype)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"graphgrad tensors hold real numbers (bool, int or float); got dtype {arr.dtype}"
            )
        self.data = arr
        self._grad = None
        self._rg = False
        self._node = None
        if requires_grad:
            self.requires_grad = True
        if tracer[0] is not None:  # gg.compile: a copy of a traced array is that array
            tracer[0].created(self, src)  # type: ignore[attr-defined]

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """``copy.deepcopy``: a new leaf of the same class with a copy of the values, the
        flag and ``.grad``, as PyTorch's. A tensor an op computed raises, as PyTorch's
        does: its graph is not copied (``t.detach().clone()`` is a copy of its values)."""
        if self._node is not None:
            raise RuntimeError(
                "copy.deepcopy: only leaf tensors (made by the user, not computed by an op) "
                "can be deep-copied, as in PyTorch; use t.detach() and copy that"
            )
        import copy

        new = object.__new__(type(self))
        memo[id(self)] = new
        new.data = copy.deepcopy(self.data, memo)
        new._node = None
        new._rg = self._rg
        grad = getattr(self, "_grad", None)
        new._grad = None if grad is None else copy.deepcopy(grad, memo)
        if tracer[0] is not None:  # gg.compile: a copy of a traced array is that array
            tracer[0].created(new, self)  # type: ignore[attr-defined]
        return new

    # ------------------------------------------------------------------ attributes
    @property
    def requires_grad(self) -> bool:
        """Whether gradients are computed for this tensor."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = bool(flag)
        if flag and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require grad; this one has dtype "
                f"{self.data.dtype}. Create it with dtype=np.float64 (or np.float32)."
            )
        if not flag and self._node is not None:
            raise RuntimeError(
                "requires_grad can only be switched off on a leaf tensor; "
                "use .detach() to get a copy cut from the graph"
            )
        if flag and not self._rg:
            # an op's untracked output becoming a leaf: give it the .grad slot leaves have
            self._grad = getattr(self, "_grad", None)
        self._rg = flag

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return ``self`` (chainable)."""
        self.requires_grad = flag
        return self

    @property
    def grad(self) -> np.ndarray | Tensor | None:
        """Accumulated gradient (ndarray of ``self.shape``), or None. Assign None to clear."""
        try:
            return self._grad
        except AttributeError:  # op outputs get the slot only when a gradient is retained
            return None

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                value = np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(
                    f"cannot assign a gradient of dtype {value.dtype} to a tensor of dtype "
                    f"{self.data.dtype}: gradients hold real numbers"
                )
            if value.shape != self.data.shape:
                raise ValueError(
                    f"cannot assign a gradient of shape {value.shape} to a tensor of "
                    f"shape {self.data.shape}"
                )
        self._grad = value

    @property
    def shape(self) -> Shape:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> Any:
        """The number of elements, as NumPy's ``size`` (an int); called, PyTorch's
        ``size()``: ``t.size()`` is the shape, ``t.size(d)`` its length along d."""
        return _Size(self.data.size, self.data.shape)

    def numel(self) -> int:
        """The number of elements (PyTorch's name; NumPy's is ``t.size``)."""
        return self.data.size

    def dim(self) -> int:
        """The number of dimensions (PyTorch's name; NumPy's is ``t.ndim``)."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (not the output of a recorded op)."""
        return self._node is None

    @property
    def grad_fn(self) -> Function | None:
        """The recorded op that produced this tensor (None for leaves)."""
        return self._node

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        if tracer[0] is not None:
            _read_under_trace(self, "bool()")
        return bool(self.data)

    def __float__(self) -> float:
        """The value as a Python float: outside the graph on purpose."""
        if tracer[0] is not None:
            _read_under_trace(self, "float()")
        return float(self.data)

    def __int__(self) -> int:
        """The value as a Python int: outside the graph on purpose."""
        if tracer[0] is not None:
            _read_under_trace(self, "int()")
        return int(self.data)

    def __index__(self) -> int:
        """A one-element integer tensor as an index (``words[t]``, ``range(t)``), as
        PyTorch's; a floating or larger tensor raises (``operator.index`` semantics)."""
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(
                "only integer tensors of a single element can be converted to an index, got "
                f"dtype {self.data.dtype} and shape {self.shape}"
            )
        if tracer[0] is not None:
            _read_under_trace(self, "an index")
        return int(self.data.reshape(()))

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a format spec applies to a one-element tensor's value (as
        ``item()``); without one, any tensor formats as ``str``."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(
                f"format spec {spec!r} needs a one-element tensor, this one has shape "
                f"{self.data.shape}: format its elements (t.data, t.tolist()) instead"
            )
        if tracer[0] is not None:
            _read_under_trace(self, "format()")
        return format(self.data.item(), spec)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (np.float64, np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{type(self._node).__name__}>")
        elif self._rg:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # ------------------------------------------------------------------ NumPy interop
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(t)``, ``np.array(t)``, ``np.array([t, u])``: the array, for a tensor
        that does not require grad. One that does is refused, as in PyTorch: the result
        would be a constant, and everything computed from it would lose the gradient."""
        if self._rg:
            raise TypeError(
                f"np.asarray / np.array of a Tensor that requires grad (shape {self.shape}, "
                f"{self.dtype}) would give a constant array, losing the gradient: combine "
                "tensors with gg.stack / gg.concat and NumPy calls graphgrad records (np.exp(t), "
                "np.sum(t)), or take t.detach() (or t.data) on purpose for values outside the "
                "graph"
            )
        if tracer[0] is not None:
            _read_under_trace(self, "np.asarray()")
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _numpy_dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _numpy_dispatch.array_function(func, args, kwargs)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not a copy), like ``self.data``. As in PyTorch,
        refused for a tensor that requires grad: ``t.detach().numpy()`` says that the
        values leave the graph."""
        if self._rg:
            raise RuntimeError(
                f"numpy() of a Tensor that requires grad (shape {self.shape}): the array is "
                "outside the graph, so no gradient flows through what is computed from it. "
                "Use t.detach().numpy() (or t.data) to take it on purpose"
            )
        if tracer[0] is not None:
            _read_under_trace(self, "numpy()")
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number (outside the graph on
        purpose, as PyTorch's ``item()``: for logging, not for further computation)."""
        if tracer[0] is not None:
            _read_under_trace(self, "item()")
        return self.data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists (outside the graph on purpose)."""
        if tracer[0] is not None:
            _read_under_trace(self, "tolist()")
        return self.data.tolist()

    # ------------------------------------------------------------------ autograd
    def backward(
        self,
        grad: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate ``∂self/∂leaf`` (times ``grad``) into the ``.grad`` of every leaf.

        Args:
            grad: upstream gradient of ``self.shape``; may be omitted only for a
                one-element tensor (it defaults to 1).
            retain_graph: keep saved arrays so backward can run through this graph again
                (default: ``create_graph``).
            create_graph: record the backward pass itself, so the gradients are Tensors
                that can be differentiated again (higher-order derivatives).
        """
        # One root, so ``grad`` is its one gradient even when given as a (nested) list.
        seeds = None if grad is None else [grad]
        (_engine_backward or _find_engine())(
            self, seeds, retain_graph=retain_graph, create_graph=create_graph
        )

    def detach(self) -> Tensor:
        """A new leaf sharing ``data`` with this tensor, cut from the graph on purpose (no
        gradient flows through it; truncated BPTT's ``h = h.detach()``)."""
        return _make(self.data, None)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (e.g. ∂L/∂h_t per step).

        Like ``.grad`` of a leaf, it accumulates over backward calls. (Implemented as a
        hook that the engine recognises.)"""
        if not self._rg:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if tracer[0] is not None:
            tracer[0].hook_registered(self, "retain_grad()")  # type: ignore[attr-defined]
        if self._node is not None:  # the graph holds nodes, not tensors: refer back weakly
            hooks.hooks_of(self._node)[hooks.RETAIN_GRAD] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._node is not None and hooks.retained_by(self._node) is self

    def register_hook(self, hook: Callable[[Any], Any]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed during backward.

        ``grad`` is the sum over all paths (an ndarray, or a Tensor under
        ``create_graph=True``). If the hook returns a value, it replaces the gradient
        (same shape). Returns a handle whose ``remove()`` unregisters the hook.
        """
        if tracer[0] is not None:
            tracer[0].hook_registered(self, "register_hook()")  # type: ignore[attr-defined]
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        vertex = self if self._node is None else self._node  # its place in the graph
        handle = hooks.RemovableHandle(vertex)
        hooks.hooks_of(vertex)[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ operators
    # The arithmetic operators (+ - * / ** @, their reflected and in-place forms, unary -)
    # and the elementwise methods are generated from each op's declared spellings by
    # graphgrad.ops (see the block at the end of the class).
    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return apply2(_ops.GetItem, self, _index_data(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value``: writes into ``t.data`` when nothing is recorded (under
        ``gg.no_grad()``, or neither ``t`` nor ``value`` requires grad); refused in a graph
        (see ``graphgrad.core.in_place``)."""
        _in_place.set_item(self, index, value)

    # Comparisons give bool tensors; they are not differentiable and record nothing.
    def __lt__(self, other: ArrayLike) -> Tensor:
        return _compared(self, other, self.data < _data(other), "less")

    def __le__(self, other: ArrayLike) -> Tensor:
        return _compared(self, other, self.data <= _data(other), "less_equal")

    def __gt__(self, other: ArrayLike) -> Tensor:
        return _compared(self, other, self.data > _data(other), "greater")

    def __ge__(self, other: ArrayLike) -> Tensor:
        return _compared(self, other, self.data >= _data(other), "greater_equal")

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _compared(self, other, self.data == _data(other), "equal")

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _compared(self, other, self.data != _data(other), "not_equal")

    # ------------------------------------------------------------------ shape methods
    @property
    def T(self) -> Tensor:
        """Reversed axes (the matrix transpose for 2-D)."""
        return apply2(_ops.Transpose, self, None)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes like ``ndarray.transpose``: a full permutation, or no argument to
        reverse them.

        PyTorch's ``transpose(a, b)`` exchanges two dims instead. The readings differ for
        ``t.transpose(0, 1)`` on a 2-D tensor (NumPy: the identity; PyTorch: a swap) and for
        two axes of a tensor that is not 2-D, so those raise, naming ``t.swapaxes(a, b)``
        (the exchange of two axes in both libraries' terms) and ``t.T``."""
        if len(axes) == 2 and all(type(a) is int or isinstance(a, np.integer) for a in axes):
            _refuse_two_axis_transpose(self, axes)
        perm: Any = axes
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            perm = axes[0]
        return apply2(_ops.Transpose, self, tuple(perm) if perm else None)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Exchange two axes (a transpose); the gradient is transposed back."""
        perm = list(range(self.data.ndim))
        perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
        return apply2(_ops.Transpose, self, tuple(perm))

    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape (one entry may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply2(_ops.Reshape, self, shape)

    def flatten(self) -> Tensor:
        """Reshape to 1-D."""
        return apply2(_ops.Reshape, self, (-1,))

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        """Remove size-1 axes (all, or the given ones), as a reshape."""
        try:
            shape = np.squeeze(self.data, axis).shape
        except ValueError as exc:  # an axis that is not of size 1
            raise ShapeError(f"squeeze: axis {axis} of shape {self.shape}: {exc}") from None
        return apply2(_ops.Reshape, self, shape)

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a size-1 axis at ``axis``, as a reshape."""
        return apply2(_ops.Reshape, self, np.expand_dims(self.data, axis).shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Broadcast to ``shape``; the gradient is summed back over the broadcast axes."""
        return apply2(_ops.BroadcastTo, self, tuple(shape))

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``. To a floating dtype the cast is recorded (the gradient is cast
        back to this tensor's dtype); to an integer or bool dtype the result leaves the
        graph, as in PyTorch (a rounded or thresholded value has no gradient). Other dtypes
        (complex, str, object) are refused: graphgrad tensors hold real numbers."""
        target = np.dtype(dtype)
        if target.kind == "f":
            return apply2(_ops.Cast, self, target)
        if target.kind not in "biu":
            raise TypeError(
                f"astype({target}): graphgrad tensors hold real numbers (bool, int or float); "
                f"use t.data.astype({str(target)!r}) for a NumPy array of that dtype"
            )
        out = _make(self.data.astype(target), None)
        if tracer[0] is not None:
            tracer[0].derived("astype", (self, target), out)  # type: ignore[attr-defined]
        return out

    # ------------------------------------------------------------------ reductions
    def sum(
        self,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        *,
        dim: int | tuple[int, ...] | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Σ over ``axis`` (all axes if None); the gradient is broadcast back. PyTorch's
        ``dim=`` / ``keepdim=`` mean the same as ``axis=`` / ``keepdims=``."""
        if dim is not None or keepdim is not None:
            axis, keepdims = _torch_axis("sum", axis, keepdims, dim, keepdim)
        if axis is None and not keepdims:  # the loss case: forward's defaults, the 1-arg path
            return apply1(_ops.Sum, self)
        return _ops.Sum.apply(self, axis, keepdims)

    def mean(
        self,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        *,
        dim: int | tuple[int, ...] | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Mean over ``axis``; the gradient is g / n broadcast back. ``dim=`` / ``keepdim=``
        as in PyTorch."""
        if dim is not None or keepdim is not None:
            axis, keepdims = _torch_axis("mean", axis, keepdims, dim, keepdim)
        if axis is None and not keepdims:
            return apply1(_ops.Mean, self)
        return _ops.Mean.apply(self, axis, keepdims)

    def var(
        self,
        axis: int | tuple[int, ...] | None = None,
        *,
        ddof: int | None = None,
        keepdims: bool = False,
        dim: int | tuple[int, ...] | None = None,
        correction: int | None = None,
        unbiased: bool | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Σ (x − mean)² / (n − ddof) over ``axis``, recorded.

        NumPy's ``var`` divides by n (``ddof=0``), PyTorch's by n − 1 (``correction=1``),
        so the divisor must be named: ``ddof=`` (NumPy's keyword), ``correction=`` or
        ``unbiased=`` (PyTorch's); ``t.var()`` alone raises rather than pick one."""
        return _variance(self, "var", axis, ddof, keepdims, dim, correction, unbiased, keepdim)

    def std(
        self,
        axis: int | tuple[int, ...] | None = None,
        *,
        ddof: int | None = None,
        keepdims: bool = False,
        dim: int | tuple[int, ...] | None = None,
        correction: int | None = None,
        unbiased: bool | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """√var (see ``var``: the divisor must be named, ``ddof=`` or ``correction=``)."""
        v = _variance(self, "std", axis, ddof, keepdims, dim, correction, unbiased, keepdim)
        return apply1(_ops.Sqrt, v)

    def max(
        self,
        *positional: Any,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        dim: int | None = None,
        keepdim: bool = False,
    ) -> Any:
        """The maximum, in NumPy's or PyTorch's reading, named by the keyword:

        * ``t.max()``, ``t.max(axis=a, keepdims=...)``: NumPy's — the maxima (over all axes,
          or ``axis``); the gradient is split evenly among tied maxima.
        * ``t.max(dim=d, keepdim=...)``: PyTorch's — a ``(values, indices)`` pair, the
          values gathered at the first maximum along ``d`` (which gets the whole gradient,
          as in PyTorch) and the int64 indices.

        ``t.max(1)`` means the maxima along axis 1 in NumPy and the pair in PyTorch, so a
        positional argument raises and says which keyword does what."""
        return _extremum(self, "max", positional, axis, keepdims, dim, keepdim)

    def min(
        self,
        *positional: Any,
        axis: int | tuple[int, ...] | None = None,
        keepdims: bool = False,
        dim: int | None = None,
        keepdim: bool = False,
    ) -> Any:
        """The minimum, as ``max`` (``-max(-x)`` for NumPy's reading; ``dim=`` gives
        PyTorch's ``(values, indices)``)."""
        return _extremum(self, "min", positional, axis, keepdims, dim, keepdim)

    # ------------------------------------------------------------------ along an axis
    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """Stable softmax along ``axis`` (``dim=``, PyTorch's keyword, the same)."""
        return apply2(_ops.Softmax, self, _one_axis("softmax", axis, dim))

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """Stable log-softmax along ``axis`` (``dim=``, PyTorch's keyword, the same)."""
        return apply2(_ops.LogSoftmax, self, _one_axis("log_softmax", axis, dim))

    # ------------------------------------------------------------------ PyTorch's spellings
    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for ``reshape`` (same values, recorded)."""
        return self.reshape(*shape)

    def t(self) -> Tensor:
        """PyTorch's ``t()``: the transpose of a matrix (a 0-D or 1-D tensor as it is)."""
        if self.data.ndim > 2:
            raise ShapeError(
                f"t() expects a tensor of at most 2 dimensions, got shape {self.shape}: use "
                "t.swapaxes(a, b) or t.transpose(*axes)"
            )
        return apply2(_ops.Transpose, self, None) if self.data.ndim == 2 else self

    def contiguous(self) -> Tensor:
        """PyTorch's ``contiguous()``: this tensor if its array is C-contiguous, else a
        recorded copy in C order (``ops.Contiguous``; the gradient passes through). Values
        never depend on the layout; a copy makes later reshapes views instead of copies."""
        if self.data.flags.c_contiguous:
            return self
        return apply1(_ops.Contiguous, self)

    def clone(self) -> Tensor:
        """A recorded copy (PyTorch's ``clone``): new memory, the gradient passes through."""
        return apply2(_ops.Mul, self, 1.0)

    def double(self) -> Tensor:
        """``astype(np.float64)``, recorded (PyTorch's ``double()``)."""
        return self.astype(np.float64)

    def float(self) -> Tensor:
        """``astype(np.float32)``, recorded (PyTorch's ``float()``)."""
        return self.astype(np.float32)

    def long(self) -> Tensor:
        """``astype(np.int64)`` (PyTorch's ``long()``): integers carry no gradient."""
        return self.astype(np.int64)

    def half(self) -> Tensor:
        """``astype(np.float16)``, recorded (PyTorch's ``half()``)."""
        return self.astype(np.float16)

    def cpu(self) -> Tensor:
        """PyTorch's ``cpu()``: this tensor itself (graphgrad computes on the CPU only)."""
        return self

    def div(self, other: ArrayLike, *, rounding_mode: str | None = None) -> Tensor:
        """PyTorch's ``div``: true division ``self / other``, recorded. (``rounding_mode``
        'trunc' and 'floor' give integer-valued results without a gradient; graphgrad
        has neither: write ``np.floor_divide`` on ``.data``.)"""
        if rounding_mode is not None:
            raise ValueError(
                f"div: rounding_mode={rounding_mode!r} is not supported: only true division "
                "(rounding_mode=None); for a floored quotient use np.floor_divide(t.data, d)"
            )
        return self / other

    def fill_(self, value: ArrayLike) -> Tensor:
        """PyTorch's ``fill_``: every element set to ``value``, in place. Outside the
        graph (a constant, or under ``no_grad``) it writes the array; inside it is
        recorded (the old value gets no gradient, a 0-D Tensor ``value`` gets the sum of
        them); a leaf that requires grad refuses, as ``+=`` does."""
        return _in_place.fill(self, value)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """PyTorch's ``narrow``: elements start … start + length − 1 along ``dim``
        (a recorded slice)."""
        d = normalize_axis_index(dim, self.data.ndim)
        n = self.data.shape[d]
        if start < 0:
            start += n
        if not (0 <= start and length >= 0 and start + length <= n):
            raise IndexError(
                f"narrow: start {start} and length {length} do not fit axis {dim} of size {n}"
            )
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        """A new constant tensor of zeros with this tensor's dtype (PyTorch's
        ``new_zeros``)."""
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = tuple(size[0])
        return _make(np.zeros(size, dtype=self.data.dtype if dtype is None else dtype), None)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """PyTorch's ``split``: pieces of ``split_size`` along ``dim`` (the last one
        smaller), or of the listed sizes. (NumPy's ``np.split(t, n)`` — n equal parts, or
        split *indices* — is the function ``np.split``, also recorded.)"""
        d = normalize_axis_index(dim, self.data.ndim)
        n = self.data.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [min(size, n - i) for i in range(0, n, size)] or [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise ValueError(f"split: sizes {sizes} do not add up to axis {dim}'s {n}")
        out, start = [], 0
        for k in sizes:
            out.append(self[(slice(None),) * d + (slice(start, start + k),)])
            start += k
        return tuple(out)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """PyTorch's ``chunk``: at most ``chunks`` pieces of ⌈n / chunks⌉ along ``dim``."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        n = self.data.shape[normalize_axis_index(dim, self.data.ndim)]
        return self.split(max(1, -(-n // chunks)), dim)

    def type(self, dtype: Any = None) -> Tensor:
        """PyTorch's ``t.type(dtype)``: ``astype(dtype)``. (Without a dtype PyTorch returns a
        type string such as 'torch.FloatTensor'; graphgrad has none: read ``t.dtype``.)"""
        if dtype is None:
            raise TypeError("t.type() without a dtype: read t.dtype; t.type(dtype) casts")
        return self.astype(dtype)

    @property
    def device(self) -> Any:
        """``gg.device('cpu')``: graphgrad computes with NumPy, on the CPU."""
        return runtime.CPU

    def to(self, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False) -> Tensor:
        """PyTorch's ``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)`` or
        ``t.to(other)``: the CPU is the only device, and a dtype change is
        ``astype`` (recorded). Returns ``self`` when nothing changes (``copy=True``: a
        recorded copy), as PyTorch."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype if dtype is None else dtype
            elif isinstance(a, (str, runtime.device)):
                device = a
            elif a is not None:
                dtype = a if dtype is None else dtype
        if device is not None:
            runtime.check_device(device, "Tensor.to")
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.astype(dtype)
        return self.clone() if copy else self

    def gather(self, dim: int, index: Any) -> Tensor:
        """PyTorch's ``gather``: out[i][j][k] = self[index[i][j][k]][j][k] for dim = 0 (and
        so on for the other dims); ``index`` has this tensor's number of dimensions and, on
        the other dims, at most its sizes. Recorded as an index (its gradient scatters g
        back, summing repeats)."""
        idx = np.asarray(index.data if isinstance(index, Tensor) else index)
        d = normalize_axis_index(dim, self.data.ndim)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"gather: index must hold integers, got dtype {idx.dtype}")
        if idx.ndim != self.data.ndim or any(
            k != d and idx.shape[k] > self.data.shape[k] for k in range(idx.ndim)
        ):
            raise ShapeError(
                f"gather: index of shape {idx.shape} does not fit a tensor of shape "
                f"{self.shape} along dim {dim} (same number of dims, sizes at most the "
                "tensor's on the other dims)"
            )
        n = self.data.shape[d]
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)].flat[0]
            raise IndexError(f"gather: index {bad} is out of range for dim {dim} of size {n}")
        grid: list[Any] = list(np.indices(idx.shape, sparse=True))
        grid[d] = idx
        return self[tuple(grid)]

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """PyTorch's ``masked_fill``: ``value`` where the bool ``mask`` (broadcast to this
        shape) is True, else this tensor; recorded (``gg.where``), so the filled positions
        get no gradient and a Tensor ``value`` (0-D) gets theirs."""
        m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if m.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be bool, got dtype {m.dtype}")
        if isinstance(value, Tensor) and value.ndim:
            raise ShapeError(f"masked_fill: value must be 0-D, got shape {value.shape}")
        try:
            np.broadcast_to(m, self.data.shape)
        except ValueError:
            raise ShapeError(
                f"masked_fill: mask of shape {m.shape} does not broadcast to {self.shape}"
            ) from None
        fill = value if isinstance(value, Tensor) else np.asarray(value, dtype=self.data.dtype)
        return _ops.where(m, fill, self)

    # last in the class body: after it, ``int`` in this body names the method
    def int(self) -> Tensor:
        """``astype(np.int32)`` (PyTorch's ``int()``)."""
        return self.astype(np.int32)


def _refuse_graph_inside(seq: list[Any] | tuple[Any, ...], where: str) -> None:
    """NumPy turns a (nested) list or tuple into a constant array, taking each Tensor's
    values: a Tensor in it that requires grad would silently lose its gradient."""
    stack = [seq]
    while stack:
        for item in stack.pop():
            if isinstance(item, Tensor):
                if item._rg and (not threads_off or recording.enabled):
                    raise TypeError(
                        f"{where}: a list or tuple holding a Tensor that requires grad becomes a "
                        "constant array, so the gradient would be lost; combine tensors with "
                        "gg.stack / gg.concat, or pass t.detach() for a constant"
                    )
            elif type(item) is list or type(item) is tuple:
                stack.append(item)


def _values_inside(seq: list[Any] | tuple[Any, ...]) -> Any:
    """A (nested) list or tuple with each Tensor in it replaced by its array."""
    return [
        x.data
        if isinstance(x, Tensor)
        else _values_inside(x)
        if type(x) is list or type(x) is tuple
        else x
        for x in seq
    ]


class _Size(int):
    """``t.size``: NumPy's element count (an int), and called, PyTorch's ``size()``."""

    _shape: tuple[int, ...]

    def __new__(cls, n: int, shape: tuple[int, ...]) -> _Size:
        self = super().__new__(cls, n)
        self._shape = shape
        return self

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return self._shape
        return self._shape[normalize_axis_index(dim, len(self._shape))]


def _torch_axis(
    name: str, axis: Any, keepdims: bool, dim: Any, keepdim: bool | None
) -> tuple[Any, bool]:
    """PyTorch's ``dim=`` / ``keepdim=``, the same as NumPy's ``axis=`` / ``keepdims=``;
    both spellings at once are refused."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis= (NumPy's) or dim= (PyTorch's), not both")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{name}: give keepdims= (NumPy's) or keepdim= (PyTorch's)")
        keepdims = bool(keepdim)
    return axis, keepdims


def _one_axis(name: str, axis: int, dim: int | None) -> int:
    if dim is None:
        return axis
    if axis != -1:
        raise TypeError(f"{name}: give axis= (NumPy's) or dim= (PyTorch's), not both")
    return dim


def _variance(
    t: Tensor,
    name: str,
    axis: Any,
    ddof: int | None,
    keepdims: bool,
    dim: Any,
    correction: int | None,
    unbiased: bool | None,
    keepdim: bool | None,
) -> Tensor:
    given = [k for k, v in (("ddof", ddof), ("correction", correction), ("unbiased", unbiased))
             if v is not None]  # fmt: skip
    if not given:
        raise TypeError(
            f"t.{name}() divides by n in NumPy (ddof=0) and by n − 1 in PyTorch (correction=1): "
            f"name the divisor, t.{name}(ddof=0) or t.{name}(correction=1)"
        )
    if len(given) > 1:
        raise TypeError(f"t.{name}: give one of ddof=, correction=, unbiased=, not {given}")
    k = ddof if ddof is not None else correction if correction is not None else int(bool(unbiased))
    axis, keepdims = _torch_axis(name, axis, keepdims, dim, keepdim)
    axes = tuple(range(t.ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    n = 1
    for a in axes:
        n *= t.data.shape[normalize_axis_index(a, max(t.ndim, 1))]
    d = t - t.mean(axis=axis, keepdims=True)
    return (d * d).sum(axis=axis, keepdims=keepdims) / max(n - k, 0)


class ValuesIndices(NamedTuple):
    """What ``t.max(dim=d)`` / ``t.min(dim=d)`` return, as PyTorch's ``torch.return_types``:
    the values (recorded) and the int64 indices (no gradient)."""

    values: Tensor
    indices: Tensor


def _extremum(
    t: Tensor,
    kind: str,
    positional: tuple[Any, ...],
    axis: Any,
    keepdims: bool,
    dim: int | None,
    keepdim: bool,
) -> Any:
    if positional:
        raise TypeError(
            f"t.{kind}({', '.join(map(repr, positional))}) reads differently in NumPy (the "
            f"{kind}ima along an axis) and PyTorch (a (values, indices) pair, or an elementwise "
            f"{kind} with a tensor): write t.{kind}(axis={positional[0]!r}) for the {kind}ima, "
            f"t.{kind}(dim={positional[0]!r}) for PyTorch's (values, indices), or "
            f"gg.{kind}imum(t, other) elementwise"
        )
    if dim is None:
        if keepdim:
            raise TypeError(f"t.{kind}(keepdim=...) needs dim= (NumPy's spelling: keepdims=)")
        if kind == "max":
            return _ops.Max.apply(t, axis, keepdims)
        return -_ops.Max.apply(-t, axis, keepdims)
    if axis is not None or keepdims:
        raise TypeError(
            f"t.{kind}: give axis=/keepdims= (NumPy's: the {kind}ima) or dim=/keepdim= "
            "(PyTorch's: values and indices), not both"
        )
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"t.{kind}(dim=...) takes one int, got {dim!r}")
    d = normalize_axis_index(int(dim), max(t.ndim, 1))
    data = t.data if t.ndim else t.data.reshape(1)
    idx = data.argmax(axis=d) if kind == "max" else data.argmin(axis=d)
    rec = tracer[0]
    if rec is not None:  # gg.compile: the indices are computed again at every call
        src = t if t.ndim else _make(data, None)
        if not t.ndim:
            rec.derived("reshape", (t, (1,)), src)  # type: ignore[attr-defined]
        rec.derived("arg" + kind, (src, d), idx)  # type: ignore[attr-defined]
    grid = list(np.indices(idx.shape, sparse=True))
    grid.insert(d, idx)
    values = (t if t.ndim else t.reshape(1))[tuple(grid)]  # GetItem: the gradient to idx only
    indices = _make(idx.astype(np.int64), None)
    if rec is not None:
        rec.derived("astype", (idx, np.dtype(np.int64)), indices)  # type: ignore[attr-defined]
    if keepdim:
        flat = indices
        values, indices = values.unsqueeze(d), _make(np.expand_dims(indices.data, d), None)
        if rec is not None:
            rec.derived("expand_dims", (flat, d), indices)  # type: ignore[attr-defined]
    return ValuesIndices(values, indices)


def _refuse_two_axis_transpose(t: Tensor, axes: tuple[Any, ...]) -> None:
    a, b = axes
    if t.ndim != 2:
        raise ShapeError(
            f"t.transpose({a}, {b}) on a {t.ndim}-d tensor (shape {t.shape}): graphgrad's "
            "transpose takes a full permutation of the axes, as NumPy's does; to exchange two "
            f"axes (PyTorch's transpose({a}, {b})) write t.swapaxes({a}, {b})"
        )
    if (a % 2, b % 2) == (0, 1) and -2 <= a < 2 and -2 <= b < 2:
        raise TypeError(
            f"t.transpose({a}, {b}) on a 2-D tensor is the identity permutation in NumPy and "
            "swaps the two dims in PyTorch: write t.T (or t.swapaxes(0, 1)) for the swap"
        )


# The engine imports the Tensor, so the Tensor finds the engine's backward on first use
# and keeps it (an import statement per call costs ~2 µs, 1% of a small graph's step).
_engine_backward: Callable[..., None] | None = None


def _find_engine() -> Callable[..., None]:
    global _engine_backward
    from graphgrad.core.engine import backward

    _engine_backward = backward
    return backward


def _read_under_trace(t: Tensor, how: str) -> None:
    """A tensor's value read as a Python value while gg.compile traces: the tracer refuses
    it if the value belongs to the traced computation (graphgrad.compiler.trace)."""
    tracer[0].value_read(t, how)  # type: ignore[attr-defined]


def _compared(t: Tensor, other: Any, result: np.ndarray, kind: str) -> Tensor:
    """A comparison's bool tensor: outside the graph; while gg.compile traces, a value
    computed from its operands (graphgrad.compiler.derived), not a constant."""
    out = _make(result, None)
    if tracer[0] is not None:
        tracer[0].derived(kind, (t, other), out)  # type: ignore[attr-defined]
    return out


def _make(data: np.ndarray, node: Function | None) -> Tensor:
    """Wrap an array without copying or validation (the ops' fast constructor)."""
    t = _new(Tensor)
    t.data = data
    t._grad = None
    t._rg = node is not None
    t._node = node
    return t


# The same, for code outside the core that builds nodes itself (gg.compile's entry makes
# the node of a compiled call and wraps its output as Function.apply does).
wrap = _make


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of a Tensor, array or array-like (input checks: ``.shape`` directly, since
    np.shape's dispatch costs as much as a small layer's arithmetic)."""
    return x.data.shape if isinstance(x, Tensor) else np.shape(x)


def _index_data(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (index tensors carry no grad)."""
    if isinstance(index, Tensor):
        return index.data
    if type(index) is tuple:
        for i in index:  # usually none is: keep the tuple (no generator, no copy)
            if isinstance(i, Tensor):
                return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


hints.install(Tensor)

# Tensor and its ops import each other (its operators record ops; recording makes Tensors):
# the one import cycle of the engine (docs/design.md). Every module in it imports the
# others below its own definitions, so that any of them can be imported first.
from graphgrad import ops as _ops  # noqa: E402
from graphgrad.core import in_place as _in_place  # noqa: E402
from graphgrad.core import numpy_dispatch as _numpy_dispatch  # noqa: E402
from graphgrad.core.function import apply1, apply2  # noqa: E402
