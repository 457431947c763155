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


# ------------------------------------------------------------------ nn.Linear
def test_linear_weight_has_pytorchs_shape_and_a_pytorch_state_dict_loads_as_is() -> None:
    rng = np.random.default_rng(0)
    lin = nn.Linear(3, 3, rng=0)  # square: a transposed layout would load without a word
    assert lin.weight.shape == (3, 3) and nn.Linear(3, 5).weight.shape == (5, 3)
    w, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    lin.load_state_dict({"weight": w, "bias": b})  # what torch.nn.Linear.state_dict() holds
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(lin(x).data, x @ w.T + b, rtol=1e-14)  # torch's y = x Wᵀ + b
    np.testing.assert_allclose(
        nn.functional.linear(x, w, b).data, x @ w.T + b, rtol=1e-14
    )  # F.linear takes PyTorch's weight too
    xt = gg.tensor(x, requires_grad=True)
    assert gg.gradcheck(lambda xt, weight: nn.functional.linear(xt, weight, b),
                        (xt, gg.tensor(w, requires_grad=True)))  # fmt: skip


def test_weight_tying_works() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Embedding(6, 4, rng=0)
            self.decoder = nn.Linear(4, 6, rng=1)
            self.decoder.weight = self.encoder.weight  # as word_language_model does

        def forward(self, idx: np.ndarray) -> gg.Tensor:
            return self.decoder(self.encoder(idx))

    model = Tied()
    assert model.decoder.weight is model.encoder.weight
    assert len(list(model.parameters())) == 2  # the tied weight once, as in PyTorch
    assert list(model.state_dict()) == ["encoder.weight", "decoder.weight", "decoder.bias"]
    Tied().load_state_dict(model.state_dict())  # PyTorch's keys: both names of the tie
    idx = np.array([0, 3, 5])
    model(idx).sum().backward()
    w = model.encoder.weight
    expected = np.zeros((6, 4))
    np.add.at(expected, idx, w.data.sum(axis=0))  # through the embedding lookup
    expected += w.data[idx].sum(axis=0)  # through the decoder: every row gets Σ of inputs
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)


def test_initialisers_read_fans_in_pytorchs_layout() -> None:
    w = nn.Parameter(np.zeros((200, 50)))  # (out, in): fan_in = 50
    nn.init.kaiming_normal_(w, rng=0)
    assert np.std(w.data) == pytest.approx(np.sqrt(2 / 50), rel=0.05)
    cell = nn.RNNCell(40, 400, rng=0)  # the seeds' W (in, out) = (40, 400): randn / √40
    assert np.std(cell.W.data) == pytest.approx(1 / np.sqrt(40), rel=0.05)
