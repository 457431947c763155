"""Neural-network building blocks composed of graphgrad primitives only.

Nothing in ``graphgrad.nn`` has a hand-written backward pass: layers, recurrent cells and
losses are compositions of the primitives in ``graphgrad.ops``, so every gradient —
backpropagation through time included — is produced by the engine's graph traversal.
"""

from graphgrad.nn import functional, init, utils
from graphgrad.nn.layers import Dropout, Embedding, LayerNorm, Linear, ReLU, Sigmoid, Tanh
from graphgrad.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
    SquaredErrorLoss,
)
from graphgrad.nn.module import (
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    ParameterList,
    Sequential,
)
from graphgrad.nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    ElmanCell,
    ElmanRNN,
    GRUCell,
    LSTMCell,
    RNNCell,
)

from graphgrad.nn import convert  # isort: skip  (it imports the layers above)

__all__ = [
    "GRU", "LSTM", "RNN", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout",
    "ElmanCell", "ElmanRNN", "Embedding", "GRUCell", "LSTMCell", "LayerNorm", "Linear",
    "MSELoss", "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ParameterList",
    "RNNCell", "ReLU", "Sequential", "Sigmoid", "SquaredErrorLoss", "Tanh", "convert",
    "functional", "init", "utils",
]  # fmt: skip
