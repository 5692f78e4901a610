"""Loss functions: forward returns a Python float, backward the gradient with respect to the input."""

from __future__ import annotations

import numpy as np

from .activations import log_softmax, softmax


def _nll(log_probs: np.ndarray, target: np.ndarray) -> float:
    return float(-log_probs[np.arange(len(target)), target].mean())


class Criterion:
    """Base class of the losses; calling one is its forward."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        """The mean loss."""
        raise NotImplementedError

    def backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        """d(loss)/d(input), same shape and dtype as `input`."""
        raise NotImplementedError

    def __call__(self, input: np.ndarray, target: np.ndarray) -> float:
        return self.forward(input, target)


class MSELoss(Criterion):
    """Mean of the squared differences over all elements."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        return float(np.mean((input - target) ** 2))

    def backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return (2 * (input - target) / input.size).astype(input.dtype, copy=False)


class NLLLoss(Criterion):
    """Negative log-likelihood of (N, C) log-probabilities at integer targets, averaged over the batch."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        return _nll(input, target)

    def backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(input)
        grad[np.arange(len(target)), target] = -1 / len(target)
        return grad


class CrossEntropyLoss(Criterion):
    """LogSoftmax followed by NLLLoss, on raw (N, C) logits."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        return _nll(log_softmax(input), target)

    def backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        grad = softmax(input)
        grad[np.arange(len(target)), target] -= 1
        grad /= len(target)
        return grad
