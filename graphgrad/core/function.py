"""``Function``: the one mechanism by which every primitive (built-in or user-defined) is
recorded.

A primitive is a subclass with two static methods side by side::

    class Cube(gg.Function):
        @staticmethod
        def forward(ctx, x):               # x: ndarray
            ctx.save_for_backward(x)
            return x ** 3                  # one ndarray
        @staticmethod
        def backward(ctx, grad):           # grad: ∂L/∂out, shape of out
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad       # ∂L/∂x; one value per forward argument

    y = Cube.apply(t)

``forward`` receives ndarrays (Tensor arguments are unwrapped; other arguments such as
axes pass through unchanged) and returns one ndarray, or a tuple of them: ``apply`` then
returns a tuple of Tensors, and ``backward(ctx, *grads)`` receives one gradient per output
(zeros for an output that did not reach the loss, None for an integer or bool output,
which is not differentiable). ``ctx.save_for_backward(...)`` (or assigning a tuple to
``ctx.saved_tensors``, as graphgrad's own ops do) keeps what the rule will need, and the
rule reads it back as ``ctx.saved_tensors``. ``backward`` receives the upstream
gradient(s) and returns one gradient per positional forward argument (a tuple or list, or
a single value for one argument; None where no gradient is needed —
``ctx.needs_input_grad[i]`` says which are). Trailing arguments that need no gradient
(indices, axes, constants) may be left out; any other count raises a ``TypeError``. A
returned gradient may have a broadcast shape: the engine sums it back to the input's
shape, in one place, for every op (DESIGN rule 2).

The backward rule is written once for ndarrays and Tensors (DESIGN rule 5): normally it
runs on ndarrays (the fast path); under ``create_graph=True`` the upstream gradient is a
Tensor, ``ctx.saved_tensors`` returns Tensors (the op's own input and output tensors
where the saved arrays are theirs, constants otherwise), and the rule's operations are
recorded, which gives higher-order gradients. Use operators, ``.sum``/``.reshape``/
``.transpose`` and ``np.exp``/``np.log``/``np.tanh`` (Tensors implement NumPy's
dispatch protocols) so that the same code runs on both. A backward rule must return new
arrays (or views of ``grad``) and must not modify ``grad`` or saved arrays in place.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from graphgrad.core.grad_mode import anomaly_on, recording, threads_off, tracer, watching
from graphgrad.errors import GraphgradError, ShapeError

_new = object.__new__
_ndarray = np.ndarray

# The node clock: every recorded node takes the next tick as its ``_seq``, and so does
# every in-place write of an array (graphgrad.core.in_place), so comparing a node's tick
# with a write's says which came first.
sequence = itertools.count()


class Function:
    """Base class of graph ops. Subclass it and define static ``forward``/``backward``.

    An instance is the *context* of one application of the op, and the node of the graph.
    Public: ``saved_tensors`` (what forward saved), and
    ``needs_input_grad`` (one bool per positional argument). ``inputs`` holds, per
    positional argument, the node that produced it, the leaf Tensor itself, or None for
    a constant — never an intermediate Tensor, so an intermediate array stays alive only
    if some rule saved it. Engine bookkeeping: ``_seq`` (creation order: a node's inputs
    were all created before it, so decreasing ``_seq`` is a reverse topological order),
    ``_shape`` and ``_out_id`` (the output's shape and array identity).
    """

    __slots__ = (
        "__weakref__",
        "_out_id",
        "_seq",
        "_shape",
        "_trace",
        "inputs",
        "label",
        "needs_input_grad",
        "saved_tensors",
    )
    # the slots' types (annotations only: the slots are the storage)
    _out_id: int
    _seq: int
    _shape: tuple[int, ...]
    _trace: Any
    label: str  # optional: what the value is (an LSTM's gate "i"), for graph drawings
    inputs: tuple[Any, ...] | None
    needs_input_grad: tuple[bool, ...]
    # What the forward saved for the rule (``save_for_backward(...)``, or assigned as a
    # tuple, as graphgrad's own ops do): ndarrays normally; while the rule runs under
    # ``create_graph``, Tensors at the inputs' / output's place in the graph (so gradients
    # of gradients flow) and constants for other arrays. A slot, so reading it costs nothing.
    saved_tensors: Any

    # Whether apply checks that the output holds real numbers even when every operand is a
    # Tensor or a Python number (a complex or object result can then only come from the
    # forward itself): True for users' Functions, False for graphgrad's own ops, whose
    # forwards map real arrays to real arrays (a check on every op costs ~1.5% of a small
    # graph's step). Any other operand (an array, a complex number, an object) is checked
    # in the recording paths; this flag is read in ``apply`` only, the path users' Functions
    # take (Tensor's operators go to the recording paths directly).
    _check_output = True

    # An op whose rule can write ∂L/∂input into ∂L/∂output's array sets this to a static
    # ``backward_into(ctx, g)``; the engine calls it only with a g that it alone references
    # (its own sum), so no other value changes. It saves one output-sized array (LogSoftmax
    # over a vocabulary: the largest array of a language model's step).
    backward_into: Any = None

    # True where every gradient ``backward`` returns is a new array that nothing else
    # references (not ``grad``, not a view, not saved, one per input): the engine then
    # skips checking each one (``engine.exclusive``). gg.compile's node sets it where its
    # code generation proved it; graphgrad's own ops, whose rules may return ``grad``
    # itself, leave it False.
    fresh_grads = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._check_output = not cls.__module__.startswith("graphgrad.ops")
        if "__slots__" not in cls.__dict__:
            # a rule reading saved_tensors when its forward saved nothing gets (), as in
            # PyTorch (instances of such a class have a __dict__, where a save goes)
            cls.saved_tensors = ()  # type: ignore[misc]

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        """Compute the output from ndarrays. Override in a subclass."""
        raise NotImplementedError("Function subclasses must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        """Map ∂L/∂output to ∂L/∂input for each input. Override in a subclass."""
        raise NotImplementedError(
            "Function subclasses must define a static backward(ctx, grad) to be differentiated"
        )

    def save_for_backward(self, *values: Any) -> None:
        """Keep arrays (inputs, output or constants) for the backward rule."""
        self.saved_tensors = values

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run ``forward`` on the arguments' arrays and record the op when any Tensor
        argument requires grad (and recording is on). Returns a Tensor (a tuple of Tensors
        when ``forward`` returned a tuple of arrays)."""
        if not kwargs:
            n = len(args)
            if n == 2:
                out = apply2(cls, args[0], args[1])
            elif n == 1:
                out = apply1(cls, args[0])
            else:
                return apply_n(cls, args, kwargs)  # (checks every output itself)
            if cls._check_output and type(out) is Tensor and out.data.dtype.kind not in "fbiu":
                raise _foreign_dtype(cls, args, out.data)
            return out
        return apply_n(cls, args, kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


# Shared needs_input_grad tuples: one allocation fewer per op, and one object fewer for the
# cyclic garbage collector to track (its passes over a long graph are a real cost).
_GRAD1 = (True,)
_NO_GRAD1 = (False,)
_TT, _TF, _FT, _FF = (True, True), (True, False), (False, True), (False, False)

# The per-op overhead matters (an RNN step is dozens of small ops), so the one- and
# two-argument cases, nearly all calls, have their own paths that build no lists; Tensor's
# operators call them directly. The three paths end with the same wrapping of the output
# on purpose: moving it into a shared helper was measured at +1.1k instructions per op
# (+3% of a recorded op's forward and backward) — keep the three tails in step.


def apply1(cls: type[Function], a: Any) -> Tensor:
    """``cls.apply(a)``."""
    ctx = _new(cls)
    check = False
    if isinstance(a, Tensor):
        record = a._rg and (not threads_off or recording.enabled)
        vertices = (a if a._node is None else a._node,)  # its place in the graph
        x = a.data
    else:
        record = False
        x = a
        check = True
        if type(a) is list:  # lists only: tuples here are shapes, axes and index tuples
            _refuse_graph_inside(a, cls.__name__)
    ctx.needs_input_grad = _GRAD1 if record else _NO_GRAD1
    try:
        out: Any = cls.forward(ctx, x)  # an array, or a tuple from a several-output Function
    except GraphgradError:
        raise
    except (ValueError, IndexError) as exc:
        raise _shape_error(cls, (a,), exc) from exc
    if type(out) is not _ndarray:
        if type(out) is tuple:
            # several outputs: only a user Function's tuple forward (typed as one)
            return _multi_output(cls, ctx, out, record, vertices, (a,))  # type: ignore[return-value]
        out = output_array(cls, ctx, out)
    if check and out.dtype.kind not in "fbiu":
        raise _foreign_dtype(cls, (a,), out)
    t = _new(Tensor)
    t.data = out
    if record:
        ctx.inputs = vertices
        ctx._seq = next(sequence)
        ctx._shape = out.shape
        ctx._out_id = id(out)
        t._rg = True
        t._node = ctx
    else:
        t._rg = False
        t._node = None
    if watching[0]:
        _watch(cls, (a,), None, t)
    return t


def apply2(cls: type[Function], a: Any, b: Any) -> Tensor:
    """``cls.apply(a, b)``."""
    ctx = _new(cls)
    check = False
    if isinstance(a, Tensor):
        ra = a._rg
        va = a if a._node is None else a._node
        x = a.data
    else:
        ra = False
        va = None
        x = a
        if type(a) is not float and type(a) is not int:
            check = True
            if type(a) is list:
                _refuse_graph_inside(a, cls.__name__)
    if isinstance(b, Tensor):
        rb = b._rg
        vb = b if b._node is None else b._node
        y = b.data
    else:
        rb = False
        vb = None
        y = b
        if type(b) is not float and type(b) is not int:
            check = True
            if type(b) is list:
                _refuse_graph_inside(b, cls.__name__)
    record = (ra or rb) and (not threads_off or recording.enabled)
    if not record:
        ctx.needs_input_grad = _FF
    elif ra:
        ctx.needs_input_grad = _TT if rb else _TF
    else:
        ctx.needs_input_grad = _FT
    try:
        out: Any = cls.forward(ctx, x, y)
    except GraphgradError:
        raise
    except (ValueError, IndexError) as exc:
        raise _shape_error(cls, (a, b), exc) from exc
    if type(out) is not _ndarray:
        if type(out) is tuple:
            # several outputs: only a user Function's tuple forward (typed as one)
            return _multi_output(cls, ctx, out, record, (va, vb), (a, b))  # type: ignore[return-value]
        out = output_array(cls, ctx, out)
    if check and out.dtype.kind not in "fbiu":
        raise _foreign_dtype(cls, (a, b), out)
    t = _new(Tensor)
    t.data = out
    if record:
        ctx.inputs = (va, vb)
        ctx._seq = next(sequence)
        ctx._shape = out.shape
        ctx._out_id = id(out)
        t._rg = True
        t._node = ctx
    else:
        t._rg = False
        t._node = None
    if watching[0]:
        _watch(cls, (a, b), None, t)
    return t


def apply_n(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    """``cls.apply(*args, **kwargs)``: any arity, keyword arguments."""
    ctx = _new(cls)
    # One loop and no comprehensions: each comprehension is a function call of its own.
    needs = []
    datas = []
    vertices: list[Any] = []
    any_rg = False
    for a in args:
        if isinstance(a, Tensor):
            r = a._rg
            any_rg = any_rg or r
            needs.append(r)
            datas.append(a.data)
            vertices.append(a if a._node is None else a._node)
        else:
            if type(a) is list:
                _refuse_graph_inside(a, cls.__name__)
            needs.append(False)
            datas.append(a)
            vertices.append(None)
    record = any_rg and (not threads_off or recording.enabled)
    ctx.needs_input_grad = tuple(needs) if record else (False,) * len(args)
    try:
        out: Any = cls.forward(ctx, *datas, **kwargs) if kwargs else cls.forward(ctx, *datas)
    except GraphgradError:
        raise
    except (ValueError, IndexError) as exc:
        raise _shape_error(cls, args, exc) from exc
    if type(out) is not _ndarray:
        if type(out) is tuple:
            # several outputs: only a user Function's tuple forward (typed as one)
            return _multi_output(cls, ctx, out, record, tuple(vertices), args)  # type: ignore[return-value]
        out = output_array(cls, ctx, out)
    if out.dtype.kind not in "fbiu":  # (the generic path: always checked)
        raise _foreign_dtype(cls, args, out)
    t = _new(Tensor)
    t.data = out
    if record:
        ctx.inputs = tuple(vertices)
        ctx._seq = next(sequence)
        ctx._shape = out.shape
        ctx._out_id = id(out)
        t._rg = True
        t._node = ctx
    else:
        t._rg = False
        t._node = None
    if watching[0]:
        _watch(cls, args, kwargs, t)
    return t


def _shape_error(cls: type, args: tuple[Any, ...], exc: Exception) -> Exception:
    """A forward's ValueError becomes a ShapeError (IndexError stays one) naming the op and
    the operands' shapes."""
    kind = ShapeError if isinstance(exc, ValueError) else IndexError
    return kind(_describe(cls, args, exc))


def _watch(cls: type, args: tuple[Any, ...], kwargs: Any, out: Tensor) -> None:
    """An op was applied while someone watches: gg.compile's tracer records it, and
    gg.detect_anomaly checks its output."""
    rec = tracer[0]
    if rec is not None:
        rec.op(cls, args, kwargs, out)  # type: ignore[attr-defined]
    if anomaly_on[0]:
        from graphgrad.core.anomaly import check_forward  # (only under detect_anomaly)

        check_forward(cls, args, out)


def output_array(cls: type, ctx: Function, out: Any) -> np.ndarray:
    """Turn a NumPy scalar result (0-d ufunc outputs are scalars) into a 0-d array, keeping
    the identity of a saved output so ``saved_tensors`` can still map it to the output."""
    if not isinstance(out, (np.generic, int, float, bool)):
        raise TypeError(
            f"{cls.__name__}.forward must return an ndarray or a tuple of ndarrays, got "
            f"{type(out).__name__}"
        )
    arr = np.asarray(out)
    saved = getattr(ctx, "saved_tensors", ())
    if any(s is out for s in saved):
        ctx.saved_tensors = tuple(arr if s is out else s for s in saved)
    return arr


def _foreign_dtype(cls: type, args: tuple[Any, ...], out: np.ndarray) -> TypeError:
    """An op whose result is not real numbers: NumPy upcast an operand (a complex number,
    an object array), and a Tensor holding that would differentiate nothing sensibly."""
    kinds = ", ".join(
        f"{type(a).__name__}" + (f" of dtype {a.dtype}" if hasattr(a, "dtype") else "")
        for a in args
    )
    return TypeError(
        f"{cls.__name__}: the result has dtype {out.dtype}, but graphgrad tensors hold real "
        f"numbers (bool, int or float); the operands were {kinds}. Convert the operand to a "
        "float array first (np.asarray(v, dtype=np.float64))"
    )


def _describe(cls: type, args: tuple[Any, ...], exc: Exception) -> str:
    datas = [a.data if isinstance(a, Tensor) else a for a in args]
    shapes = [np.shape(d) for d in datas if isinstance(d, (_ndarray, np.generic))]
    what = " and ".join(str(s) for s in shapes) if shapes else "(no array operands)"
    noun = "shape" if len(shapes) == 1 else "shapes"
    return f"{cls.__name__}: operands of {noun} {what} do not fit: {exc}"


class _MultiOutput(Function):
    """The graph node of a user Function whose forward returned a tuple of arrays.

    The engine gives every node one output array and one pending gradient, so the
    floating-point outputs are packed into one flat array (this node's output) and each
    output Tensor is a slice of it, reshaped (GetItem and Reshape nodes): their gradients
    arrive as slices of the packed gradient, and one that never reached the loss is zero
    there, as PyTorch materialises it. The rule splits the packed gradient and calls the
    user's ``backward(ctx, *grads)`` (None for integer or bool outputs, which are not
    differentiable). What the user's forward saved lives on this node, so the engine
    releases it, checks it against in-place writes and maps it under ``create_graph``;
    a saved output becomes the matching slice of the packed output (``views``).
    """

    __slots__ = ("fn", "layout", "views")
    fn: Any  # the user's Function context
    layout: tuple[Any, ...]
    views: tuple[Any, ...]

    @staticmethod
    def backward(node: Any, g: Any) -> Any:
        grads: list[Any] = []
        for entry in node.layout:
            if entry is None:
                grads.append(None)
                continue
            off, n, shape, dtype = entry
            gi = g[off : off + n].reshape(shape)
            grads.append(gi if gi.dtype == dtype else gi.astype(dtype))
        ctx = node.fn
        ctx.saved_tensors = (
            node.saved_tensors
        )  # Tensors under create_graph: see _backward_on_tensors
        try:
            return type(ctx).backward(ctx, *grads)
        finally:
            del ctx.saved_tensors


_node_classes: dict[type, type[_MultiOutput]] = {}


def _node_class(cls: type[Function]) -> type[_MultiOutput]:
    """A ``_MultiOutput`` subclass named after the user's Function, so that grad_fn, error
    messages and graph drawings name the user's op."""
    node_cls = _node_classes.get(cls)
    if node_cls is None:
        node_cls = type(cls.__name__, (_MultiOutput,), {"__slots__": ()})
        node_cls.__qualname__ = cls.__qualname__
        _node_classes[cls] = node_cls
    return node_cls


def _multi_output(
    cls: type[Function],
    ctx: Function,
    outs: tuple[Any, ...],
    record: bool,
    vertices: tuple[Any, ...],
    args: tuple[Any, ...],
) -> tuple[Tensor, ...]:
    """The Tensors of a forward that returned several arrays (see ``_MultiOutput``)."""
    if not outs:
        raise TypeError(f"{cls.__name__}.forward returned no outputs (an empty tuple)")
    arrays = []
    for o in outs:
        if type(o) is not _ndarray:
            o = output_array(cls, ctx, o)
        if o.dtype.kind not in "fbiu":
            raise _foreign_dtype(cls, args, o)
        arrays.append(o)
    floats = [a for a in arrays if a.dtype.kind == "f"]
    if not record or not floats:
        result = tuple(_make(a, None) for a in arrays)
    else:
        dtype = np.result_type(*floats)
        packed = np.empty(sum(a.size for a in floats), dtype=dtype)
        layout: list[tuple[int, int, tuple[int, ...], np.dtype] | None] = []
        views: list[Any] = []
        off = 0
        for a in arrays:
            if a.dtype.kind != "f":
                layout.append(None)
                views.append(None)
                continue
            view = packed[off : off + a.size].reshape(a.shape)
            view[...] = a
            layout.append((off, a.size, a.shape, a.dtype))
            views.append(view)
            off += a.size
        node = _new(_node_class(cls))
        node.fn, node.layout, node.views = ctx, tuple(layout), tuple(views)
        node.needs_input_grad = ctx.needs_input_grad
        # the saved arrays move to the node; a saved output becomes its packed slice
        saved = getattr(ctx, "saved_tensors", ())
        node.saved_tensors = tuple(_packed_view(s, arrays, views) for s in saved)
        if saved:
            del ctx.saved_tensors
        node.inputs = vertices
        node._seq = next(sequence)
        node._shape = packed.shape
        node._out_id = id(packed)
        whole = _make(packed, node)
        result = tuple(
            _make(a, None) if entry is None else _unpack(whole, entry)
            for a, entry in zip(arrays, layout)
        )
    if watching[0]:
        if tracer[0] is not None:
            tracer[0].several_outputs(cls)  # type: ignore[attr-defined]
        for t in result:
            _watch(cls, args, None, t)
    return result


def _packed_view(s: Any, arrays: list[Any], views: list[Any]) -> Any:
    """A saved array that is one of the outputs, as its slice of the packed output."""
    for a, v in zip(arrays, views):
        if s is a and v is not None:
            return v
    return s


def _unpack(whole: Tensor, entry: tuple[int, int, tuple[int, ...], np.dtype]) -> Tensor:
    """One output: its slice of the packed Tensor, in its shape and dtype (recorded ops)."""
    off, n, shape, dtype = entry
    t = whole[off : off + n].reshape(shape)
    return t if t.dtype == dtype else t.astype(dtype)


# The other half of the Tensor–ops import cycle (see graphgrad/core/tensor.py's end).
from graphgrad.core.tensor import Tensor, _make, _refuse_graph_inside  # noqa: E402
