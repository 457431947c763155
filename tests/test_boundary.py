"""The NumPy boundary, fuzzed over NumPy itself (docs/design.md, "The NumPy boundary").

NumPy's public functions and ufuncs are enumerated from the installed NumPy (not from a
hand list), so a new NumPy release is checked by the same tests. Each is applied to tensors
that require grad, with argument patterns NumPy accepts for plain arrays. The contract:

* the call raises TypeError (refused, naming the graphgrad way), or
* every floating result is a Tensor that carries the graph, equals NumPy's value and passes
  gradcheck; a result with no floating part (indices, bools, shapes) may be plain;
* never a plain floating ndarray computed from a tensor that requires grad, and never a
  changed tensor array.

Writers (``out=``, ``ufunc.at``, and every function found to write into an argument) are
refused on a leaf that requires grad, and on an array a graph has saved they either refuse
or their write makes that graph's backward raise (the saved-array guard).
"""

from __future__ import annotations

import inspect
import warnings
from collections import Counter
from typing import Any, Callable

import numpy as np
import pytest

import graphgrad as gg

# Functions that read or write files, print, or open documentation: they compute nothing
# from array values, and calling them with stand-in arguments would touch the disk.
_NOT_COMPUTATIONS = {
    "save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt",
    "fromfile", "fromregex", "memmap", "info", "show_config", "show_runtime",
    "printoptions", "set_printoptions", "get_printoptions", "setbufsize", "getbufsize",
    "seterr", "geterr", "seterrcall", "geterrcall", "errstate", "test", "DataSource",
    "tofile",
}  # fmt: skip


def _numpy_callables() -> list[tuple[str, Callable[..., Any]]]:
    """Every public NumPy function that takes part in dispatch: ufuncs, and functions with
    ``__array_function__`` dispatch (their ``_implementation`` attribute), from the top
    level, numpy.linalg and numpy.fft."""
    found: dict[int, tuple[str, Callable[..., Any]]] = {}
    for prefix, module in (("", np), ("linalg.", np.linalg), ("fft.", np.fft)):
        for name in dir(module):
            if name.startswith("_") or name in _NOT_COMPUTATIONS:
                continue
            obj = getattr(module, name)
            if isinstance(obj, np.ufunc) or (
                callable(obj) and not inspect.isclass(obj) and hasattr(obj, "_implementation")
            ):
                found.setdefault(id(obj), (prefix + name, obj))
    return sorted(found.values(), key=lambda item: item[0])


CALLABLES = _numpy_callables()


def _leaves() -> dict[str, gg.Tensor]:
    rng = np.random.default_rng(0)
    return {
        "x": gg.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True),
        "m": gg.tensor(np.eye(3) * 2 + rng.uniform(-0.3, 0.3, (3, 3)), requires_grad=True),
    }


# argument patterns: names of leaves stand for the tensors, anything else is passed as is
PATTERNS: list[tuple[Any, ...]] = [
    ("x",), ("m",), ("x", "x"), ("m", "m"), ("x", 2), ("x", 0.5), ("m", 0), ("m", 1),
    (["x", "x"],), ("x", "x", "x"), ("m", -1), ("x", [0, 2]),
]  # fmt: skip
UFUNC_METHODS = [("reduce", ("x",)), ("accumulate", ("x",)), ("outer", ("x", "x")),
                 ("reduceat", ("x", [0, 2]))]  # fmt: skip


def _fill(pattern: Any, values: dict[str, Any]) -> Any:
    if isinstance(pattern, str) and pattern in values:
        return values[pattern]
    if isinstance(pattern, list):
        return [_fill(p, values) for p in pattern]
    if isinstance(pattern, tuple):
        return tuple(_fill(p, values) for p in pattern)
    return pattern


def _walk(result: Any) -> list[Any]:
    if isinstance(result, (list, tuple)):
        return [r for item in result for r in _walk(item)]
    return [result]


def _floating(v: Any) -> bool:
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype.kind not in "biuSUMmV"
    return isinstance(v, (float, complex))


def _check_call(name: str, call: Callable[..., Any], pattern: tuple[Any, ...]) -> str | None:
    """Apply ``call`` to ``pattern`` with Tensors, where NumPy accepts it with arrays.
    Returns what happened: None (NumPy refused the plain call too), or an outcome name;
    raises AssertionError on a broken contract."""
    leaves = _leaves()
    plain_args = _fill(pattern, {k: t.data.copy() for k, t in leaves.items()})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            expected = call(*plain_args)
        except Exception:
            return None
        before = {k: t.data.copy() for k, t in leaves.items()}
        try:
            result = call(*_fill(pattern, leaves))
        except TypeError:
            outcome = "refused"
        except Exception as exc:  # anything but a refusal must match NumPy's success
            raise AssertionError(f"np.{name}{pattern}: {type(exc).__name__}: {exc}") from exc
        else:
            outcome = _judge(name, call, pattern, result, expected, leaves)
    for k, t in leaves.items():
        assert np.array_equal(t.data, before[k], equal_nan=True), f"np.{name} wrote into {k}"
    return outcome


def _judge(name: str, call: Any, pattern: Any, result: Any, expected: Any, leaves: Any) -> str:
    got, want = _walk(result), _walk(expected)
    tensors = [r for r in got if isinstance(r, gg.Tensor)]
    plain_floats = [r for r in got if not isinstance(r, gg.Tensor) and _floating(r)]
    assert not plain_floats, f"np.{name}{pattern} returned a plain floating result"
    if not tensors:
        return "plain, no floating part"
    assert len(got) == len(want), f"np.{name}{pattern}: {len(got)} results, NumPy {len(want)}"
    for k, (r, w) in enumerate(zip(got, want)):
        if isinstance(r, gg.Tensor):
            assert r.requires_grad or r.dtype.kind != "f", f"np.{name}: result {k} lost the graph"
            np.testing.assert_allclose(r.data, w, rtol=1e-12, err_msg=f"np.{name}{pattern}")
    inputs = [t for key, t in leaves.items() if _uses(pattern, key)]

    def output(k: int) -> Callable[..., gg.Tensor]:
        def fn(*ins: gg.Tensor) -> gg.Tensor:
            values = dict(zip([key for key in leaves if _uses(pattern, key)], ins))
            return _walk(call(*_fill(pattern, values)))[k]

        return fn

    for k, r in enumerate(got):
        # (at a point where the value is inf or NaN, e.g. m / 0, there is no derivative)
        if isinstance(r, gg.Tensor) and r.requires_grad and np.isfinite(r.data).all():
            try:
                gg.gradcheck(output(k), inputs)
            except gg.GradcheckError as exc:
                raise AssertionError(f"np.{name}{pattern}: output {k}: {exc}") from None
    return "recorded"


def _uses(pattern: Any, key: str) -> bool:
    if isinstance(pattern, (list, tuple)):
        return any(_uses(p, key) for p in pattern)
    return pattern == key


def test_every_numpy_function_records_or_refuses() -> None:
    outcomes: Counter[str] = Counter()
    tried = 0
    for name, fn in CALLABLES:
        for pattern in PATTERNS:
            outcome = _check_call(name, fn, pattern)
            if outcome is not None:
                tried += 1
                outcomes[outcome] += 1
    assert len(CALLABLES) > 300 and tried > 500, (len(CALLABLES), tried)  # really enumerated
    assert outcomes["recorded"] > 30 and outcomes["refused"] > 300, outcomes


def test_every_ufunc_method_records_or_refuses() -> None:
    tried = 0
    for name, fn in CALLABLES:
        if not isinstance(fn, np.ufunc) or fn.nin != 2:
            continue
        for method, pattern in UFUNC_METHODS:
            if _check_call(f"{name}.{method}", getattr(fn, method), pattern) is not None:
                tried += 1
    assert tried > 50


# ---------------------------------------------------------------------------- writers
def _writers() -> list[tuple[str, tuple[int, ...], Callable[[Any], Any]]]:
    """Every way found to write into an argument: out= on every ufunc, ufunc.at on every
    binary ufunc, and each NumPy function that, given a plain array (1-D or 2-D), changed
    it. Each comes with the shape of the array it writes."""
    found: list[tuple[str, tuple[int, ...], Callable[[Any], Any]]] = []
    for name, fn in CALLABLES:
        if isinstance(fn, np.ufunc):
            ins = (0.75,) * fn.nin
            if fn.nout == 1 and _changes(lambda a, fn=fn, ins=ins: fn(*ins, out=a), (4,)):
                found.append(
                    (f"{name}(..., out=t)", (4,), lambda a, fn=fn, ins=ins: fn(*ins, out=a))
                )
            if fn.nin == 2 and _changes(lambda a, fn=fn: fn.at(a, [0], 0.25), (4,)):
                found.append((f"{name}.at", (4,), lambda a, fn=fn: fn.at(a, [0], 0.25)))
            continue
        for shape, extra in _WRITE_PATTERNS:

            def write(a: Any, fn: Any = fn, extra: Any = extra) -> Any:
                return fn(a, *extra)

            if _changes(write, shape):
                found.append((f"{name}{extra}", shape, write))
                break
    return found


_WRITE_PATTERNS: list[tuple[tuple[int, ...], tuple[Any, ...]]] = [
    ((4,), (0.25,)), ((4,), ([0], [0.25])), ((4,), ([True, False, False, False], [0.25])),
    ((2, 2), (0.25,)), ((2, 2), (np.array([[0], [1]]), 0.25, 1)),
]  # fmt: skip


def _changes(write: Callable[[Any], Any], shape: tuple[int, ...]) -> bool:
    a = np.full(shape, 0.5)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            write(a)
        except Exception:
            return False
    return not np.array_equal(a, np.full(shape, 0.5))


WRITERS = _writers()
_IDS = [n for n, _, _ in WRITERS]


def test_writers_are_found_programmatically() -> None:
    names = {n.split("(")[0] for n in _IDS}
    for expected in ("copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis",
                     "add.at", "multiply.at", "add"):  # fmt: skip
        assert expected in names, expected
    assert len(WRITERS) > 60


@pytest.mark.parametrize("name, shape, write", WRITERS, ids=_IDS)
def test_writers_refuse_a_leaf_that_requires_grad(name: str, shape: Any, write: Any) -> None:
    w = gg.tensor(np.full(shape, 0.5), requires_grad=True)
    y = (w * np.arange(w.size).reshape(shape)).sum()
    with pytest.raises(TypeError, match=r"in place|writes into"):
        write(w)
    np.testing.assert_array_equal(w.data, 0.5)
    y.backward()
    np.testing.assert_array_equal(w.grad, np.arange(w.size).reshape(shape))


@pytest.mark.parametrize("name, shape, write", WRITERS, ids=_IDS)
def test_writers_never_change_an_array_a_graph_saved_silently(
    name: str, shape: Any, write: Any
) -> None:
    w = gg.tensor(np.full(shape, 0.5), requires_grad=True)
    c = gg.tensor(np.full(shape, 0.5))  # a constant: Mul saves it for w's gradient
    y = (w * c).sum()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        write(c)  # allowed: nothing here requires grad
        assert not np.array_equal(c.data, np.full(shape, 0.5))
        with pytest.raises(RuntimeError, match="modified in place"):
            y.backward()
        y = (w * 2.0).sum()  # Mul saves w too
        with gg.no_grad():  # a leaf's own array is written under no_grad, the write noted
            write(w)
        with pytest.raises(RuntimeError, match="modified in place"):
            y.backward()
    assert not np.array_equal(w.data, np.full(shape, 0.5))


# ------------------------------------------------------------------ what was seen
def test_numpy_entry_points_no_longer_drop_the_graph() -> None:
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for build in (
        lambda: np.array([x, 2 * x]),
        lambda: np.asarray(x),
        lambda: np.mean([x, x + 2]),
        lambda: np.linalg.norm(x),
        lambda: np.histogram(x),  # several outputs, one floating
    ):
        with pytest.raises(TypeError, match="gradient"):
            build()
    for split in (np.split, np.array_split):
        parts = split(x, 3)
        assert all(p.requires_grad for p in parts)
        sum(p.sum() * (i + 1) for i, p in enumerate(parts)).backward()
        np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])
        x.grad = None
    m = gg.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    for split, axis in ((np.hsplit, 1), (np.vsplit, 0), (np.dsplit, 2)):
        parts = split(m, [1])
        np.testing.assert_array_equal(np.concatenate([p.data for p in parts], axis=axis), m.data)
        assert gg.gradcheck(lambda m, split=split: split(m, [1])[-1].sum(), (m,))


def test_values_of_a_tensor_that_requires_grad_are_not_written_into_arrays() -> None:
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    arr = np.zeros(2)
    for write in (
        lambda: arr.__iadd__(x),  # arr += x
        lambda: np.add(arr, x, out=arr),
        lambda: np.sin(x, out=arr),
        lambda: arr.__setitem__(slice(None), x),  # arr[:] = x
    ):
        with pytest.raises(TypeError):
            write()
        np.testing.assert_array_equal(arr, 0.0)  # refused before anything was written
    np.greater(x, 1.5, out=np.zeros(2, dtype=bool))  # a bool result: no gradient to lose


def test_add_at_no_longer_corrupts_a_gradient() -> None:
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = (x * y).sum()
    with pytest.raises(
        TypeError, match=r"np\.add\.at \(on Tensor \(3,\) float64 requiring grad\) writes into"
    ):
        np.add.at(x, [0], 10.0)
    z.backward()
    np.testing.assert_array_equal(y.grad, [1.0, 2.0, 3.0])
    with gg.no_grad():
        np.add.at(x, [0], 10.0)  # an update outside the graph, like t += ...
    np.testing.assert_array_equal(x.data, [11.0, 2.0, 3.0])
    z2 = (x * y).sum()  # recorded after the write: fine
    with gg.no_grad():
        np.copyto(x, 9.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        z2.backward()


def test_casts_to_non_float_dtypes_leave_the_graph() -> None:
    a = gg.tensor([1.5, 2.5], requires_grad=True)
    for dtype in (int, np.int32, bool, np.uint8):
        c = a.astype(dtype)
        assert not c.requires_grad and c.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        (a.astype(int) * 3).sum().backward()
    for dtype in (str, object, complex):
        with pytest.raises(TypeError, match="real numbers"):
            a.astype(dtype)
    for operand in (np.array([1, 2], dtype=object), 1j, np.array([1j, 2])):
        with pytest.raises(TypeError, match="real numbers"):
            a * operand
    assert a.astype(np.float32).requires_grad  # float casts stay recorded

    class ToComplex(gg.Function):  # a user's forward that leaves the real numbers
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            return x * 1j

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            return g

    for args in ((a,), (a.data,)):
        with pytest.raises(TypeError, match="ToComplex: the result has dtype complex128"):
            ToComplex.apply(*args)


def test_gradients_handed_in_must_be_real() -> None:
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    for bad in (np.array([1j, 1.0]), np.array(["a", "b"]), np.array([None, 1.0])):
        with pytest.raises(TypeError, match="real numbers"):
            y.backward(bad)
        with pytest.raises(TypeError, match="real numbers"):
            x.grad = bad
    assert x.grad is None
    y.backward(np.array([1, 2]))  # integers are real: cast to the tensor's dtype
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
