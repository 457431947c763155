"""Recurrent cells and sequence layers, composed of graphgrad primitives only.

There is no backward pass in this file: unrolling a cell over T steps records a graph in
which the weights are used T times, and the engine's traversal of that graph *is*
backpropagation through time (the shared weights receive Σ_t of the per-step gradients).
Truncated BPTT is ``state = state.detach()`` (for an LSTM, detach both h and c) between
chunks of a sequence.

Every cell splits its work into an input projection, which the sequence layers compute
for all T steps in one matrix product, and a ``step`` that applies the recurrence.
Sequences are time-major (T, N, F) by default, as in PyTorch; ``batch_first=True`` takes
the seeds' φ[i, t, j] layout (N, T, F).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from graphgrad import ops, runtime
from graphgrad.core.collector import CollectorPaused
from graphgrad.core.tensor import Tensor, shape_of
from graphgrad.errors import ShapeError
from graphgrad.nn import init
from graphgrad.nn.functional import _dropout_probability, dropout
from graphgrad.nn.layers import check_features
from graphgrad.nn.module import Module, ModuleList, Parameter
from graphgrad.random import get_rng

Rng = np.random.Generator | int | None


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _uniform(
    shape: tuple[int, ...], hidden: int, dtype: Any, rng: np.random.Generator
) -> Parameter:
    """PyTorch's recurrent init: U(−1/√H, 1/√H)."""
    k = 1.0 / math.sqrt(hidden)
    return Parameter(rng.uniform(-k, k, shape), dtype=dtype)


_ACTIVATIONS: dict[str, Any] = {
    "tanh": ops.Tanh.apply,
    "relu": ops.ReLU.apply,
    "linear": lambda z: z,
}


class ElmanCell(Module):
    """The Elman RNN block of seed 000, eqs. (1)–(2):

        Z_t  = Φ_t W + Φ'_{t−1} V + b,        Φ'_t = f(Z_t),   Φ'_0 = 0

    graphgrad's own cell for the seeds' notation (PyTorch's layout is ``RNNCell``'s).
    x (N, input_size), h (N, hidden_size). Parameters in the seed's layout: W
    (input_size, hidden_size), V (hidden_size, hidden_size), b (hidden_size,). f = tanh
    (default), relu, or linear (f(z) = z, for seed 003's analysis of vanishing and
    exploding gradients without saturation). Init as in seeds 000/002: W = randn/√input_size,
    V = randn/√hidden_size, b = 0.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        bias: bool = True,
        *,
        dtype: Any = None,
        rng: Rng = None,
    ) -> None:
        super().__init__()
        dtype = runtime.resolve_dtype(dtype)
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(
                f"ElmanCell: nonlinearity must be one of {sorted(_ACTIVATIONS)}, "
                f"got {nonlinearity!r}"
            )
        rng = get_rng(rng)
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        self.W = init.scaled_normal_(  # the seeds' (in, out) layout: fan_in is its rows
            Parameter(np.zeros((input_size, hidden_size)), dtype=dtype), rng, fan_in=input_size
        )
        self.V = init.scaled_normal_(
            Parameter(np.zeros((hidden_size, hidden_size)), dtype=dtype), rng
        )
        self.b = Parameter(np.zeros(hidden_size), dtype=dtype) if bias else None
        self._act = _ACTIVATIONS[nonlinearity]

    def input_projection(self, x: Any) -> Tensor:
        """Φ W + b, for one step (N, F) or all steps at once (T, N, F)."""
        if self.b is None:
            return ops.MatMul.apply(x, self.W)
        return ops.Affine.apply(x, self.W, self.b)

    def recurrent_weight(self) -> Tensor:
        return self.V

    def step(self, xp: Tensor, h: Tensor | None, V: Tensor, t: int | None = None) -> Tensor:
        """Φ'_t = f(Φ'_{t−1} V + xp_t), where xp_t = Φ_t W + b is ``xp`` for one step, or
        ``xp[t]`` of a whole sequence's projection (one Affine op either way)."""
        return self._act(_step_input(xp, t) if h is None else _affine_step(h, V, xp, t))

    def forward(self, x: Any, h: Any = None) -> Tensor:
        _check_step(self, x, h, self.hidden_size, self.V)
        xp = self.input_projection(x)
        return self.step(xp, _zero_state(self, xp) if h is None else _as_tensor(h), self.V)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class _GatedCell(Module):
    """Shared construction of RNNCell, LSTMCell and GRUCell: PyTorch's parameter shapes, weight_ih
    (gates·H, input_size), weight_hh (gates·H, H), bias_ih, bias_hh (gates·H,), all
    initialised U(−1/√H, 1/√H)."""

    gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        device: Any = None,
        dtype: Any = None,
        rng: Rng = None,
    ) -> None:
        super().__init__()
        runtime.check_device(device or "cpu", type(self).__name__)
        dtype = runtime.resolve_dtype(dtype)
        rng = get_rng(rng)
        self.input_size, self.hidden_size = input_size, hidden_size
        G = self.gates * hidden_size
        self.weight_ih = _uniform((G, input_size), hidden_size, dtype, rng)
        self.weight_hh = _uniform((G, hidden_size), hidden_size, dtype, rng)
        self.bias_ih = _uniform((G,), hidden_size, dtype, rng) if bias else None
        self.bias_hh = _uniform((G,), hidden_size, dtype, rng) if bias else None

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_GatedCell):
    """PyTorch's Elman cell: h' = f(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), f = tanh or relu.

    weight_ih (H, input_size), weight_hh (H, H), bias_ih, bias_hh (H,); init
    U(−1/√H, 1/√H), as PyTorch's ``nn.ElmanCell(input_size, hidden_size, bias=True,
    nonlinearity="tanh")``. In the seeds' notation (``ElmanCell``) W = weight_ihᵀ,
    V = weight_hhᵀ and b = b_ih + b_hh: the same model, another parametrisation (two
    biases, each with the gradient of their sum).
    """

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        **kwargs: Any,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"{type(self).__name__}: nonlinearity must be 'tanh' or 'relu', got "
                f"{nonlinearity!r} (the seeds' linear cell is nn.ElmanCell(..., 'linear'))"
            )
        super().__init__(input_size, hidden_size, bias, **kwargs)
        self.nonlinearity = nonlinearity
        self._act = _ACTIVATIONS[nonlinearity]

    def input_projection(self, x: Any) -> Tensor:
        """x W_ihᵀ + (b_ih + b_hh), for one step (N, F) or all steps at once (T, N, F)."""
        if self.bias_ih is None:
            return ops.MatMul.apply(x, self.weight_ih.T)
        return ops.Affine.apply(x, self.weight_ih.T, self.bias_ih + self.bias_hh)

    def recurrent_weight(self) -> Tensor:
        return self.weight_hh.T

    def step(self, xp: Tensor, h: Tensor | None, U: Tensor, t: int | None = None) -> Tensor:
        """h' = f(h W_hhᵀ + xp_t), one Affine op."""
        return self._act(_step_input(xp, t) if h is None else _affine_step(h, U, xp, t))

    def forward(self, x: Any, h: Any = None) -> Tensor:
        _check_step(self, x, h, self.hidden_size, self.weight_ih)
        xp = self.input_projection(x)
        return self.step(
            xp, _zero_state(self, xp) if h is None else _as_tensor(h), self.weight_hh.T
        )

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(_GatedCell):
    """LSTM cell with PyTorch's equations and parameter shapes (gates in order i, f, g, o):

        [i, f, g, o] = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh        (N, 4H)
        i, f, o = σ(·),  g = tanh(·)
        c' = f ∘ c + i ∘ g,        h' = o ∘ tanh(c')

    weight_ih (4H, input_size), weight_hh (4H, H), bias_ih, bias_hh (4H,); init
    U(−1/√H, 1/√H). The cell path c → c' has only ∘ and +, so a gradient that the
    forget gate keeps does not vanish (seed 001). State: (h, c), each (N, H).
    """

    gates = 4

    def input_projection(self, x: Any) -> Tensor:
        """x W_ihᵀ + (b_ih + b_hh): both biases add to the same pre-activation."""
        if self.bias_ih is None:
            return ops.MatMul.apply(x, self.weight_ih.T)
        return ops.Affine.apply(x, self.weight_ih.T, self.bias_ih + self.bias_hh)

    def recurrent_weight(self) -> Tensor:
        return self.weight_hh.T

    def step(
        self, xp: Tensor, state: tuple[Tensor, Tensor] | None, U: Tensor, t: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """One step from the input term ``xp`` (or ``xp[t]`` of a whole sequence's)."""
        H = self.hidden_size
        gates = _step_input(xp, t) if state is None else _affine_step(state[0], U, xp, t)
        # i and f are adjacent: one sigmoid for both
        i_f = _named(gates[..., : 2 * H], "gates i, f").sigmoid()
        g = _named(gates[..., 2 * H : 3 * H], "gate g").tanh()
        o = _named(gates[..., 3 * H :], "gate o").sigmoid()
        i = _named(i_f[..., :H], "gate i")
        c = i * g if state is None else _named(i_f[..., H:], "gate f") * state[1] + i * g
        return o * c.tanh(), c

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, Tensor]:
        if state is not None:
            if not (isinstance(state, (tuple, list)) and len(state) == 2):
                raise TypeError("LSTMCell: state must be a pair (h, c)")
            _check_step(self, x, state[0], self.hidden_size, self.weight_ih)
            _check_step(self, x, state[1], self.hidden_size)
            state = (_as_tensor(state[0]), _as_tensor(state[1]))
        else:
            _check_step(self, x, None, self.hidden_size, self.weight_ih)
        xp = self.input_projection(x)
        if state is None:
            state = (_zero_state(self, xp), _zero_state(self, xp))
        return self.step(xp, state, self.weight_hh.T)


class GRUCell(_GatedCell):
    """GRU cell with PyTorch's equations and parameter shapes (gates in order r, z, n):

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
        z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ∘ (h W_hnᵀ + b_hn))
        h' = (1 − z) ∘ n + z ∘ h

    weight_ih (3H, input_size), weight_hh (3H, H), bias_ih, bias_hh (3H,); init
    U(−1/√H, 1/√H). (Seed 001 writes the update with z and 1 − z swapped; the two are the
    same model with z ↔ 1 − z.)
    """

    gates = 3

    def input_projection(self, x: Any) -> tuple[Tensor, Tensor]:
        """(x W_{ir,iz}ᵀ + b_{ir,iz} + b_{hr,hz},  x W_inᵀ + b_in), for one step (N, F) or
        all steps at once (T, N, F). b_hr and b_hz add to the same pre-activations as the
        input terms, so they are folded in here; b_hn cannot move (it sits inside r ∘ (·))."""
        H = self.hidden_size
        W_rz, W_n = self.weight_ih[: 2 * H].T, self.weight_ih[2 * H :].T
        if self.bias_ih is None:
            return ops.MatMul.apply(x, W_rz), ops.MatMul.apply(x, W_n)
        assert self.bias_hh is not None  # both biases exist or neither (bias=)
        b_rz = self.bias_ih[: 2 * H] + self.bias_hh[: 2 * H]
        return ops.Affine.apply(x, W_rz, b_rz), ops.Affine.apply(x, W_n, self.bias_ih[2 * H :])

    def recurrent_weight(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """(W_{hr,hz}ᵀ, W_hnᵀ, b_hn): what every step needs, prepared once per sequence."""
        H = self.hidden_size
        b_hn = None if self.bias_hh is None else self.bias_hh[2 * H :]
        return self.weight_hh[: 2 * H].T, self.weight_hh[2 * H :].T, b_hn

    def step(
        self,
        xp: tuple[Tensor, Tensor],
        h: Tensor | None,
        U: tuple[Tensor, Tensor, Tensor | None],
        t: int | None = None,
    ) -> Tensor:
        """One step from the input terms ``xp`` (or step t of a whole sequence's). The r, z
        pre-activation h W_{hr,hz}ᵀ + xp_rz is one Affine op (the input term added into the
        product's buffer), as is h W_hnᵀ + b_hn."""
        H = self.hidden_size
        xp_rz, xp_n = xp
        W_rz, W_n, b_hn = U
        xp_n = _step_input(xp_n, t)
        if h is None:  # h = 0: the recurrent terms vanish but for b_hn
            rz = _step_input(xp_rz, t).sigmoid()
            r = _named(rz[..., :H], "gate r")
            n = _named((xp_n if b_hn is None else xp_n + r * b_hn).tanh(), "candidate n")
            return n - _named(rz[..., H:], "gate z") * n
        rz = _affine_step(h, W_rz, xp_rz, t).sigmoid()  # r and z with one sigmoid
        hn = ops.MatMul.apply(h, W_n) if b_hn is None else ops.Affine.apply(h, W_n, b_hn)
        n = _named((xp_n + _named(rz[..., :H], "gate r") * hn).tanh(), "candidate n")
        return n + _named(rz[..., H:], "gate z") * (h - n)

    def forward(self, x: Any, h: Any = None) -> Tensor:
        _check_step(self, x, h, self.hidden_size, self.weight_ih)
        xp = self.input_projection(x)
        h = _zero_state(self, xp) if h is None else _as_tensor(h)
        return self.step(xp, h, self.recurrent_weight())


def _named(t: Tensor, label: str) -> Tensor:
    """``t``, its recording node labelled (what graph drawings show: an LSTM's "gate i")."""
    if t._node is not None:
        t._node.label = label
    return t


def _zero_state(cell: Any, xp: Any, t: int | None = None) -> Tensor:
    """h = 0 for a step whose input term is ``xp`` (or row ``t`` of it). A step given
    ``None`` skips the recurrent product, which the layers do for their first step; a cell
    called alone, or a sequence of one step, passes zeros instead, so that the recurrent
    weights get PyTorch's zero gradient rather than none (weight decay and momentum apply
    to them as in PyTorch)."""
    if isinstance(xp, tuple):  # the GRU's (r, z) and n terms
        xp = xp[0]
    batch = xp.shape[:-1] if t is None else xp.shape[1:-1]
    return Tensor(np.zeros((*batch, cell.hidden_size), dtype=xp.dtype))


def _step_input(xp: Tensor, t: int | None) -> Tensor:
    """A step's input term: ``xp`` itself (one step), or ``xp[t]`` (a whole sequence's)."""
    return xp if t is None else xp[t]


def _affine_step(h: Tensor, W: Tensor, xp: Tensor, t: int | None) -> Tensor:
    """h W + xp_t as one Affine op, which takes row t of a whole sequence's projection
    itself (one node per step fewer than slicing it first)."""
    return ops.Affine.apply(h, W, xp) if t is None else ops.Affine.apply(h, W, xp, t)


def _check_step(cell: Any, x: Any, h: Any, hidden: int, weight: Tensor | None = None) -> None:
    check_features(cell, x, cell.input_size, weight=weight)
    xs = shape_of(x)
    if len(xs) != 2:
        raise ShapeError(
            f"{type(cell).__name__}: expected x of shape (N, {cell.input_size}), got {xs}"
        )
    if h is not None:
        hs = shape_of(h)
        if hs != (xs[0], hidden):
            raise ShapeError(
                f"{type(cell).__name__}: expected a state of shape {(xs[0], hidden)} for x of "
                f"shape {xs}, got {hs}"
            )


class Recurrent(Module):
    """A stack of ``num_layers`` cells unrolled over time; layer l's output sequence is
    layer l+1's input.

    Sequences are time-major (T, N, F) by default, as in PyTorch; ``batch_first=True`` takes
    and returns (N, T, F), the layout of the seeds' φ[i, t, j].

    ``bidirectional=True`` gives every layer a second cell (in ``reverse_cells``) that reads
    the sequence from t = T−1 down to 0; the layer's output at t is [h_t(forward),
    h_t(reverse)], (N, T, 2H), and the next layer's input size is 2H (PyTorch's layout).
    ``dropout=p`` applies inverted dropout to every layer's output but the last, in
    training mode only (``model.eval()`` turns it off).
    """

    cell_type: type[Module]
    _aliases: dict[str, tuple[Module, str]]  # PyTorch's parameter name -> (cell, its name)
    # PyTorch's layers register the cells' parameters under PyTorch's names (weight_ih_l0,
    # ..., bias_hh_l1_reverse), so that state dicts match; graphgrad's ElmanRNN registers
    # its cells (cells.0.W).
    torch_names = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        device: Any = None,
        dtype: Any = None,
        rng: Rng = None,
        **cell_args: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        runtime.check_device(device or "cpu", name)
        dtype = runtime.resolve_dtype(dtype)
        if num_layers < 1:
            raise ValueError(f"{name}: num_layers must be ≥ 1, got {num_layers}")
        dropout = _dropout_probability(dropout, name, "dropout")
        cell_params = inspect.signature(self.cell_type.__init__).parameters
        unknown = [k for k in cell_args if k not in cell_params]
        if unknown:
            raise TypeError(f"{name}: unexpected keyword argument(s) {', '.join(unknown)}")
        # dropout masks: the generator given (it made the weights), else graphgrad's
        # default as it is at each call (so gg.manual_seed after construction applies)
        self._rng = None if rng is None else get_rng(rng)
        rng = get_rng(self._rng)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.batch_first = num_layers, batch_first
        self.dropout, self.bidirectional = dropout, bool(bidirectional)
        width = 2 * hidden_size if bidirectional else hidden_size  # a layer's output size
        forward: list[Module] = []
        reverse: list[Module] = []
        for layer in range(num_layers):
            for cells in (forward, reverse) if bidirectional else (forward,):
                cells.append(
                    self.cell_type(
                        input_size if layer == 0 else width,
                        hidden_size,  # type: ignore[call-arg]
                        bias=bias,
                        dtype=dtype,
                        rng=rng,
                        **cell_args,
                    )
                )
        if not self.torch_names:
            self.cells = ModuleList(forward)
            if bidirectional:
                self.reverse_cells = ModuleList(reverse)
            return
        # the cells compute; the layer owns their parameters under PyTorch's names
        self.__dict__["cells"], self.__dict__["reverse_cells"] = tuple(forward), tuple(reverse)
        self.__dict__["_aliases"] = {}
        for layer in range(num_layers):
            for d, cell in enumerate(self.directions(layer)):
                for pname, param in cell._parameters.items():
                    alias = f"{pname}_l{layer}{'_reverse' if d else ''}"
                    self._aliases[alias] = (cell, pname)
                    setattr(self, alias, param)

    def __setattr__(self, name: str, value: Any) -> None:
        alias = self.__dict__.get("_aliases", {}).get(name)
        if alias is not None:  # lstm.weight_hh_l0 = Parameter(...): the cell computes with it
            if not isinstance(value, Parameter):
                raise TypeError(
                    f"{type(self).__name__}.{name} must be a Parameter, got {type(value).__name__}"
                )
            setattr(alias[0], alias[1], value)
        super().__setattr__(name, value)

    def flatten_parameters(self) -> None:
        """PyTorch packs a recurrent layer's weights into one buffer for cuDNN; graphgrad
        computes with each parameter where it is, so there is nothing to pack (PyTorch's
        call does nothing on the CPU either)."""

    def all_weights(self) -> list[list[Parameter]]:
        """Each layer and direction's parameters in PyTorch's order (``all_weights``)."""
        return [
            list(cell._parameters.values())
            for layer in range(self.num_layers)
            for cell in self.directions(layer)
        ]

    def directions(self, layer: int) -> tuple[Any, ...]:  # the layer's cells (of cell_type)
        """The cells of ``layer``: (forward,) or (forward, reverse)."""
        if self.bidirectional:
            return self.cells[layer], self.reverse_cells[layer]
        return (self.cells[layer],)

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, Any]:
        """x (T, N, F) -> (outputs (T, N, D·H), final state), or with ``batch_first=True``
        x (N, T, F) -> outputs (N, T, D·H) (the seeds' layout); D = 2 if bidirectional else
        1. The default is PyTorch's (time-major, ``batch_first=False``).

        The state (initial and final) is (D·num_layers, N, H) — a pair of those for LSTM —
        ordered layer by layer, forward before reverse (PyTorch's order); for a single
        layer and direction an (N, H) initial state is accepted too. None means zeros.
        """
        outputs, finals, _ = self.unroll(x, state)
        return outputs, self._final_state(finals)

    def unroll(self, x: Any, state: Any = None) -> tuple[Tensor, list[Any], list[list[Tensor]]]:
        """The forward pass, also returning every step's hidden state: (outputs, final state
        per layer and direction, steps) with ``steps[k][t]`` the (N, H) tensor h_t of layer
        k // D, direction k % D (in time order for both directions) — what
        ``graphgrad.diagnostics.gradient_flow`` differentiates with respect to."""
        x = _as_tensor(x)
        if x.ndim != 3:
            layout = "(N, T, F)" if self.batch_first else "(T, N, F)"
            raise ShapeError(f"{type(self).__name__}: expected input {layout}, got shape {x.shape}")
        check_features(self, x, self.input_size, weight=next(self.parameters()))
        # time-major: seq[t] is contiguous, and a copy once here saves one in every reshape
        # of seq (the input projection's product and its weight gradient)
        seq = x.transpose(1, 0, 2).contiguous() if self.batch_first else x
        T, N = seq.shape[0], seq.shape[1]
        if T == 0:
            raise ShapeError(f"{type(self).__name__}: got a sequence of length 0")
        initial = iter(self._initial_states(state, N))
        finals, steps = [], []
        with CollectorPaused():
            for layer in range(self.num_layers):
                if layer and self.dropout and self.training:
                    seq = dropout(seq, self.dropout, rng=self._rng)
                outputs = []
                for d, cell in enumerate(self.directions(layer)):
                    xp = cell.input_projection(seq)  # (T, N, G): every step's input term at once
                    U = cell.recurrent_weight()
                    s = next(initial)
                    if s is None and T == 1:  # the recurrent weights still get a gradient
                        z = _zero_state(cell, xp, 0)
                        s = (z, z) if isinstance(cell, LSTMCell) else z
                    outs = []
                    for t in range(T - 1, -1, -1) if d else range(T):
                        s = cell.step(xp, s, U, t)
                        outs.append(self._output(s))
                    if d:
                        outs.reverse()  # time order
                    # the last layer's batch-first outputs are stacked as (N, T, H): the
                    # C-order array a readout reshapes to (N·T, H) as a view, not a copy
                    last = layer == self.num_layers - 1 and self.batch_first
                    outputs.append(ops.stack(outs, axis=1 if last else 0))
                    finals.append(s)
                    steps.append(outs)
                seq = outputs[0] if len(outputs) == 1 else ops.concat(outputs, axis=2)
        return seq, finals, steps

    # Plain RNN / GRU: the state is h. LSTM overrides these for (h, c).
    def _output(self, s: Any) -> Tensor:
        return s

    def _final_state(self, finals: list[Any]) -> Any:
        return ops.stack(finals, axis=0)

    def _initial_states(self, state: Any, N: int) -> list[Any]:
        if state is None:
            return [None] * self._num_states()
        return _split_layers(self, _as_tensor(state), N)

    def _num_states(self) -> int:
        return self.num_layers * (2 if self.bidirectional else 1)

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
        extra += f"batch_first={self.batch_first}"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if self.bidirectional:
            extra += ", bidirectional=True"
        return extra


def _split_layers(layer: Recurrent, h: Tensor, N: int) -> list[Tensor]:
    L, H = layer._num_states(), layer.hidden_size
    if L == 1 and h.shape == (N, H):
        return [h]
    if h.shape != (L, N, H):
        raise ShapeError(
            f"{type(layer).__name__}: expected an initial state of shape {(L, N, H)}, got {h.shape}"
        )
    return [h[i] for i in range(L)]


_OPTIONS = """
    ``bidirectional=True`` adds a cell per layer that reads time backwards (outputs
    [forward, reverse], (N, T, 2H)); ``dropout=p`` drops each layer's output but the
    last's, in training mode."""


class RNN(Recurrent):
    __doc__ = f"""PyTorch's Elman RNN, ``num_layers`` deep; see ``RNNCell``.{_OPTIONS}

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``, parameters ``weight_ih_l{{k}}``,
    ``weight_hh_l{{k}}``, ``bias_ih_l{{k}}``, ``bias_hh_l{{k}}`` (``_reverse``) as PyTorch's;
    ``forward(x, h0=None) -> (outputs (T, N, D·H), h_T (D·L, N, H))``, D = 2 if
    bidirectional else 1. The seeds' parametrisation (W, V, b) is ``ElmanRNN``.
    """

    cell_type: type[Module] = RNNCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            nonlinearity=nonlinearity,
            **kwargs,
        )
        self.nonlinearity = nonlinearity


class ElmanRNN(RNN):
    __doc__ = f"""The seeds' Elman RNN over a sequence (seed 000), ``num_layers`` deep; see
    ``ElmanCell``: parameters ``cells.{{k}}.W`` (in, H), ``cells.{{k}}.V`` (H, H),
    ``cells.{{k}}.b`` (H,) in the seeds' notation and init, and f = tanh, relu or linear.
    Otherwise as ``RNN`` (same arguments and state layout).{_OPTIONS}
    """

    cell_type = ElmanCell
    torch_names = False


class GRU(Recurrent):
    __doc__ = f"""GRU over a sequence, ``num_layers`` deep; see ``GRUCell``.{_OPTIONS}

    ``forward(x, h0=None) -> (outputs (N, T, D·H), h_T (D·L, N, H))``, D = 2 if
    bidirectional else 1.
    """

    cell_type = GRUCell


class LSTM(Recurrent):
    __doc__ = f"""LSTM over a sequence, ``num_layers`` deep; see ``LSTMCell``.{_OPTIONS}

    ``forward(x, (h0, c0)=None) -> (outputs (N, T, D·H), (h_T, c_T))``, h_T and c_T of
    shape (D·L, N, H), D = 2 if bidirectional else 1.
    """

    cell_type = LSTMCell

    def _output(self, s: Any) -> Tensor:
        return s[0]

    def _final_state(self, finals: list[Any]) -> Any:
        return ops.stack([h for h, _ in finals], axis=0), ops.stack([c for _, c in finals], axis=0)

    def _initial_states(self, state: Any, N: int) -> list[Any]:
        if state is None:
            return [None] * self._num_states()
        if not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise TypeError("LSTM: the initial state must be a pair (h0, c0)")
        hs = _split_layers(self, _as_tensor(state[0]), N)
        cs = _split_layers(self, _as_tensor(state[1]), N)
        return list(zip(hs, cs))
