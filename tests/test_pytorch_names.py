"""Same name, same meaning: where graphgrad uses PyTorch's name it means what PyTorch
means, and where NumPy and PyTorch read one call two ways, the reading graphgrad does not
take raises (saying which spelling does what)."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn


# ------------------------------------------------------------------ batch_first
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_are_time_major_by_default_as_in_pytorch(kind: str) -> None:
    layer = getattr(nn, kind)(3, 4, num_layers=2, rng=0)
    assert layer.batch_first is False and "batch_first=False" in repr(layer)
    batch_first = getattr(nn, kind)(3, 4, num_layers=2, batch_first=True, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))  # (T, N, F): 5 steps, 2 samples
    out, _ = layer(x)
    assert out.shape == (5, 2, 4)
    ref, _ = batch_first(x.transpose(1, 0, 2))  # the same sequences, batch-major
    np.testing.assert_allclose(out.data, ref.data.transpose(1, 0, 2), rtol=1e-12)


# ------------------------------------------------------------------ transpose
def test_transpose_of_two_axes_raises_where_numpy_and_pytorch_disagree() -> None:
    m = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for a, b in [(0, 1), (-2, -1), (0, -1), (-2, 1)]:  # NumPy: identity; PyTorch: swap
        with pytest.raises(TypeError, match=r"identity permutation in NumPy.*t\.T"):
            m.transpose(a, b)
    assert m.transpose(1, 0).shape == (3, 2)  # a swap in both readings
    assert m.transpose((0, 1)).shape == (2, 3)  # a tuple is NumPy's permutation: no doubt
    assert np.transpose(m, (0, 1)).shape == (2, 3)
    x = gg.tensor(np.zeros((2, 3, 4)))
    with pytest.raises(gg.ShapeError, match=r"t\.swapaxes\(0, 2\)"):
        x.transpose(0, 2)  # PyTorch: swap dims 0 and 2; NumPy: not a permutation of 3 axes
    assert x.swapaxes(0, 2).shape == (4, 3, 2)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3)


# ------------------------------------------------------------------ max / min
@pytest.mark.parametrize("kind", ["max", "min"])
def test_positional_max_and_min_raise(kind: str) -> None:
    t = gg.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match=rf"axis=1\).*dim=1\).*gg\.{kind}imum"):
        getattr(t, kind)(1)
    with pytest.raises(TypeError, match="not both"):
        getattr(t, kind)(axis=1, dim=1)
    with pytest.raises(TypeError, match="needs dim="):
        getattr(t, kind)(keepdim=True)


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_with_dim_is_pytorchs_values_and_indices(kind: str, dim: int, keepdim: bool) -> None:
    x = np.random.default_rng(dim + 3).permutation(12).reshape(3, 4).astype(float)  # untied
    t = gg.tensor(x, requires_grad=True)
    values, indices = getattr(t, kind)(dim=dim, keepdim=keepdim)  # unpacks as in PyTorch
    reduce, arg = (np.max, np.argmax) if kind == "max" else (np.min, np.argmin)
    np.testing.assert_array_equal(values.data, reduce(x, axis=dim, keepdims=keepdim))
    want = arg(x, axis=dim)
    np.testing.assert_array_equal(indices.data, np.expand_dims(want, dim) if keepdim else want)
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert gg.gradcheck(lambda t: getattr(t, kind)(dim=dim, keepdim=keepdim).values, (t,))


def test_max_with_dim_sends_the_gradient_to_the_returned_index_only() -> None:
    t = gg.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    values, indices = t.max(dim=1)
    values.sum().backward()  # PyTorch's max(dim): the chosen element gets it all
    np.testing.assert_array_equal(indices.data, [1, 0])
    np.testing.assert_array_equal(t.grad, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    t.grad = None
    t.max(axis=1).sum().backward()  # NumPy's reading (amax): ties share it
    np.testing.assert_array_equal(t.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
