"""Module: registration, names, state dicts with strict checking, containers."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 4, rng=0)
        self.rnn = nn.GRU(4, 2, rng=1, batch_first=True)
        self.scale = nn.Parameter(np.ones(2))
        self.not_a_param = np.zeros(5)

    def forward(self, x: np.ndarray) -> gg.Tensor:
        out, _ = self.rnn(self.encoder(x).tanh())
        return out * self.scale


def test_registration_and_dotted_names() -> None:
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "scale",
        "encoder.weight",
        "encoder.bias",
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
    ]  # fmt: skip  (PyTorch's names for a GRU's parameters)
    assert len(list(m.parameters())) == 7
    assert [n for n, _ in m.named_modules()] == ["", "encoder", "rnn"]
    m.scale = None  # re-assigning a non-parameter unregisters it
    assert "scale" not in dict(m.named_parameters())


def test_shared_parameter_listed_once() -> None:
    a = nn.Linear(2, 2)
    b = nn.Sequential(a, nn.Tanh(), a)
    assert len(list(b.parameters())) == 2


def test_zero_grad_train_eval() -> None:
    m = TwoLayer()
    m(np.ones((1, 2, 3))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.eval()
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())


def test_requires_grad_freezes_a_part_of_a_model() -> None:
    m = TwoLayer()
    assert m.encoder.requires_grad_(False) is m.encoder
    m(np.ones((1, 2, 3))).sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in m.encoder.parameters())
    assert all(p.grad is not None for p in m.rnn.parameters())
    trainable = [p for p in m.parameters() if p.requires_grad]
    gg.optim.SGD(trainable, lr=0.1).step()  # the optimizer takes the rest
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_apply_visits_children_before_parents() -> None:
    m = TwoLayer()
    seen: list[str] = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen[0] == "Linear" and seen[-2:] == ["GRU", "TwoLayer"]
    assert len(seen) == len(list(m.modules()))
    m.apply(lambda mod: [p.data.fill(0.5) for p in mod.parameters()])
    assert all(np.all(p.data == 0.5) for p in m.parameters())


def test_state_dict_round_trip_restores_outputs() -> None:
    a, b = TwoLayer(), TwoLayer()
    for p in b.parameters():
        p.data[...] = 0.0
    x = np.random.default_rng(0).standard_normal((2, 3, 3))
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x).data, b(x).data)
    sd = a.state_dict()
    sd["scale"][...] = 99.0  # the state dict holds copies
    assert a.scale.data[0] == 1.0


def test_load_state_dict_lists_every_problem_and_changes_nothing() -> None:
    m = TwoLayer()
    before = m.state_dict()
    sd = m.state_dict()
    sd["encoder.weight"] = np.zeros((3, 4))
    del sd["scale"]
    sd["extra"] = np.zeros(1)
    with pytest.raises(gg.StateDictError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "encoder.weight: checkpoint (3, 4), model (4, 3)" in msg
    assert "missing from the checkpoint: scale" in msg and "not in the model: extra" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    del sd["encoder.weight"]
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["scale", "encoder.weight"] and unexpected == ["extra"]


def test_assignment_before_init_is_a_clear_error() -> None:
    class Forgot(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgot()


def test_parameter_validation_and_repr() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter([1, 2])
    p = nn.Parameter([1.0])
    assert p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter(tensor([1.], requires_grad=True))"
    assert repr(TwoLayer()) == (
        "TwoLayer(\n"
        "  (encoder): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (rnn): GRU(4, 2, num_layers=1, batch_first=True)\n"
        ")"
    )


def test_sequential_and_modulelist() -> None:
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert len(seq) == 2 and isinstance(seq[1], nn.ReLU) and len(list(seq)) == 2
    ml = nn.ModuleList([nn.Linear(1, 1)]).append(nn.Linear(1, 2))
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError):
        nn.Sequential(lambda x: x)  # type: ignore[arg-type]


def test_modulelist_extend_insert_and_add_module() -> None:
    a, b, c = nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 2)
    ml = nn.ModuleList([a]).extend([b, c])
    relu = nn.ReLU()
    ml.insert(1, relu)
    assert list(ml) == [a, relu, b, c]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "3.weight", "3.bias"]
    with pytest.raises(TypeError, match="holds Modules, got int"):
        ml.insert(0, 3)  # type: ignore[arg-type]
    assert list(ml) == [a, relu, b, c]  # unchanged by the refused insert
    seq = nn.Sequential(nn.Linear(2, 2))
    seq.add_module("act", nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh"]
    with pytest.raises(TypeError, match="'act2' must be a Module, got int"):
        seq.add_module("act2", 3)  # type: ignore[arg-type]


def test_slicing_a_container_gives_a_container_of_the_same_children() -> None:
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    x = np.ones((4, 2))
    np.testing.assert_array_equal(seq[2](head(x)).data, seq(x).data)
    assert [n for n, _ in head.named_parameters()] == ["0.weight", "0.bias"]
    ml = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 2), nn.Linear(2, 2)])
    tail = ml[1:]
    assert isinstance(tail, nn.ModuleList) and tail[0] is ml[1] and len(tail) == 2


def test_astype_float32() -> None:
    m = nn.Linear(3, 2).astype(np.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
