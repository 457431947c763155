"""A user's script, type-checked by tests/test_typing.py against the installed package."""

import numpy as np

import graphgrad as gg
from graphgrad import nn, optim

x = gg.tensor(np.ones((4, 3)), requires_grad=True)
y = (x @ x.T).tanh().sum()
reveal_type(y)  # noqa: F821
layer = nn.Linear(3, 2)
out = layer(x)
reveal_type(out)  # noqa: F821
reveal_type(layer.parameters())  # noqa: F821
reveal_type(y.item())  # noqa: F821
reveal_type(x.grad)  # noqa: F821
opt = optim.SGD(layer.parameters(), lr=0.1)
reveal_type(opt.step())  # noqa: F821
