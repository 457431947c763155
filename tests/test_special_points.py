"""Values and gradients at special points, against PyTorch's (docs/design.md, "Special
points"). The expected numbers come from torch 2.13 via tests/fixtures/make_special_points.py
and are stored, so this needs no torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn.functional as F

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "special_points.json").read_text())

OPS: dict[str, Callable[..., gg.Tensor]] = {
    "pow": lambda x, y: x**y,
    "pow_scalar_exponent_0": lambda x: x**0,
    "scalar_0_pow": lambda y: 0.0**y,
    "sqrt": lambda x: x.sqrt(),
    "log": lambda x: x.log(),
    "exp": lambda x: x.exp(),
    "div": lambda x, y: x / y,
    "relu": lambda x: x.relu(),
    "abs": lambda x: abs(x),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "softplus": lambda x: x.softplus(),
    "max_all": lambda x: x.max(),
    "min_all": lambda x: x.min(),
    "maximum": gg.maximum,
    "minimum": gg.minimum,
    "clamp": lambda x: x.clip(-1.0, 1.0),
    "clamp_tensor_bounds": lambda x, lo, hi: x.clip(lo, hi),
    "binary_cross_entropy": lambda p, t: F.binary_cross_entropy(p, t, reduction="none"),
    "binary_cross_entropy_with_logits": lambda z, t: F.binary_cross_entropy_with_logits(
        z, t, reduction="none"
    ),
    "log_softmax": lambda x: x.log_softmax(-1),
    "softmax": lambda x: x.softmax(-1),
}


def test_every_fixture_op_is_mapped() -> None:
    assert {c["op"] for c in FIXTURES["cases"]} == set(OPS)


@pytest.mark.parametrize(
    "case", FIXTURES["cases"], ids=[f"{c['op']}-{c['dtype']}" for c in FIXTURES["cases"]]
)
def test_matches_pytorch_at_special_points(case: dict[str, Any]) -> None:
    dtype = np.dtype(case["dtype"])
    xs = [gg.tensor(np.array(v, dtype=dtype), requires_grad=True) for v in case["inputs"]]
    with np.errstate(all="ignore"):
        out = OPS[case["op"]](*xs)
        out.sum().backward()
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    # torch rounds σ(50) to 1 before subtracting the target; graphgrad's σ(z) − t keeps
    # the 1.9e-22 (more precise, the same definition)
    atol = 1e-21 if case["op"] == "binary_cross_entropy_with_logits" else 1e-30
    np.testing.assert_allclose(out.data.reshape(-1), case["output"], rtol=rtol, atol=atol)
    for i, (x, want) in enumerate(zip(xs, case["grads"])):
        got = np.zeros(x.shape) if x.grad is None else x.grad
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"input {i}")


def test_pow_special_points_hold_under_create_graph() -> None:
    x = gg.tensor([0.0, 2.0], requires_grad=True)
    (g,) = gg.grad((x**0).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [0.0, 0.0])
    y = gg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = gg.grad((0.0**y).sum(), y, create_graph=True)
    np.testing.assert_array_equal(g.data, [0.0, 0.0])
    a = gg.tensor([0.5, 1.5], requires_grad=True)
    b = gg.tensor([0.0, 2.0], requires_grad=True)  # b = 0 away from a = 0: the formula holds
    assert gg.gradgradcheck(lambda a, b: a**b, (a, b))


def test_binary_cross_entropy_of_a_saturated_float32_sigmoid_is_finite() -> None:
    z = gg.tensor(np.array([20.0, 40.0, -120.0], dtype=np.float32), requires_grad=True)
    p = z.sigmoid()
    assert p.data[0] == 1.0  # saturated: rounds to 1 in float32
    loss = F.binary_cross_entropy(p, np.array([0.0, 1.0, 1.0], dtype=np.float32))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(z.grad).all()


def test_gradcheck_refuses_to_pass_non_finite_gradients() -> None:
    class NaNGrad(gg.Function):  # its gradient is NaN, and so is the central difference
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            return np.full_like(x, np.nan)

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            return g * np.nan

    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(gg.GradcheckError, match="non-finite"):
        gg.gradcheck(NaNGrad.apply, (x,))
    assert gg.gradcheck(NaNGrad.apply, (x,), allow_nonfinite=True)  # asked for
    with np.errstate(all="ignore"):  # log 0 = −inf: its gradient is no number to verify
        assert not gg.gradcheck(
            lambda x: x.log(), (gg.tensor([0.0], requires_grad=True),), raise_exception=False
        )
    with pytest.raises(gg.GradcheckError, match="non-finite"):
        gg.gradcheck(NaNGrad.apply, (x,), fast_mode=True)
