"""Training sanity: models built from graphgrad.nn learn the seeds' tasks (seeded, fast)."""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.nn import functional as F


def test_mlp_learns_xor_with_plain_gradient_descent() -> None:
    """Seed 004: 2-layer sigmoid MLP, squared error, W ← W − η ∂E/∂W."""
    X, T = gg.data.xor()
    model = nn.Sequential(
        nn.Linear(2, 8, rng=0), nn.Sigmoid(), nn.Linear(8, 1, rng=1), nn.Sigmoid()
    )
    opt = optim.SGD(model.parameters(), lr=1.0)
    for _ in range(3000):
        loss = F.squared_error(model(X), T)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = model(X).data
    assert ((out > 0.5) == (T > 0.5)).all()
    assert loss.item() < 0.05


class SeqClassifier(nn.Module):
    """Per-step binary classifier: RNN → linear readout at every step (seed 002's shape)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.ElmanRNN(1, hidden, rng=0, batch_first=True)
        self.out = nn.Linear(hidden, 1, rng=1)

    def forward(self, x: np.ndarray) -> gg.Tensor:
        h, _ = self.rnn(x[..., None])
        return self.out(h)[..., 0]


def test_rnn_learns_the_length_8_alternating_sum() -> None:
    x, y = gg.data.alternating_sum(4000, 8, rng=0)
    x_test, y_test = gg.data.alternating_sum(500, 8, rng=1)
    model = SeqClassifier(16)
    opt = optim.Adam(model.parameters(), lr=0.01)
    loader = gg.data.DataLoader(x, y, batch_size=32, shuffle=True, rng=0)
    with gg.no_grad():
        before = ((model(x_test).data > 0) == (y_test == 1)).mean()
    steps = 0
    while steps < 400:
        for xb, yb in loader:
            loss = F.binary_cross_entropy_with_logits(model(xb), yb.astype(float))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            steps += 1
            if steps == 400:
                break
    with gg.no_grad():
        accuracy = ((model(x_test).data > 0) == (y_test == 1)).mean()
    assert accuracy > 0.93, f"accuracy {accuracy:.3f} (before training {before:.3f})"
