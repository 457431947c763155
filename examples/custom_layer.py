"""How to write and test your own layer.

1. A new primitive: SiLU (x·σ(x)) as a ``gg.Function`` with a hand-written backward rule,
       σ'(x) = σ(x)(1 − σ(x)),   d/dx [x σ(x)] = σ(x) (1 + x (1 − σ(x))).
2. A layer built on it: ``GatedLinear`` (y = SiLU(x W_g + b_g) ∘ (x W_v + b_v)) — its
   backward needs no code: the engine composes the rules.
3. ``graphgrad.testing.check_module`` fuzzes the layer with gradcheck on hypothesis-drawn
   inputs and fresh parameters — every input and every parameter, first and second
   derivatives. The layer passes.
4. The same layer with a deliberately wrong SiLU rule (the σ(x) factor forgotten): the
   check fails and reports the input element and both values.
5. A primitive with two outputs: one LSTM step as a single ``gg.Function`` returning
   (h', c') with a hand-written backward — the kind of fused op written for speed. It
   equals ``nn.LSTMCell`` (built from the small primitives) in value and gradient, and
   check_module passes on it.

    python examples/custom_layer.py
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import graphgrad as gg
from graphgrad import nn, testing


class SiLU(gg.Function):
    """y = x σ(x).   ∂L/∂x = g σ(x) (1 + x (1 − σ(x))).

    The rule recomputes σ(x) from the saved input with operations that ndarrays and
    Tensors share (np.exp dispatches to graphgrad for Tensors). Had forward saved σ(x)
    itself, the rule would still be right, but under create_graph that array — neither an
    input nor the output — would be a constant, and second derivatives would miss dσ/dx
    (gradgradcheck reports exactly that).
    """

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return x / (1.0 + np.exp(-x))

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        s = 1 / (1 + np.exp(-x))
        return g * s * (1 + x * (1 - s))


class WrongSiLU(SiLU):
    """A deliberately broken rule: the factor σ(x) in front is forgotten."""

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        s = 1 / (1 + np.exp(-x))
        return g * (1 + x * (1 - s))


class GatedLinear(nn.Module):
    """y = SiLU(x W_g + b_g) ∘ (x W_v + b_v), x (..., d_in) -> y (..., d_out)."""

    def __init__(self, d_in: int, d_out: int, rng: np.random.Generator, act: type = SiLU) -> None:
        super().__init__()
        self.gate = nn.Linear(d_in, d_out, rng=rng)
        self.value = nn.Linear(d_in, d_out, rng=rng)
        self.act = act

    def forward(self, x: Any) -> gg.Tensor:
        return self.act.apply(self.gate(x)) * self.value(x)


class FusedLSTMStep(gg.Function):
    """(h', c') of one LSTM step, PyTorch's gate order (i, f, g, o):

        z = x W_ihᵀ + h W_hhᵀ + b,  i, f, o = σ(z_i, z_f, z_o),  g = tanh(z_g)
        c' = f ∘ c + i ∘ g,  h' = o ∘ tanh(c')

    backward receives ∂L/∂h' and ∂L/∂c' (zero where an output is not used) and returns
    one gradient per forward argument: with ∂c = ∂L/∂c' + ∂L/∂h' ∘ o ∘ (1 − tanh² c'),
    ∂z = [∂c∘g∘i(1−i), ∂c∘c∘f(1−f), ∂c∘i∘(1−g²), ∂L/∂h'∘tanh c'∘o(1−o)], and
    ∂x = ∂z W_ih, ∂h = ∂z W_hh, ∂c = ∂c ∘ f, ∂W_ih = ∂zᵀx, ∂W_hh = ∂zᵀh, ∂b = Σ ∂z.
    """

    @staticmethod
    def forward(ctx: Any, x: Any, h: Any, c: Any, w_ih: Any, w_hh: Any, b: Any) -> Any:
        H = h.shape[1]
        z = x @ w_ih.T + h @ w_hh.T + b
        i, f, o = (1 / (1 + np.exp(-z[:, k * H : (k + 1) * H])) for k in (0, 1, 3))
        g = np.tanh(z[:, 2 * H : 3 * H])
        c_next = f * c + i * g
        tanh_c = np.tanh(c_next)
        ctx.save_for_backward(x, h, c, w_ih, w_hh, i, f, g, o, tanh_c)
        return o * tanh_c, c_next

    @staticmethod
    def backward(ctx: Any, grad_h: Any, grad_c: Any) -> Any:
        x, h, c, w_ih, w_hh, i, f, g, o, tanh_c = ctx.saved_tensors
        dc = grad_c + grad_h * o * (1 - tanh_c * tanh_c)
        dz = np.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c * f * (1 - f),
                dc * i * (1 - g * g),
                grad_h * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        return dz @ w_ih, dz @ w_hh, dc * f, dz.T @ x, dz.T @ h, dz.sum(axis=0)


class FusedLSTMCell(nn.Module):
    """``nn.LSTMCell``'s parameters, one FusedLSTMStep per call: (x, (h, c)) -> (h', c')."""

    def __init__(self, d_in: int, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(d_in, hidden, rng=rng)  # only for its parameters

    def forward(self, x: Any, h: Any, c: Any) -> Any:
        p = self.cell
        return FusedLSTMStep.apply(x, h, c, p.weight_ih, p.weight_hh, p.bias_ih + p.bias_hh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--examples", type=int, default=10, help="hypothesis cases per check")
    parser.add_argument("--quick", action="store_true", help="3 cases per check")
    args = parser.parse_args(argv)
    n = 3 if args.quick else args.examples

    x = gg.tensor([-2.0, -0.5, 0.0, 1.5], requires_grad=True)
    SiLU.apply(x).sum().backward()
    print(
        "SiLU at",
        x.data,
        "->",
        np.round(SiLU.apply(x.data).data, 4),
        "gradient",
        np.round(x.grad, 4),
    )
    gg.gradcheck(SiLU.apply, (gg.tensor(x.data, requires_grad=True),))
    gg.gradgradcheck(SiLU.apply, (gg.tensor(x.data, requires_grad=True),))
    print("gradcheck and gradgradcheck of SiLU: passed")

    batch_shapes = testing.shapes(min_dims=1, max_dims=2, max_side=3).map(lambda s: (*s, 4))
    testing.check_module(
        lambda rng: GatedLinear(4, 3, rng), [batch_shapes], max_examples=n, check_second_order=True
    )
    print(
        f"check_module(GatedLinear): passed ({n} fuzzed cases, inputs and all parameters, "
        "first and second derivatives)"
    )

    try:
        testing.check_module(
            lambda rng: GatedLinear(4, 3, rng, act=WrongSiLU), [(2, 4)], max_examples=n
        )
    except gg.GradcheckError as exc:
        print(f"check_module(GatedLinear with a wrong SiLU rule): FAILED, as it should:\n  {exc}")
    else:
        print("check_module did not catch the wrong rule")
        return 1

    rng = np.random.default_rng(0)
    fused = FusedLSTMCell(3, 4, rng)
    x, h, c = (gg.tensor(rng.standard_normal((2, k)), requires_grad=True) for k in (3, 4, 4))
    h1, c1 = fused(x, h, c)
    h2, c2 = fused.cell(x, (h, c))
    (h1.sum() + (c1 * c1).sum()).backward()
    fused_grads = [t.grad.copy() for t in (x, h, c, *fused.parameters())]
    for t in (x, h, c, *fused.parameters()):
        t.grad = None
    (h2.sum() + (c2 * c2).sum()).backward()
    diff = max(
        float(np.abs(a - t.grad).max()) for a, t in zip(fused_grads, (x, h, c, *fused.parameters()))
    )
    diff = max(diff, float(np.abs(h1.data - h2.data).max()), float(np.abs(c1.data - c2.data).max()))
    print(f"FusedLSTMStep (two outputs) vs nn.LSTMCell: outputs and gradients differ by {diff:.1e}")
    testing.check_module(
        lambda rng: FusedLSTMCell(3, 4, rng), [(2, 3), (2, 4), (2, 4)], max_examples=n
    )
    print(f"check_module(FusedLSTMCell): passed ({n} fuzzed cases, both outputs)")
    return 0 if diff < 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
