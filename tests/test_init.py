"""Initialisers: the distributions they promise (statistically, on large draws)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.nn import init


def _p(*shape: int) -> nn.Parameter:
    return nn.Parameter(np.zeros(shape))


@pytest.mark.parametrize(
    "fill, expected_std",
    [
        (lambda t: init.xavier_uniform_(t, rng=0), math.sqrt(2 / (400 + 300))),
        (lambda t: init.xavier_normal_(t, rng=0), math.sqrt(2 / (400 + 300))),
        # PyTorch's layout (out, in): fan_in = 300 columns
        (lambda t: init.kaiming_uniform_(t, rng=0), math.sqrt(2 / 300)),
        (lambda t: init.kaiming_normal_(t, rng=0), math.sqrt(2 / 300)),
        (lambda t: init.scaled_normal_(t, rng=0), 1 / math.sqrt(300)),
    ],
)
def test_variance_scaling(fill, expected_std: float) -> None:  # type: ignore[no-untyped-def]
    t = fill(_p(400, 300))
    assert t.data.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(t.data.mean()) < 0.01 * expected_std * 10


def test_uniform_bounds_and_explicit_fans() -> None:
    t = init.xavier_uniform_(_p(8, 100), rng=1, fan_in=50, fan_out=50)
    assert np.abs(t.data).max() <= math.sqrt(6 / 100)
    w = init.uniform_(_p(1000), -0.5, 0.25, rng=2)
    assert w.data.min() >= -0.5 and w.data.max() < 0.25


def test_orthogonal() -> None:
    q = init.orthogonal_(_p(6, 6), gain=2.0, rng=3).data
    np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(6), atol=1e-12)
    wide = init.orthogonal_(_p(3, 7), rng=4).data
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-12)
    assert init.spectral_radius(q) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="2 dimensions"):
        init.orthogonal_(_p(3))


def test_constant_zeros_ones_and_seeding() -> None:
    assert (init.ones_(_p(3)).data == 1).all() and (init.zeros_(_p(3)).data == 0).all()
    gg.manual_seed(5)
    a = nn.Linear(3, 3).weight.data.copy()
    gg.manual_seed(5)
    np.testing.assert_array_equal(nn.Linear(3, 3).weight.data, a)
    with pytest.raises(TypeError, match="rng"):
        init.normal_(_p(2), rng="seed")  # type: ignore[arg-type]


def test_bad_arguments_are_named() -> None:
    w = nn.Parameter(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"uniform_: needs a ≤ b, got a=1, b=-1"):
        init.uniform_(w, 1, -1)
    with pytest.raises(ValueError, match=r"normal_: needs std ≥ 0"):
        init.normal_(w, std=-1.0)
    with pytest.raises(ValueError, match=r"square matrix, got shape \(3, 4\)"):
        init.spectral_radius(w)
    assert np.all(w.data == 0)  # nothing was written
