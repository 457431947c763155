"""Weights from PyTorch: a ``torch.nn`` layer's ``state_dict()`` as a graphgrad state dict.

    layer = nn.ElmanRNN(32, 128, num_layers=2)  # the seeds' W, V, b
    layer.load_state_dict(state_dict_from_torch(layer, torch_rnn.state_dict()))

``Linear``, ``RNN``, ``LSTM``, ``GRU`` and their cells have PyTorch's names, equations, gate
order and parameter shapes, so their arrays carry over unchanged (``load_state_dict`` takes a
PyTorch state dict as it is; this function also checks the names). One layout differs and
is converted: graphgrad's ``ElmanCell`` / ``ElmanRNN`` keep the seeds' X W + h V (W of shape
(in, out): PyTorch's weight transposed), with one bias b = b_ih + b_hh (the two only ever
appear summed). Values may be torch CPU tensors or anything ``np.asarray`` accepts; torch
is not imported.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from graphgrad.errors import StateDictError
from graphgrad.nn.layers import Linear
from graphgrad.nn.module import Module
from graphgrad.nn.recurrent import ElmanCell, GRUCell, LSTMCell, Recurrent, RNNCell

__all__ = ["state_dict_from_torch"]

_GATED = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def state_dict_from_torch(module: Module, torch_state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The state dict that makes ``module`` compute what the PyTorch layer with
    ``torch_state`` computes: for ``nn.Linear``, ``nn.RNN``/``LSTM``/``GRU`` (any
    ``num_layers``, ``bidirectional``; batch_first is a call convention, not a weight) and
    the three cells. Raises StateDictError naming missing or unexpected PyTorch names;
    shapes are checked by ``module.load_state_dict``."""
    state = {k: np.asarray(v) for k, v in torch_state.items()}
    # graphgrad name -> (PyTorch names it is made from, how)
    plan: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]] = {}
    if isinstance(module, Linear):
        plan["weight"] = (("weight",), _same)
        if module.bias is not None:
            plan["bias"] = (("bias",), _same)
    elif isinstance(module, (ElmanCell, RNNCell, LSTMCell, GRUCell)):
        _plan_cell(plan, module, "", "")
    elif isinstance(module, Recurrent):
        layer: Recurrent = module
        for k in range(layer.num_layers):
            for d, cell in enumerate(layer.directions(k)):
                suffix = f"_l{k}{'_reverse' if d else ''}"
                prefix = (
                    f"{'reverse_cells' if d else 'cells'}.{k}." if not layer.torch_names else ""
                )
                _plan_cell(plan, cell, prefix, suffix, renamed=layer.torch_names)
    else:
        raise TypeError(
            f"state_dict_from_torch converts Linear, RNN, LSTM, GRU, ElmanRNN and their cells; got "
            f"{type(module).__name__} (convert its layers one by one)"
        )
    used = {name for names, _ in plan.values() for name in names}
    missing = sorted(used - set(state))
    unexpected = sorted(set(state) - used)
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if unexpected:
            problems.append(f"not in this {type(module).__name__}: {', '.join(unexpected)}")
        raise StateDictError(
            f"state_dict_from_torch: the PyTorch state does not match this "
            f"{type(module).__name__} ({'; '.join(problems)})"
        )
    return {ours: how(*(state[n] for n in names)) for ours, (names, how) in plan.items()}


def _same(a: np.ndarray) -> np.ndarray:
    return a.copy()  # np.asarray of a torch tensor shares its memory


def _transposed(a: np.ndarray) -> np.ndarray:
    return a.T.copy()


def _plan_cell(
    plan: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]],
    cell: Module,
    prefix: str,
    suffix: str,
    renamed: bool = False,
) -> None:
    """One cell's entries: ``suffix`` is PyTorch's ``_l{k}`` / ``_l{k}_reverse`` (empty for
    a torch.nn cell); ``renamed``: the layer registers the cell's parameters under PyTorch's
    names (suffix included)."""
    bias = getattr(cell, "b" if isinstance(cell, ElmanCell) else "bias_ih") is not None
    if isinstance(cell, ElmanCell):  # seed layout: Z = x W + h V + b
        plan[prefix + "W"] = ((f"weight_ih{suffix}",), _transposed)
        plan[prefix + "V"] = ((f"weight_hh{suffix}",), _transposed)
        if bias:
            plan[prefix + "b"] = ((f"bias_ih{suffix}", f"bias_hh{suffix}"), np.add)
        return
    for name in _GATED if bias else _GATED[:2]:
        plan[prefix + name + (suffix if renamed else "")] = ((name + suffix,), _same)
