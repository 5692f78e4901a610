"""torch.nn under the contract's names and defaults.

Most layers are torch.nn's own classes. The few whose torch defaults or signatures differ from the contract are
wrapped here, once: Softmax and LogSoftmax work over axis 1 (torch asks for `dim`); the recurrent layers take their
states as separate arguments (torch: a tuple (h, c) and a leading layer axis), are batch first and return the
output sequence alone (torch adds the final states: h_n is its last step, c_n is not the contract's).
"""

import torch
from torch import nn as _nn

Linear = _nn.Linear
Conv2d = _nn.Conv2d
MaxPool2d = _nn.MaxPool2d
AvgPool2d = _nn.AvgPool2d
ReLU = _nn.ReLU
LeakyReLU = _nn.LeakyReLU
ELU = _nn.ELU
Sigmoid = _nn.Sigmoid
Tanh = _nn.Tanh
Softplus = _nn.Softplus
GELU = _nn.GELU
Dropout = _nn.Dropout
Flatten = _nn.Flatten
BatchNorm1d = _nn.BatchNorm1d
BatchNorm2d = _nn.BatchNorm2d
LayerNorm = _nn.LayerNorm
GroupNorm = _nn.GroupNorm
Embedding = _nn.Embedding
RNNCell = _nn.RNNCell  # forward(input, hx) -> h', tanh
TemporalLinear = _nn.Linear  # the contract's name for a Linear applied at every step of (N, T, D)
Sequential = _nn.Sequential
MSELoss = _nn.MSELoss
NLLLoss = _nn.NLLLoss
CrossEntropyLoss = _nn.CrossEntropyLoss
SGD = torch.optim.SGD
Adam = torch.optim.Adam


def Softmax() -> _nn.Softmax:  # noqa: N802 - mirrors the class name it stands for
    return _nn.Softmax(dim=1)


def LogSoftmax() -> _nn.LogSoftmax:  # noqa: N802
    return _nn.LogSoftmax(dim=1)


class LSTMCell(_nn.LSTMCell):
    def forward(self, input: torch.Tensor, hx: torch.Tensor, cx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().forward(input, (hx, cx))


class RNN(_nn.RNN):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias=bias, batch_first=True)

    def forward(self, input: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        return super().forward(input, h0.unsqueeze(0))[0]


class LSTM(_nn.LSTM):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias=bias, batch_first=True)

    def forward(self, input: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
        return super().forward(input, (h0.unsqueeze(0), c0.unsqueeze(0)))[0]


class ProbabilityNLLLoss(_nn.NLLLoss):
    """NLLLoss of probabilities (N, C) rather than log-probabilities: the log is taken here, so autograd gives the
    gradient -1 / (N p) at each target."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.log(input), target)


class TemporalCrossEntropyLoss(_nn.CrossEntropyLoss):
    """Scores (N, T, C) and class targets (N, T); a target of -100 (torch's ignore_index) masks its step out; the mean
    over the steps not masked. Torch wants the classes on axis 1."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return super().forward(input.transpose(1, 2), target)
