"""gradcheck of every layer and cell, on small hypothesis-drawn sizes, plus their errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad import nn
from graphgrad.diagnostics import gradient_flow
from graphgrad.nn import functional as F

sizes = st.integers(1, 3)
seeds = st.integers(0, 2**31)


def params_and(module: nn.Module, *inputs: gg.Tensor) -> tuple[gg.Tensor, ...]:
    """gradcheck inputs: the inputs, then every parameter (perturbed in place)."""
    return (*inputs, *module.parameters())


@given(sizes, sizes, sizes, seeds, st.booleans())
def test_linear(n: int, d_in: int, d_out: int, seed: int, bias: bool) -> None:
    rng = np.random.default_rng(seed)
    layer = nn.Linear(d_in, d_out, bias=bias, rng=rng)
    x = gg.tensor(rng.standard_normal((n, 2, d_in)), requires_grad=True)
    args = params_and(layer, x)
    assert gg.gradcheck(lambda x, *_: layer(x), args)
    assert gg.gradgradcheck(lambda x, *_: layer(x).tanh(), args)


@pytest.mark.parametrize("act", [nn.Tanh(), nn.Sigmoid(), nn.ReLU()])
def test_activation_modules(act: nn.Module) -> None:
    x = gg.tensor([[-1.5, -0.2, 0.3, 2.0]], requires_grad=True)
    assert gg.gradcheck(act, (x,))
    np.testing.assert_allclose(
        act(x).data,
        {
            "Tanh": np.tanh,
            "Sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "ReLU": lambda v: np.maximum(v, 0),
        }[type(act).__name__](x.data),
        rtol=1e-15,
    )


def test_sequential_mlp() -> None:
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1), nn.Sigmoid())
    x = gg.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    assert gg.gradcheck(lambda *_: model(x), tuple(model.parameters()))


@given(st.integers(2, 6), st.integers(1, 3), seeds, st.booleans())
def test_embedding_lookup_and_gradient(vocab: int, dim: int, seed: int, pad: bool) -> None:
    rng = np.random.default_rng(seed)
    emb = nn.Embedding(vocab, dim, padding_idx=0 if pad else None, rng=rng)
    idx = rng.integers(0, vocab, size=(3, 4))  # repeats: gradients must accumulate
    if pad:  # PyTorch's padding row: looked up as it is (zeros at first), never trained
        np.testing.assert_array_equal(emb.weight.data[0], 0.0)
        emb.weight.data[0] = 7.0
    np.testing.assert_array_equal(emb(idx).data, emb.weight.data[idx])
    upstream = rng.standard_normal((3, 4, dim))
    emb(idx).backward(upstream)
    expected = np.zeros((vocab, dim))
    np.add.at(expected, idx, upstream)
    if pad:
        expected[0] = 0.0
    np.testing.assert_allclose(emb.weight.grad, expected, atol=1e-12)
    if not pad:  # (with padding, the row's value reaches the output with a zero gradient)
        assert gg.gradcheck(lambda w: emb(idx), (emb.weight,))


def test_embedding_padding_idx_is_read_as_pytorch_does() -> None:
    emb = nn.Embedding(5, 2, padding_idx=-1, rng=0)  # the last row, as in PyTorch
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.weight.data[4], 0.0)
    emb(np.array([4, 3, 4])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[4], 0.0)
    np.testing.assert_array_equal(emb.weight.grad[3], 1.0)
    for bad in (5, -6):
        with pytest.raises(ValueError, match=r"padding_idx .* out of range for 5"):
            nn.Embedding(5, 2, padding_idx=bad)
    with pytest.raises(TypeError, match="padding_idx must be an int"):
        nn.Embedding(5, 2, padding_idx=1.0)  # type: ignore[arg-type]


def test_embedding_errors() -> None:
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match="index 7 is out of range for 5"):
        emb(np.array([[1, 7]]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([0.5]))


# ------------------------------------------------------------------ recurrent
def _cell(kind: str, f_in: int, h: int, rng: np.random.Generator) -> nn.Module:
    return {
        "rnn": lambda: nn.ElmanCell(f_in, h, rng=rng),
        "rnn_relu": lambda: nn.ElmanCell(f_in, h, "relu", rng=rng),
        "rnn_linear": lambda: nn.ElmanCell(f_in, h, "linear", rng=rng),
        "lstm": lambda: nn.LSTMCell(f_in, h, rng=rng),
        "gru": lambda: nn.GRUCell(f_in, h, rng=rng),
        "rnn_nobias": lambda: nn.ElmanCell(f_in, h, bias=False, rng=rng),
        "lstm_nobias": lambda: nn.LSTMCell(f_in, h, bias=False, rng=rng),
        "gru_nobias": lambda: nn.GRUCell(f_in, h, bias=False, rng=rng),
    }[kind]()


@pytest.mark.parametrize(
    "kind",
    ["rnn", "rnn_relu", "rnn_linear", "lstm", "gru", "rnn_nobias", "lstm_nobias", "gru_nobias"],
)
@given(sizes, sizes, sizes, seeds, st.booleans())
def test_cells(kind: str, n: int, f_in: int, h: int, seed: int, with_state: bool) -> None:
    rng = np.random.default_rng(seed)
    cell = _cell(kind, f_in, h, rng)
    x = gg.tensor(rng.standard_normal((n, f_in)), requires_grad=True)
    h0 = gg.tensor(rng.standard_normal((n, h)) * 0.5, requires_grad=True)
    c0 = gg.tensor(rng.standard_normal((n, h)) * 0.5, requires_grad=True)

    def run(x: gg.Tensor, h0: gg.Tensor, c0: gg.Tensor, *_: Any) -> Any:
        if kind.startswith("lstm"):
            return cell(x, (h0, c0) if with_state else None)
        return cell(x, h0 if with_state else None)

    assert gg.gradcheck(run, params_and(cell, x, h0, c0))


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@given(
    sizes,
    st.integers(1, 4),
    sizes,
    sizes,
    st.integers(1, 2),
    seeds,
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_sequence_layers(
    cls: type,
    n: int,
    t: int,
    f_in: int,
    h: int,
    layers: int,
    seed: int,
    with_state: bool,
    batch_first: bool,
    bidirectional: bool,
) -> None:
    rng = np.random.default_rng(seed)
    layer = cls(
        f_in, h, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional, rng=rng
    )
    D = 2 if bidirectional else 1
    shape = (n, t, f_in) if batch_first else (t, n, f_in)
    x = gg.tensor(rng.standard_normal(shape), requires_grad=True)
    h0 = gg.tensor(rng.standard_normal((D * layers, n, h)) * 0.5, requires_grad=True)
    c0 = gg.tensor(rng.standard_normal((D * layers, n, h)) * 0.5, requires_grad=True)

    def run(x: gg.Tensor, h0: gg.Tensor, c0: gg.Tensor, *_: Any) -> Any:
        state = ((h0, c0) if cls is nn.LSTM else h0) if with_state else None
        out, final = layer(x, state)
        return (out, *final) if cls is nn.LSTM else (out, final)

    out, final = layer(x)
    assert out.shape == ((n, t, D * h) if batch_first else (t, n, D * h))
    assert out.data.flags.c_contiguous  # in either layout: a readout's reshape is a view
    h_T = (final[0] if cls is nn.LSTM else final).data
    assert h_T.shape == (D * layers, n, h)
    last = out.data if batch_first else out.data.transpose(1, 0, 2)
    # the last layer's forward cell ends at t = T-1, its reverse cell at t = 0
    np.testing.assert_array_equal(h_T[D * (layers - 1)], last[:, -1, :h])
    if bidirectional:
        np.testing.assert_array_equal(h_T[-1], last[:, 0, h:])
    assert gg.gradcheck(run, params_and(layer, x, h0, c0), fast_mode=True)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU, nn.ElmanRNN])
def test_bidirectional_reverse_direction_reads_time_backwards(cls: type) -> None:
    """Each direction of a bidirectional layer equals a unidirectional layer with that
    direction's weights, the reverse one run on the time-reversed sequence (layer 0), and
    layer 1 reads the concatenation [forward, reverse]."""
    rng = np.random.default_rng(5)
    bi = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, rng=rng)
    x = rng.standard_normal((2, 6, 3))
    out, final = bi(x)
    h_T = final[0] if cls is nn.LSTM else final

    def single(cell: nn.Module, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uni = cls(inputs.shape[-1], 4, batch_first=True, rng=0)
        uni.cells[0].load_state_dict(cell.state_dict())
        o, f = uni(inputs)
        return o.data, (f[0] if cls is nn.LSTM else f).data[0]

    fwd, fwd_T = single(bi.cells[0], x)
    rev, rev_T = single(bi.reverse_cells[0], x[:, ::-1])
    layer0 = np.concatenate([fwd, rev[:, ::-1]], axis=2)
    fwd1, _ = single(bi.cells[1], layer0)
    rev1, _ = single(bi.reverse_cells[1], layer0[:, ::-1])
    np.testing.assert_allclose(out.data, np.concatenate([fwd1, rev1[:, ::-1]], axis=2), atol=1e-14)
    np.testing.assert_allclose(h_T.data[:2], np.stack([fwd_T, rev_T]), atol=1e-14)
    names = [k for k, _ in bi.named_parameters()]
    if cls is nn.ElmanRNN:  # graphgrad's own layer: its cells are registered modules
        assert names[0] == "cells.0.W" and "reverse_cells.1.b" in names
    else:  # PyTorch's names and order
        cell_names = [n for n, _ in bi.cells[0].named_parameters()]
        assert names == [
            f"{n}_l{k}{sfx}" for k in range(2) for sfx in ("", "_reverse") for n in cell_names
        ]
    assert "bidirectional=True" in repr(bi)


def test_recurrent_dropout_between_layers_in_training_only() -> None:
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    a, b = (
        nn.GRU(3, 8, num_layers=2, dropout=0.5, rng=1, batch_first=True),
        nn.GRU(3, 8, num_layers=2, rng=1, batch_first=True),
    )
    with pytest.raises(AssertionError):  # training: layer 0's output is dropped out
        np.testing.assert_allclose(a(x)[0].data, b(x)[0].data)
    np.testing.assert_array_equal(a.eval()(x)[0].data, b(x)[0].data)
    one = nn.GRU(
        3, 8, dropout=0.5, rng=1, batch_first=True
    )  # nothing between layers to drop with one layer
    np.testing.assert_array_equal(one(x)[0].data, nn.GRU(3, 8, rng=1, batch_first=True)(x)[0].data)
    assert "dropout=0.5" in repr(a)
    # without rng=, the masks come from graphgrad's generator as seeded at call time
    c = nn.GRU(3, 8, num_layers=2, dropout=0.5, batch_first=True)
    gg.manual_seed(3)
    first = c(x)[0].data
    gg.manual_seed(3)
    np.testing.assert_array_equal(c(x)[0].data, first)
    with pytest.raises(
        ValueError, match=r"GRU: dropout must be a probability in \[0, 1\], got 1\.5"
    ):
        nn.GRU(3, 8, dropout=1.5, batch_first=True)


def test_dropout_masks_scale_and_gradient() -> None:
    x = gg.tensor(np.ones((200, 50)), requires_grad=True)
    y = F.dropout(x, 0.3, rng=0)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01  # Bernoulli(0.7) over 10,000 draws
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)  # inverted: E[y] = x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # ∂y/∂x = m / (1 − p)
    # the same seed gives the same mask, so the numerical check sees one function
    z = gg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    assert gg.gradcheck(lambda z: F.dropout(z * z, 0.5, rng=3), (z,))
    assert F.dropout(x, 0.3, training=False) is x and F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0.0)
    assert F.dropout(gg.tensor(np.ones(3), dtype=np.float32), 0.5).dtype == np.float32
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got -0.1"):
        F.dropout(x, -0.1)


def test_dropout_module_follows_train_and_eval() -> None:
    gg.manual_seed(7)
    d = nn.Dropout(0.5)
    x = np.ones((10, 10))
    first = d(x).data
    gg.manual_seed(7)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, first)  # reproducible
    assert (first == 0).any() and (first == 2).any()
    np.testing.assert_array_equal(d.eval()(x).data, x)
    assert repr(d) == "Dropout(p=0.5)"
    with pytest.raises(ValueError, match="Dropout: p must be a probability in"):
        nn.Dropout(2)
    with pytest.raises(ValueError, match=r"got '0\.5'"):
        nn.Dropout("0.5")  # type: ignore[arg-type]


def test_recurrent_layers_name_unknown_arguments() -> None:
    with pytest.raises(TypeError, match=r"LSTM: unexpected keyword argument.*bidirectionl"):
        nn.LSTM(3, 4, bidirectionl=True, batch_first=True)  # a typo is not swallowed
    with pytest.raises(ValueError, match="unidirectional"):
        gradient_flow(
            nn.ElmanRNN(1, 2, bidirectional=True, batch_first=True),
            np.ones((1, 3, 1)),
            lambda o: o.sum(),
        )


def test_recurrent_layer_gradgradcheck() -> None:
    rng = np.random.default_rng(0)
    for layer in (
        nn.ElmanRNN(2, 2, rng=rng, batch_first=True),
        nn.GRU(2, 2, rng=rng, batch_first=True),
        nn.LSTM(2, 2, rng=rng, batch_first=True),
    ):
        x = gg.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
        assert gg.gradgradcheck(lambda x, layer=layer: layer(x)[0], (x,), fast_mode=True)


def test_truncated_bptt_by_detach() -> None:
    rng = np.random.default_rng(1)
    lstm = nn.LSTM(2, 3, rng=rng, batch_first=True)
    x = rng.standard_normal((1, 8, 2))
    _, (h, c) = lstm(x[:, :4])
    out, _ = lstm(x[:, 4:], (h.detach(), c.detach()))
    out.sum().backward()
    grads_truncated = [p.grad.copy() for p in lstm.parameters()]
    lstm.zero_grad()
    # the same as a fresh graph over the second chunk from a constant state
    out2, _ = lstm(x[:, 4:], (gg.tensor(h.data), gg.tensor(c.data)))
    out2.sum().backward()
    for a, p in zip(grads_truncated, lstm.parameters()):
        np.testing.assert_array_equal(a, p.grad)


def test_recurrent_shape_errors() -> None:
    rnn = nn.ElmanRNN(3, 4, batch_first=True)
    with pytest.raises(gg.ShapeError, match=r"RNN: expected input \(N, T, F\), got shape \(5, 3\)"):
        rnn(np.zeros((5, 3)))
    with pytest.raises(
        gg.ShapeError, match=r"RNN: expected input with last axis 3, got shape \(2, 5, 4\)"
    ):
        rnn(np.zeros((2, 5, 4)))
    with pytest.raises(gg.ShapeError, match=r"initial state of shape \(1, 2, 4\), got \(2, 2, 4\)"):
        rnn(np.zeros((2, 5, 3)), np.zeros((2, 2, 4)))
    with pytest.raises(gg.ShapeError, match="length 0"):
        rnn(np.zeros((2, 0, 3)))
    with pytest.raises(gg.ShapeError, match=r"LSTMCell: expected a state of shape \(2, 4\)"):
        nn.LSTMCell(3, 4)(np.zeros((2, 3)), (np.zeros((2, 4)), np.zeros((3, 4))))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.ElmanCell(3, 4, nonlinearity="sigmoid")


def test_rnn_accepts_single_layer_state_of_shape_n_h() -> None:
    rnn = nn.ElmanRNN(2, 3, rng=0, batch_first=True)
    x = np.ones((4, 5, 2))
    h0 = np.full((4, 3), 0.1)
    a, _ = rnn(x, h0)
    b, _ = rnn(x, h0[None])
    np.testing.assert_array_equal(a.data, b.data)


def test_float32_layers_stay_float32() -> None:
    for layer in (
        nn.Linear(3, 2, dtype=np.float32),
        nn.LSTM(3, 2, dtype=np.float32, batch_first=True),
    ):
        x = np.ones((2, 4, 3), dtype=np.float32)
        out = layer(x)
        out = out[0] if isinstance(out, tuple) else out
        assert out.dtype == np.float32
        out.sum().backward()
        assert all(p.grad.dtype == np.float32 for p in layer.parameters())
