"""Arguments are read as NumPy and PyTorch read them, or refused: never read another way.

Axes: for every op that takes one, every axis in and just outside [-ndim, ndim) is tried
against NumPy's own function: where NumPy raises, graphgrad raises; where it succeeds,
graphgrad gives the same values.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# (name, graphgrad call, NumPy call), each taking (array or tensor, axis)
AXIS_OPS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("sum", lambda t, a: t.sum(a), lambda x, a: x.sum(a)),
    ("mean", lambda t, a: t.mean(a), lambda x, a: x.mean(a)),
    ("max", lambda t, a: t.max(axis=a), lambda x, a: x.max(a)),
    ("min", lambda t, a: t.min(axis=a), lambda x, a: x.min(a)),
    ("max_dim", lambda t, a: t.max(dim=a).values, lambda x, a: x.max(a)),
    ("min_dim_indices", lambda t, a: t.min(dim=a).indices, lambda x, a: x.argmin(a)),
    ("sum_keepdims", lambda t, a: t.sum((a,), keepdims=True),
     lambda x, a: x.sum((a,), keepdims=True)),
    ("softmax", lambda t, a: t.softmax(a), _softmax),
    ("log_softmax", lambda t, a: t.log_softmax(a), lambda x, a: np.log(_softmax(x, a))),
    ("squeeze", lambda t, a: t.squeeze(a), lambda x, a: x.squeeze(a)),
    ("unsqueeze", lambda t, a: t.unsqueeze(a), lambda x, a: np.expand_dims(x, a)),
    ("swapaxes_0", lambda t, a: t.swapaxes(0, a), lambda x, a: x.swapaxes(0, a)),
    ("transpose_roll", lambda t, a: t.transpose(_roll(t.ndim, a)),
     lambda x, a: x.transpose(_roll(x.ndim, a))),
    ("concat", lambda t, a: gg.concat([t, t], axis=a), lambda x, a: np.concatenate([x, x], a)),
    ("stack", lambda t, a: gg.stack([t, t], axis=a), lambda x, a: np.stack([x, x], a)),
    ("np.split", lambda t, a: np.split(t, 1, axis=a)[0], lambda x, a: np.split(x, 1, axis=a)[0]),
    ("np.sum", lambda t, a: np.sum(t, axis=a), lambda x, a: np.sum(x, axis=a)),
]  # fmt: skip


def _roll(ndim: int, a: int) -> tuple[int, ...]:
    """A permutation whose first entry is ``a`` (possibly out of range) and the rest the
    other axes: only ``a`` decides whether it is valid."""
    rest = [i for i in range(ndim) if i != a % max(ndim, 1)]
    return (a, *rest[: ndim - 1])


@pytest.mark.parametrize("name, graph, reference", AXIS_OPS, ids=[o[0] for o in AXIS_OPS])
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), offset=st.integers(-2, 1))
def test_axes_are_read_as_numpy_reads_them(
    name: str, graph: Any, reference: Any, shape: list[int], offset: int
) -> None:
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    ndim = x.ndim + (1 if name in ("unsqueeze", "stack") else 0)
    for axis in (-ndim + offset, ndim + offset, offset):
        try:
            expected = reference(x, axis)
        except (ValueError, IndexError):  # out of range, repeated, not of size 1 ...
            with pytest.raises((ValueError, IndexError)):
                graph(gg.tensor(x, requires_grad=True), axis)
            continue
        got = graph(gg.tensor(x, requires_grad=True), axis)
        np.testing.assert_allclose(got.data, expected, rtol=1e-12, err_msg=f"{name} {axis}")


def test_transpose_axes_out_of_range_or_repeated_raise() -> None:
    t = gg.tensor(np.ones((2, 3)))
    for axes in [(0, 5), (0, 0), (2, 0), (-3, 0)]:
        with pytest.raises(gg.ShapeError, match="Transpose"):
            t.transpose(*axes)
    assert t.transpose(-1, 0).shape == (3, 2)


def test_binary_cross_entropy_targets_must_be_probabilities() -> None:
    p = gg.tensor([0.3, 0.6], requires_grad=True)
    for bad in (2.0, -0.5, np.nan):
        target = np.array([bad, 0.0])
        with pytest.raises(ValueError, match=r"targets must be probabilities.*cross_entropy"):
            F.binary_cross_entropy(p, target)
        with pytest.raises(ValueError, match="targets must be probabilities"):
            F.binary_cross_entropy_with_logits(p, target)
    F.binary_cross_entropy(p, np.array([2.0, 0.0]), mask=np.array([0, 1]))  # masked: fine
    F.binary_cross_entropy(p, np.array([0.1, 0.9]))  # soft labels: fine


def test_embedding_padding_idx_negative_and_out_of_range() -> None:
    for idx, row in [(-1, 4), (-5, 0), (0, 0), (4, 4)]:
        assert nn.Embedding(5, 2, padding_idx=idx).padding_idx == row
    for idx in (5, -6, 100):
        with pytest.raises(ValueError, match="padding_idx"):
            nn.Embedding(5, 2, padding_idx=idx)
