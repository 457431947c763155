"""Losses: gradcheck (all reductions, masks), closed forms, stability, clear errors."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]
seeds = st.integers(0, 2**31)


def _masks(rng: np.random.Generator, shape: tuple[int, ...], use: bool) -> Any:
    return (rng.random(shape[:2])[..., None] > 0.4) if use else None


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", [F.squared_error, F.mse_loss])
@given(seeds, st.booleans())
def test_regression_losses(loss: Callable, reduction: str, seed: int, masked: bool) -> None:
    rng = np.random.default_rng(seed)
    pred = gg.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    target = rng.standard_normal((2, 3, 2))
    mask = _masks(rng, pred.shape, masked)
    assert gg.gradcheck(lambda p: loss(p, target, reduction=reduction, mask=mask), (pred,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(seeds, st.booleans(), st.booleans())
def test_cross_entropy(reduction: str, seed: int, masked: bool, prob_targets: bool) -> None:
    rng = np.random.default_rng(seed)
    logits = gg.tensor(rng.standard_normal((2, 3, 4)) * 2, requires_grad=True)
    if prob_targets:
        target = rng.dirichlet(np.ones(4), size=(2, 3))
    else:
        target = rng.integers(0, 4, size=(2, 3))
    mask = rng.random((2, 3)) > 0.4 if masked else None
    assert gg.gradcheck(
        lambda z: F.cross_entropy(z, target, reduction=reduction, mask=mask, axis=-1), (logits,)
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(seeds, st.booleans())
def test_binary_cross_entropies(reduction: str, seed: int, masked: bool) -> None:
    rng = np.random.default_rng(seed)
    z = gg.tensor(rng.standard_normal((3, 4)) * 3, requires_grad=True)
    t = (rng.random((3, 4)) > 0.5).astype(float)
    mask = rng.random((3, 4)) > 0.3 if masked else None
    assert gg.gradcheck(
        lambda z: F.binary_cross_entropy_with_logits(z, t, reduction=reduction, mask=mask), (z,)
    )
    assert gg.gradcheck(
        lambda z: F.binary_cross_entropy(z.sigmoid(), t, reduction=reduction, mask=mask), (z,)
    )
    assert gg.gradgradcheck(
        lambda z: F.binary_cross_entropy_with_logits(z, t, reduction=reduction), (z,)
    )


def test_closed_forms() -> None:
    rng = np.random.default_rng(0)
    p = gg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = rng.standard_normal((4, 3))
    F.squared_error(p, y).backward()  # seed 000 eq. 12: ∂L/∂Φ = −(Y − Φ)
    np.testing.assert_allclose(p.grad, -(y - p.data), rtol=1e-14)
    assert F.squared_error(p, y).item() == pytest.approx(0.5 * np.sum((p.data - y) ** 2))
    assert F.mse_loss(p, y).item() == pytest.approx(np.mean((p.data - y) ** 2))

    z = gg.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    cls = np.array([0, 2, 1, 1, 0])
    F.cross_entropy(z, cls).backward()  # (softmax − onehot) / N
    soft = np.exp(z.data) / np.exp(z.data).sum(1, keepdims=True)
    np.testing.assert_allclose(z.grad, (soft - np.eye(3)[cls]) / 5, rtol=1e-12)

    s = gg.tensor(rng.standard_normal(6), requires_grad=True)
    t = np.array([1.0, 0, 1, 0, 1, 1])
    F.binary_cross_entropy_with_logits(s, t, reduction="sum").backward()  # σ(z) − t
    np.testing.assert_allclose(s.grad, 1 / (1 + np.exp(-s.data)) - t, rtol=1e-12)


def test_bce_with_logits_is_exact_at_zero_and_stable_at_extremes() -> None:
    z = gg.tensor([0.0, 0.0, 1000.0, -1000.0, 40.0], requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    np.testing.assert_allclose(
        loss.data, [np.log(2), np.log(2), 1000.0, 1000.0, np.log1p(np.exp(-40.0))], rtol=1e-12
    )
    loss.sum().backward()
    np.testing.assert_allclose(
        z.grad, [-0.5, 0.5, 1.0, -1.0, 1 / (1 + np.exp(-40.0)) - 1], atol=1e-15
    )


def test_cross_entropy_of_huge_logits_is_finite() -> None:
    z = gg.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], requires_grad=True)
    loss = F.cross_entropy(z, np.array([1, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad))
    assert loss.item() == pytest.approx((2000.0 + 1.0 + np.log1p(np.exp(-1.0))) / 2)


def test_bce_on_saturated_probabilities_is_finite() -> None:
    p = gg.tensor([0.0, 1.0, 1.0, 0.0], requires_grad=True)
    t = np.array([1.0, 0.0, 1.0, 0.0])
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad))


def test_cross_entropy_says_which_target_kind_it_expected() -> None:
    z = gg.tensor(np.zeros((4, 3)), requires_grad=True)
    labels = np.array([0, 1, 2, 0])
    with pytest.raises(gg.ShapeError, match=r"class indices must be integers.*astype\(int\)"):
        F.cross_entropy(z, labels.astype(float))
    with pytest.raises(gg.ShapeError, match=r"one-hot .* must be floats"):
        F.cross_entropy(z, np.eye(3, dtype=int)[labels])
    assert F.cross_entropy(z, labels).item() == pytest.approx(np.log(3.0))
    assert F.cross_entropy(z, np.eye(3)[labels]).item() == pytest.approx(np.log(3.0))


def test_bce_refuses_values_that_are_not_probabilities() -> None:
    t = np.array([1.0, 0.0])
    for bad in ([2.5, 0.5], [0.5, -0.1], [np.nan, 0.5]):  # e.g. logits passed by mistake
        with pytest.raises(ValueError, match=r"in \[0, 1\].*binary_cross_entropy_with_logits"):
            F.binary_cross_entropy(gg.tensor(bad, requires_grad=True), t)
    # masked-out positions (padding) may hold anything
    loss = F.binary_cross_entropy(np.array([0.5, 7.0]), t, mask=np.array([1, 0]))
    assert loss.item() == pytest.approx(np.log(2.0))


def test_masked_elements_get_exactly_zero_gradient_and_mean_counts_unmasked() -> None:
    rng = np.random.default_rng(2)
    pred = gg.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
    y = rng.standard_normal((2, 5, 3))
    lengths = np.array([5, 2])
    mask = (np.arange(5)[None, :] < lengths[:, None])[..., None]  # variable-length sequences
    loss = F.mse_loss(pred, y, mask=mask)
    loss.backward()
    assert np.all(pred.grad[1, 2:] == 0.0)
    valid = np.broadcast_to(mask, pred.shape)
    assert loss.item() == pytest.approx(np.sum(((pred.data - y) ** 2)[valid]) / valid.sum())

    logits = gg.tensor(rng.standard_normal((2, 5, 4)), requires_grad=True)
    targets = np.full((2, 5), -1)  # padding holds an invalid class: masked, so allowed
    targets[0], targets[1, :2] = [0, 1, 2, 3, 0], [3, 3]
    F.cross_entropy(logits, targets, mask=mask[..., 0]).backward()
    assert np.all(logits.grad[1, 2:] == 0.0) and np.any(logits.grad[1, :2] != 0.0)


def test_all_masked_mean_is_zero_not_nan() -> None:
    p = gg.tensor(np.ones(3), requires_grad=True)
    loss = F.mse_loss(p, np.zeros(3), mask=np.zeros(3))
    loss.backward()
    assert loss.item() == 0.0 and np.all(p.grad == 0.0)


@pytest.mark.parametrize(
    "loss",
    [F.squared_error, F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits],
)
def test_shape_mismatch_is_an_error_not_a_broadcast(loss: Callable) -> None:
    with pytest.raises(gg.ShapeError, match=r"prediction shape \(4, 1\) and target shape \(4,\)"):
        loss(gg.tensor(np.full((4, 1), 0.5), requires_grad=True), np.ones(4))


def test_cross_entropy_target_errors() -> None:
    z = gg.tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"target class 4 is not in \[0, 4\)"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(gg.ShapeError, match=r"must have shape \(3,\)"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(z, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(gg.ShapeError, match="does not broadcast"):
        F.mse_loss(z, np.zeros((3, 4)), mask=np.ones(3))


@pytest.mark.parametrize(
    ("module", "fn", "default"),
    [
        ("MSELoss", F.mse_loss, "mean"),
        ("SquaredErrorLoss", F.squared_error, "sum"),
        ("CrossEntropyLoss", F.cross_entropy, "mean"),
        ("BCELoss", F.binary_cross_entropy, "mean"),
        ("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits, "mean"),
    ],
)
def test_loss_modules_call_their_functional_form(module: str, fn: Callable, default: str) -> None:
    from graphgrad import nn

    rng = np.random.default_rng(4)
    if module == "CrossEntropyLoss":
        pred, target = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    else:
        pred, target = rng.uniform(0.05, 0.95, (5, 3)), rng.uniform(0, 1, (5, 3))
    mask = rng.integers(0, 2, 5 if module == "CrossEntropyLoss" else (5, 3))
    cls = getattr(nn, module)
    assert cls().reduction == default and repr(cls()) == f"{module}(reduction={default!r})"
    for reduction in ("mean", "sum", "none"):
        x = gg.tensor(pred, requires_grad=True)
        got = cls(reduction=reduction)(x, target, mask=mask)
        np.testing.assert_array_equal(got.data, fn(pred, target, reduction, mask).data)
    with pytest.raises(ValueError, match=f"{module}: reduction must be"):
        cls(reduction="avg")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16))
def test_cross_entropy_class_axis_follows_the_targets_shape(
    n: int, a: int, b: int, seed: int
) -> None:
    """(N, A, B) logits: (N, A) targets read classes last (the sequence layout), (N, B)
    targets classes on dim 1 (PyTorch's); where both fit (A = B) it raises, naming axis=."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, a, b))
    last = rng.integers(0, b, size=(n, a))
    dim1 = rng.integers(0, a, size=(n, b))
    want_last = F.cross_entropy(z.reshape(-1, b), last.ravel(), reduction="none").data
    want_dim1 = F.cross_entropy(
        z.transpose(0, 2, 1).reshape(-1, a), dim1.ravel(), reduction="none"
    ).data
    if a == b:
        with pytest.raises(ValueError, match=r"axis=-1 or axis=1"):
            F.cross_entropy(z, last)
        got_last = F.cross_entropy(z, last, reduction="none", axis=-1).data
        got_dim1 = F.cross_entropy(z, dim1, reduction="none", axis=1).data
    else:
        got_last = F.cross_entropy(z, last, reduction="none").data
        got_dim1 = F.cross_entropy(z, dim1, reduction="none").data
    np.testing.assert_allclose(got_last.ravel(), want_last, rtol=1e-13)
    np.testing.assert_allclose(got_dim1.ravel(), want_dim1, rtol=1e-13)
    with pytest.raises(ValueError, match=r"axis=-1 or axis=1"):  # probabilities fit both
        F.cross_entropy(z, np.full(z.shape, 1.0 / b))
