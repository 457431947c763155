"""Gradient-flow diagnostics for recurrent models (seed 003).

For h(t) = σ(J_x x(t) + J_h h(t−1)) and a loss L, the error signal that reaches step t
from a loss at step T is

    ⟨d(T)| G(T) J_h G(T−1) J_h ⋯ J_h G(t),       G(t) = diag σ'(·),

so J_h is applied T − t times: ‖∂L/∂h_t‖ shrinks geometrically with T − t when the
recurrent matrix's gain is below 1 (vanishing) and grows when it is above 1 (exploding).
``gradient_flow`` measures exactly that on a model and a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from graphgrad.core.engine import grad
from graphgrad.core.tensor import Tensor
from graphgrad.nn.recurrent import Recurrent


@dataclass
class GradientFlow:
    """What ``gradient_flow`` measured.

    Attributes:
        hidden_grad_norms: (num_layers, T) — ‖∂L/∂h_t‖ (Frobenius norm over batch and
            units) for every layer and step, the total gradient including every path
            through later steps.
        parameter_grad_norms: ‖∂L/∂θ‖ for every parameter of the model, by dotted name.
        spectral_radius: per layer, the largest |eigenvalue| of the recurrent matrix
            (for LSTM/GRU: the largest over the per-gate H×H blocks of W_hh).
        largest_singular_value: per layer, ‖W_hh‖₂ (the recurrent matrix's largest gain).
        loss: the loss value.
    """

    hidden_grad_norms: np.ndarray
    parameter_grad_norms: dict[str, float]
    spectral_radius: np.ndarray
    largest_singular_value: np.ndarray
    loss: float
    extra: dict[str, Any] = field(default_factory=dict)

    def decay_per_step(self, layer: int = -1) -> float:
        """Geometric-mean ratio ‖∂L/∂h_t‖ / ‖∂L/∂h_{t+1}‖ over the sequence (< 1: vanishing,
        > 1: exploding), from a least-squares fit of log-norms against t."""
        norms = self.hidden_grad_norms[layer]
        ok = norms > 0
        t = np.arange(len(norms))[ok]
        slope = np.polyfit(t, np.log(norms[ok]), 1)[0]
        return float(np.exp(-slope))


def recurrent_matrices(layer: Recurrent) -> list[np.ndarray]:
    """The recurrent weight of every cell, as applied to h: V (H, H) for an RNN, W_hhᵀ
    (H, gates·H) for LSTM/GRU."""
    out = []
    cells: Any = layer.cells  # ElmanCell (V) or a PyTorch-layout cell (weight_hh)
    for cell in cells:
        w = cell.V if hasattr(cell, "V") else cell.weight_hh.T
        out.append(np.asarray(w.data))
    return out


def gradient_flow(
    layer: Recurrent,
    x: Any,
    loss_fn: Callable[[Tensor], Tensor],
    state: Any = None,
    model: Any = None,
) -> GradientFlow:
    """Run ``layer`` (nn.RNN, nn.LSTM or nn.GRU) on the batch ``x``, apply ``loss_fn`` to its
    outputs ((T, N, H), or (N, T, H) with ``batch_first``) and measure the gradient flow.

    Args:
        layer: the recurrent layer.
        x: the input batch in the layer's layout: (T, N, F), or (N, T, F) with
            ``batch_first=True``.
        loss_fn: maps the layer's outputs to a scalar loss (e.g. a readout and a loss on
            the last step, to see how the error signal of step T reaches earlier steps).
        state: optional initial state.
        model: the module whose parameter gradient norms to report (default: ``layer``).

    Nothing is accumulated into any ``.grad``.
    """
    if layer.bidirectional:  # a reverse row's signal runs towards t = 0: no one decay to fit
        raise ValueError(
            f"gradient_flow measures a unidirectional layer; got a bidirectional "
            f"{type(layer).__name__} (measure each direction's cells in a layer of their own)"
        )
    outputs, _, steps = layer.unroll(x, state)
    loss = loss_fn(outputs)
    params = list((model if model is not None else layer).named_parameters())
    hidden = [h for layer_steps in steps for h in layer_steps]
    grads = grad(loss, hidden + [p for _, p in params], allow_unused=True)
    T = len(steps[0])
    norms = np.array(
        [0.0 if g is None else float(np.linalg.norm(g.data)) for g in grads[: len(hidden)]]
    )
    param_norms = {
        name: 0.0 if g is None else float(np.linalg.norm(g.data))
        for (name, _), g in zip(params, grads[len(hidden) :])
    }
    radii, sigmas = [], []
    for w in recurrent_matrices(layer):
        H = w.shape[0]
        blocks = [w[:, i : i + H] for i in range(0, w.shape[1], H)]
        radii.append(max(float(np.max(np.abs(np.linalg.eigvals(b)))) for b in blocks))
        sigmas.append(float(np.linalg.norm(w, 2)))
    return GradientFlow(
        hidden_grad_norms=norms.reshape(len(steps), T),
        parameter_grad_norms=param_norms,
        spectral_radius=np.array(radii),
        largest_singular_value=np.array(sigmas),
        loss=float(loss.data),
    )


def plot_gradient_flow(
    flows: dict[str, GradientFlow],
    path: str | Path | None = None,
    layer: int = -1,
    ax: Any = None,
) -> Any:
    """Plot ‖∂L/∂h_t‖ against T − t (log scale) for each labelled flow, into ``ax`` (a
    matplotlib Axes) or a new figure; write it to ``path`` when one is given. Returns the
    Figure (a notebook shows it inline). The figure is built without pyplot and without
    changing matplotlib's backend, so a notebook's or a script's own plotting is left as
    it was. Needs matplotlib (``pip install 'graphgrad[plot]'``)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plot_gradient_flow needs matplotlib: pip install 'graphgrad[plot]'"
        ) from None
    if ax is None:
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for label, flow in flows.items():
        norms = flow.hidden_grad_norms[layer]
        T = len(norms)
        ax.semilogy(T - 1 - np.arange(T), np.maximum(norms, 1e-300), label=label)
    ax.set(
        xlabel="T − t (steps back from the loss)",
        ylabel="‖∂L/∂h_t‖",
        title="Error signal reaching earlier steps",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path), dpi=120)
    return fig
