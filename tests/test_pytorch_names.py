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
    cell = nn.ElmanCell(40, 400, rng=0)  # the seeds' W (in, out) = (40, 400): randn / √40
    assert np.std(cell.W.data) == pytest.approx(1 / np.sqrt(40), rel=0.05)


# ------------------------------------------------------------------ PyTorch's spellings
def test_pytorch_spellings_mean_what_they_mean_in_pytorch() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    t = gg.tensor(x, requires_grad=True)
    assert t.size == 24 and t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and t.dim() == 3
    np.testing.assert_array_equal(t.view(6, 4).data, x.reshape(6, 4))
    np.testing.assert_array_equal(t.narrow(2, 1, 2).data, x[:, :, 1:3])
    with pytest.raises(IndexError, match="narrow"):
        t.narrow(1, 2, 5)
    m = gg.tensor(x[0], requires_grad=True)
    np.testing.assert_array_equal(m.t().data, x[0].T)
    assert m.contiguous() is m and m.double().dtype == np.float64
    # PyTorch's contiguous(): a strided view becomes a C-order copy, the gradient passing
    # through
    v = m.T.contiguous()
    assert v.data.flags.c_contiguous and not np.shares_memory(v.data, m.data)
    np.testing.assert_array_equal(v.data, x[0].T)
    (v * np.arange(v.size).reshape(v.shape)).sum().backward()
    np.testing.assert_array_equal(m.grad, np.arange(v.size).reshape(v.shape).T)
    assert m.float().dtype == np.float32 and m.float().requires_grad
    c = m.clone()
    assert c.data is not m.data and c.requires_grad
    z = m.new_zeros(2, 5)
    assert z.shape == (2, 5) and z.dtype == m.dtype and not z.requires_grad
    # torch.split: pieces of a size (the last smaller), or listed sizes; chunk: ⌈n / k⌉
    assert [p.shape[2] for p in t.split(3, dim=2)] == [3, 1]
    assert [p.shape[1] for p in t.split([1, 2], dim=1)] == [1, 2]
    assert [p.shape[2] for p in t.chunk(3, dim=2)] == [2, 2]
    with pytest.raises(ValueError, match="do not add up"):
        t.split([1, 1], dim=1)
    for fn in (
        lambda t: t.narrow(2, 1, 2) * 2,
        lambda t: t.split(3, dim=2)[1] + t.chunk(2, dim=1)[0].sum(),
        lambda t: t.view(4, 6).t(),
        lambda t: t.clone() * t,
        lambda t: t.sum(dim=1, keepdim=True),
        lambda t: t.mean(dim=(0, 2)),
        lambda t: t.softmax(dim=1) + t.log_softmax(dim=0),
    ):
        assert gg.gradcheck(fn, (gg.tensor(x / 10, requires_grad=True),))
    with pytest.raises(TypeError, match="not both"):
        t.sum(axis=1, dim=1)


def test_var_and_std_make_the_divisor_explicit() -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = gg.tensor(x, requires_grad=True)
    for name in ("var", "std"):
        with pytest.raises(TypeError, match=r"ddof=0.*correction=1"):
            getattr(t, name)()  # NumPy divides by n, PyTorch by n − 1: no silent pick
        reference = getattr(np, name)
        np.testing.assert_allclose(getattr(t, name)(ddof=0).data, reference(x), rtol=1e-12)
        np.testing.assert_allclose(
            getattr(t, name)(dim=1, correction=1).data, reference(x, axis=1, ddof=1), rtol=1e-12
        )
        np.testing.assert_allclose(
            getattr(t, name)(1, unbiased=True, keepdim=True).data,
            reference(x, axis=1, ddof=1, keepdims=True),
            rtol=1e-12,
        )
        assert gg.gradcheck(lambda t, name=name: getattr(t, name)(axis=0, ddof=1), (t,))
    with pytest.raises(TypeError, match="one of"):
        t.var(ddof=0, correction=1)


def test_module_level_pytorch_names() -> None:
    a, b = gg.tensor(np.ones((2, 3)), requires_grad=True), gg.tensor(np.zeros((2, 3)))
    np.testing.assert_array_equal(gg.cat([a, b], dim=1).data, np.concatenate([a.data, b.data], 1))
    assert gg.concat([a, b], dim=1).shape == (2, 6) and gg.stack([a, b], dim=2).shape == (2, 3, 2)
    with pytest.raises(TypeError, match="not both"):
        gg.concat([a, b], axis=1, dim=1)
    assert gg.softmax(a, dim=0).shape == (2, 3)
    assert gg.float32 is np.float32 and gg.int64 is np.int64 and gg.bool is np.bool_
    assert a.astype(gg.float32).dtype == np.float32
    with gg.inference_mode():
        assert not (a * 2).requires_grad


# ------------------------------------------------------------------ sampling, fill_, index
def test_fill_writes_outside_the_graph_and_records_inside_it() -> None:
    c = gg.tensor(np.arange(3))
    assert c.fill_(7) is c and c.data.tolist() == [7, 7, 7]
    w = gg.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"fill_ on a leaf tensor that requires grad"):
        w.fill_(0.0)
    with gg.no_grad():
        w.fill_(0.5)
    assert w.data.tolist() == [0.5, 0.5, 0.5] and w.grad is None
    x = gg.tensor(np.arange(4.0), requires_grad=True)
    v = gg.tensor(2.0, requires_grad=True)
    y = x * 3
    y.fill_(v)  # in place on a non-leaf: recorded; x gets nothing, v gets every element's
    (y * gg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert y.data.tolist() == [2.0] * 4
    np.testing.assert_array_equal(x.grad, np.zeros(4))
    assert v.grad == 10.0
    with pytest.raises(gg.ShapeError, match="one element"):
        gg.tensor(np.zeros(2)).fill_(gg.tensor([1.0, 2.0]))


def test_index_takes_one_element_integer_tensors_only() -> None:
    words = ["a", "b", "c"]
    assert words[gg.tensor(2)] == "c" and words[gg.tensor([1])] == "b"
    assert list(range(gg.tensor(3))) == [0, 1, 2]
    for bad in (gg.tensor(1.0), gg.tensor([0, 1])):
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            words[bad]


def test_div_cpu_and_integer_casts() -> None:
    x = gg.tensor(np.array([3.0, -4.5]), requires_grad=True)
    y = x.div(2.0)
    y.sum().backward()
    assert y.data.tolist() == [1.5, -2.25] and x.grad.tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="rounding_mode='floor' is not supported"):
        x.div(2.0, rounding_mode="floor")
    assert x.cpu() is x
    assert x.long().dtype == np.int64 and x.long().data.tolist() == [3, -4]
    assert x.int().dtype == np.int32 and not x.long().requires_grad


def test_randint_is_pytorchs_signature_over_the_default_generator() -> None:
    gg.manual_seed(5)
    a = gg.randint(10, (2, 3))
    gg.manual_seed(5)
    assert np.array_equal(a.data, gg.randint(0, 10, (2, 3)).data)
    assert a.dtype == np.int64 and a.shape == (2, 3) and a.data.min() >= 0 and a.data.max() < 10
    b = gg.randint(-3, 3, size=(1000,), dtype=gg.int32, generator=0)
    assert b.dtype == np.int32 and set(b.data.tolist()) == set(range(-3, 3))
    with pytest.raises(TypeError, match=r"write \(4,\)"):
        gg.randint(5, 4)
    with pytest.raises(TypeError, match="takes"):
        gg.randint((2, 3))
    with pytest.raises(ValueError, match="greater than low"):
        gg.randint(3, 3, (2,))


def test_multinomial_draws_in_proportion_to_the_weights() -> None:
    w = gg.tensor([1.0, 0.0, 3.0])  # unnormalised, as PyTorch allows
    draws = gg.multinomial(w, 4000, replacement=True, generator=1).data
    assert draws.dtype == np.int64 and draws.shape == (4000,) and 1 not in draws
    assert abs((draws == 2).mean() - 0.75) < 0.03
    rows = gg.multinomial(np.array([[0.0, 1.0, 1.0], [5.0, 2.0, 0.0]]), 2, generator=2).data
    assert rows.shape == (2, 2)  # without replacement: each row's two non-zero categories
    assert sorted(rows[0].tolist()) == [1, 2] and sorted(rows[1].tolist()) == [0, 1]
    with pytest.raises(ValueError, match="without replacement"):
        gg.multinomial(w, 3)
    with pytest.raises(TypeError, match="num_samples must be an int"):
        gg.multinomial(w, 2.5, replacement=True)
    for bad in ([1.0, -0.5], [np.nan, 1.0], [0.0, 0.0]):
        with pytest.raises(ValueError, match="multinomial"):
            gg.multinomial(np.array(bad), 1)


def test_accelerator_reports_none_so_programs_take_their_cpu_path() -> None:
    assert gg.accelerator.is_available() is False and gg.accelerator.device_count() == 0
    assert gg.accelerator.current_accelerator() is None


def test_tensor_keywords_are_keyword_only_as_torch_tensors() -> None:
    # positionally, torch.Tensor(2, 3) is an uninitialised 2 x 3 tensor and
    # gg.tensor(x, np.float32) would read the dtype as requires_grad: both refuse
    for call in (lambda: gg.Tensor(2, 3), lambda: gg.tensor([1.0], np.float32)):
        with pytest.raises(TypeError, match="positional"):
            call()
    t = gg.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True, device="cpu")
    assert t.dtype == np.float32 and t.requires_grad
    with pytest.raises(Exception, match="CPU"):
        gg.tensor([1.0], device="cuda")


# ------------------------------------------------------------------ runtime settings
def test_default_dtype_is_float64_and_set_default_dtype_gives_pytorchs() -> None:
    assert gg.get_default_dtype() == np.float64
    assert nn.Linear(2, 3).weight.dtype == np.float64 and gg.tensor([0.5]).dtype == np.float64
    try:
        gg.set_default_dtype(gg.float32)
        assert gg.get_default_dtype() == np.float32
        assert nn.Linear(2, 3).weight.dtype == np.float32 and gg.zeros(2).dtype == np.float32
        assert gg.tensor([0.5]).dtype == np.float32 and gg.tensor([1]).dtype == np.int64
        assert gg.tensor(np.zeros(2)).dtype == np.float64  # an ndarray keeps its dtype
    finally:
        gg.set_default_dtype(gg.float64)
    with pytest.raises(TypeError, match="only floating-point dtypes"):
        gg.set_default_dtype(gg.int64)


def test_set_num_threads_sets_numpys_blas_threads() -> None:
    before = gg.get_num_threads()
    try:
        gg.set_num_threads(1)
        assert gg.get_num_threads() == 1
    finally:
        gg.set_num_threads(before)
    assert gg.get_num_threads() == before


def test_the_one_device_is_the_cpu() -> None:
    cpu = gg.device("cpu")
    assert cpu == "cpu" and cpu == gg.device(cpu) and str(cpu) == "cpu"
    t = gg.tensor([1.0], requires_grad=True)
    assert t.device == cpu and t.to(cpu) is t and t.to("cpu", gg.float64) is t
    layer = nn.Linear(2, 2)
    assert layer.to(cpu) is layer
    for bad in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match="computes on the CPU"):
            gg.device(bad)
        with pytest.raises(RuntimeError, match="computes on the CPU"):
            t.to(bad)


def test_backward_of_several_roots_is_torch_autograd_backward() -> None:
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y1, y2 = x * x, (x * 3).sum()
    gg.backward([y1, y2], [np.array([1.0, 0.5]), None])  # Σ_k grad_k · ∂y_k/∂x
    np.testing.assert_array_equal(x.grad, [2.0 * 1 + 3, 4.0 * 0.5 + 3])
