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


class ProbabilityNLLLoss(Criterion):
    """NLLLoss of (N, C) probabilities (a Softmax's output): the mean over the batch of -log input[i, target[i]]."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        return _nll(np.log(input), target)

    def backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        rows = np.arange(len(target))
        grad = np.zeros_like(input)
        grad[rows, target] = -1 / (len(target) * input[rows, target])
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


class TemporalCrossEntropyLoss(Criterion):
    """CrossEntropyLoss at every step of (N, T, C) scores with (N, T) targets; a target of -100 (torch's ignore_index)
    masks its step out, and the loss is the mean over the steps that are not masked."""

    ignore_index = -100

    def _steps(self, input: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The scores one step per row, each row's target (0 where masked) and the weight of each row in the mean."""
        flat, classes = input.reshape(-1, input.shape[-1]), target.reshape(-1)
        kept = classes != self.ignore_index
        return flat, np.where(kept, classes, 0), kept / kept.sum()

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        flat, classes, weights = self._steps(input, target)
        return float(-(log_softmax(flat)[np.arange(len(classes)), classes] * weights).sum())

    def backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        flat, classes, weights = self._steps(input, target)
        grad = softmax(flat)
        grad[np.arange(len(classes)), classes] -= 1
        grad *= weights[:, None]
        return grad.reshape(input.shape)
