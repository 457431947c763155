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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
