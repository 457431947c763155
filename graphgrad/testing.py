"""Hypothesis strategies for testing graphgrad ops and your own layers.

Needs ``hypothesis`` (``pip install 'graphgrad[testing]'``). Typical use::

    from hypothesis import given
    from graphgrad import testing as ggt

    @given(ggt.arrays(ggt.shapes(min_dims=1), avoid=(0.0,)))
    def test_my_op(x):
        assert gg.gradcheck(my_op, (gg.tensor(x, requires_grad=True),))

Gradient checks by central differences are only meaningful where the function is
smooth, so ``arrays`` keeps values a margin away from kinks (``avoid``) and
``separated_arrays`` keeps all elements apart (for max, sorting, ties).

``check_module(module_factory, input_shapes)`` fuzzes a whole layer — parameters
included — with gradcheck; it is the way to test a custom layer (see
``examples/custom_layer.py``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised only without hypothesis
    raise ImportError(
        "graphgrad.testing needs hypothesis: pip install 'graphgrad[testing]' (or hypothesis)"
    ) from exc

Shape = tuple[int, ...]


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` each."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    num_shapes: int = 2,
    min_dims: int = 0,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = 4,
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of shapes that broadcast together under NumPy's rules (size-1 axes and
    missing leading axes included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes,
        min_dims=min_dims,
        max_dims=max_dims,
        min_side=min_side,
        max_side=max_side,
    ).map(lambda bs: tuple(bs.input_shapes))


def axes(ndim: int, allow_none: bool = True) -> st.SearchStrategy[Any]:
    """A valid ``axis`` argument for an ``ndim``-d array: None, an int (possibly negative)
    or a tuple of distinct axes."""
    options: list[st.SearchStrategy[Any]] = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
        options.append(
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
        )
    return st.one_of(options) if options else st.none()


def arrays(
    shape: Shape | st.SearchStrategy[Shape],
    low: float = -2.0,
    high: float = 2.0,
    avoid: Sequence[float] = (),
    margin: float = 0.05,
    dtype: Any = np.float64,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of floats in [low, high], at least ``margin`` away from each point in
    ``avoid`` (e.g. ``avoid=(0.0,)`` for relu, abs or division)."""

    def far(v: float) -> bool:
        return all(abs(v - k) >= margin for k in avoid)

    elements = st.floats(low, high, allow_nan=False, allow_subnormal=False).filter(far)
    return hnp.arrays(dtype, shape, elements=elements)


def separated_arrays(
    shape: Shape | st.SearchStrategy[Shape],
    spacing: float = 0.1,
    low: float = -2.0,
    dtype: Any = np.float64,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose elements are pairwise at least ``spacing`` apart (no ties), in a
    random order: what max/min need for a smooth gradient check."""
    shape_st = shape if isinstance(shape, st.SearchStrategy) else st.just(shape)

    def build(shape_: Shape) -> st.SearchStrategy[np.ndarray]:
        n = int(np.prod(shape_, dtype=np.int64))
        grid = low + spacing * np.arange(n)
        return st.permutations(list(grid)).map(lambda p: np.asarray(p, dtype=dtype).reshape(shape_))

    return shape_st.flatmap(build)


def _flatten_tensors(out: Any) -> list[Any]:
    """The Tensors in a (possibly nested) tuple/list output, e.g. an LSTM's
    (outputs, (h, c))."""
    from graphgrad.core.tensor import Tensor

    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flatten_tensors(item)]
    raise TypeError(f"check_module: the module returned a {type(out).__name__}, not Tensors")


def check_module(
    module_factory: Callable[[np.random.Generator], Any],
    input_shapes: Sequence[Shape | st.SearchStrategy[Shape]],
    max_examples: int = 10,
    low: float = -1.5,
    high: float = 1.5,
    avoid: Sequence[float] = (),
    fast_mode: bool = False,
    check_second_order: bool = False,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> None:
    """Fuzz a layer with gradcheck: the way to test a custom layer.

    For ``max_examples`` hypothesis-drawn cases, builds a fresh module with
    ``module_factory(rng)`` (it must create float64 parameters), draws float64 inputs of
    ``input_shapes`` (fixed shapes, or strategies such as ``shapes(...)``) with values in
    [low, high] away from ``avoid``, and checks the gradients of every output with respect
    to every input and every parameter against central differences (with
    ``check_second_order``, second derivatives too). On a mismatch it raises
    ``GradcheckError`` for the smallest failing case hypothesis finds.

        check_module(lambda rng: MyLayer(3, 4, rng=rng), [(2, 5, 3)])
    """
    from hypothesis import given, settings

    from graphgrad.core.tensor import Tensor
    from graphgrad.errors import GradcheckError
    from graphgrad.gradcheck import gradcheck, gradgradcheck

    strategies = [
        s if isinstance(s, st.SearchStrategy) else st.just(tuple(s)) for s in input_shapes
    ]

    @st.composite
    def case(draw: Any) -> tuple[int, list[np.ndarray]]:
        seed = draw(st.integers(0, 2**32 - 1))
        return seed, [draw(arrays(draw(s), low, high, avoid=avoid)) for s in strategies]

    @settings(max_examples=max_examples, deadline=None, derandomize=True)
    @given(case())
    def run(drawn: tuple[int, list[np.ndarray]]) -> None:
        seed, arrays_ = drawn
        module = module_factory(np.random.default_rng(seed))
        inputs = [Tensor(a, requires_grad=True) for a in arrays_]
        named = list(module.named_parameters())
        n = len(inputs)
        labels = [f"input {i} of the module" for i in range(n)] + [
            f"parameter {k!r}" for k, _ in named
        ]

        def fn(*args: Any) -> tuple[Any, ...]:
            return tuple(_flatten_tensors(module(*args[:n])))

        check = gradgradcheck if check_second_order else gradcheck
        try:
            check(
                fn,
                (*inputs, *(p for _, p in named)),
                eps=eps,
                atol=atol,
                rtol=rtol,
                fast_mode=fast_mode,
            )
        except GradcheckError as exc:
            i = exc.input_index
            if i is None or i >= len(labels):
                raise  # not about one input (e.g. a random module): nothing to name
            raise GradcheckError(
                f"{exc}  [gradcheck input {i} is the {labels[i]}]",
                input_index=i,
                element=exc.element,
                output_index=exc.output_index,
                output_element=exc.output_element,
                analytical=exc.analytical,
                numerical=exc.numerical,
            ) from None

    run()
