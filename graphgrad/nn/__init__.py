"""Neural-network building blocks composed of graphgrad primitives only.

Nothing in ``graphgrad.nn`` has a hand-written backward pass: layers, recurrent cells and
losses are compositions of the primitives in ``graphgrad.ops``, so every gradient —
backpropagation through time included — is produced by the engine's graph traversal.
"""

from graphgrad.nn import functional, init, utils
from graphgrad.nn.layers import Dropout, Embedding, Linear, ReLU, Sigmoid, Tanh
from graphgrad.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    SquaredErrorLoss,
)
from graphgrad.nn.module import Module, ModuleList, Parameter, Sequential
from graphgrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

from graphgrad.nn import convert  # isort: skip  (it imports the layers above)

__all__ = [
    "GRU", "LSTM", "RNN", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout",
    "Embedding", "GRUCell", "LSTMCell", "Linear", "MSELoss", "Module", "ModuleList", "Parameter",
    "RNNCell", "ReLU", "Sequential", "Sigmoid", "SquaredErrorLoss", "Tanh", "convert",
    "functional", "init", "utils",
]  # fmt: skip
