"""state_dict_from_torch: PyTorch-named weights (built here from NumPy, torch is not needed)
give the outputs of PyTorch's equations, computed independently (graphgrad.reference and
the few lines below)."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, reference
from graphgrad.nn.convert import state_dict_from_torch

F_IN, H = 3, 4


def _torch_like(rng: np.random.Generator, gates: int, layers: int, bidirectional: bool) -> dict:
    """A torch.nn.{RNN,LSTM,GRU} state dict's names and shapes, random values."""
    state = {}
    for k in range(layers):
        for sfx in ("", "_reverse") if bidirectional else ("",):
            f = F_IN if k == 0 else H * (2 if bidirectional else 1)
            state[f"weight_ih_l{k}{sfx}"] = rng.standard_normal((gates * H, f)) * 0.5
            state[f"weight_hh_l{k}{sfx}"] = rng.standard_normal((gates * H, H)) * 0.5
            state[f"bias_ih_l{k}{sfx}"] = rng.standard_normal(gates * H) * 0.5
            state[f"bias_hh_l{k}{sfx}"] = rng.standard_normal(gates * H) * 0.5
    return state


def _elman(x: np.ndarray, w_ih, w_hh, b_ih, b_hh) -> np.ndarray:  # type: ignore[no-untyped-def]
    """PyTorch's Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)."""
    h, out = np.zeros((x.shape[0], w_hh.shape[1])), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        out.append(h)
    return np.stack(out, axis=1)


def _reference(kind: str, x: np.ndarray, state: dict, sfx: str) -> np.ndarray:
    args = [state[f"{n}{sfx}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    if kind == "rnn":
        return _elman(x, *args)
    return (reference.lstm_forward if kind == "lstm" else reference.gru_forward)(x, *args)[0]


@pytest.mark.parametrize(
    ("kind", "gates", "cls"),
    [("rnn", 1, nn.RNN), ("rnn", 1, nn.ElmanRNN), ("lstm", 4, nn.LSTM), ("gru", 3, nn.GRU)],
)
def test_two_layer_bidirectional_layers_compute_pytorchs_equations(
    kind: str, gates: int, cls: type
) -> None:
    rng = np.random.default_rng(0)
    state = _torch_like(rng, gates, 2, True)
    layer = cls(F_IN, H, num_layers=2, bidirectional=True, rng=1, batch_first=True)
    layer.load_state_dict(state_dict_from_torch(layer, state))
    x = rng.standard_normal((2, 5, F_IN))
    out, _ = layer(x)
    if cls is not nn.ElmanRNN:  # PyTorch's names and shapes: its state dict loads as it is
        direct = cls(F_IN, H, num_layers=2, bidirectional=True, rng=2, batch_first=True)
        direct.load_state_dict(state)
        assert list(direct.state_dict()) == list(state)
        np.testing.assert_array_equal(direct(x)[0].data, out.data)
    # layer 0 by the reference, both directions; layer 1 reads their concatenation
    l0 = np.concatenate(
        [
            _reference(kind, x, state, "_l0"),
            _reference(kind, x[:, ::-1], state, "_l0_reverse")[:, ::-1],
        ],
        axis=2,
    )
    l1 = np.concatenate(
        [
            _reference(kind, l0, state, "_l1"),
            _reference(kind, l0[:, ::-1], state, "_l1_reverse")[:, ::-1],
        ],
        axis=2,
    )
    np.testing.assert_allclose(out.data, l1, rtol=1e-12, atol=1e-13)


def test_linear_and_cells() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, F_IN))
    w, b = rng.standard_normal((2, F_IN)), rng.standard_normal(2)
    lin = nn.Linear(F_IN, 2)
    lin.load_state_dict(state_dict_from_torch(lin, {"weight": w, "bias": b}))
    np.testing.assert_allclose(lin(x).data, x @ w.T + b, rtol=1e-13)
    cell_state = {k[: -len("_l0")]: v for k, v in _torch_like(rng, 1, 1, False).items()}
    cell = nn.ElmanCell(F_IN, H)
    cell.load_state_dict(state_dict_from_torch(cell, cell_state))
    expected = _elman(
        x[:, None], *(cell_state[n] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    )
    np.testing.assert_allclose(cell(x).data, expected[:, 0], rtol=1e-13)
    gru_state = {k[: -len("_l0")]: v for k, v in _torch_like(rng, 3, 1, False).items()}
    gru = nn.GRUCell(F_IN, H)
    gru.load_state_dict(state_dict_from_torch(gru, gru_state))
    np.testing.assert_allclose(gru.weight_hh.data, gru_state["weight_hh"])  # same layout


def test_biasless_layers_and_mismatches_are_named() -> None:
    rng = np.random.default_rng(3)
    state = {k: v for k, v in _torch_like(rng, 4, 1, False).items() if "bias" not in k}
    lstm = nn.LSTM(F_IN, H, bias=False, batch_first=True)
    lstm.load_state_dict(state_dict_from_torch(lstm, state))
    with pytest.raises(gg.StateDictError, match=r"missing: bias_hh_l0, bias_ih_l0"):
        state_dict_from_torch(nn.LSTM(F_IN, H, batch_first=True), state)
    two = _torch_like(rng, 4, 2, False)
    with pytest.raises(gg.StateDictError, match=r"not in this LSTM: bias_hh_l1"):
        state_dict_from_torch(nn.LSTM(F_IN, H, batch_first=True), two)
    with pytest.raises(TypeError, match="convert its layers one by one"):
        state_dict_from_torch(nn.Sequential(nn.Linear(2, 2)), {})
    src = {"weight": np.ones((2, 2)), "bias": np.zeros(2)}
    converted = state_dict_from_torch(nn.Linear(2, 2), src)
    assert not any(np.shares_memory(v, s) for v in converted.values() for s in src.values())
