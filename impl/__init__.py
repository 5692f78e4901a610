"""Hand-written NumPy neural-network layers, losses and optimisers mirroring torch.nn / torch.optim."""

from .activations import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .avgpool import AvgPool2d
from .containers import Sequential
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear, TemporalLinear
from .losses import CrossEntropyLoss, MSELoss, NLLLoss, ProbabilityNLLLoss, TemporalCrossEntropyLoss
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .optim import SGD, Adam
from .pooling import MaxPool2d
from .recurrent import LSTM, RNN, LSTMCell, RNNCell
from .reshape import Flatten

__all__ = [
    "Module",
    "Linear",
    "TemporalLinear",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "GELU",
    "Dropout",
    "Flatten",
    "Softmax",
    "LogSoftmax",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "Embedding",
    "Sequential",
    "RNNCell",
    "LSTMCell",
    "RNN",
    "LSTM",
    "MSELoss",
    "NLLLoss",
    "ProbabilityNLLLoss",
    "CrossEntropyLoss",
    "TemporalCrossEntropyLoss",
    "SGD",
    "Adam",
]
