"""Element-wise activations and the (log-)softmax over axis 1."""

from __future__ import annotations

import numpy as np

from .module import Module


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log(softmax(x)) over axis 1, via log-sum-exp so large logits stay finite."""
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    """softmax over axis 1; subtracting the max keeps exp from overflowing."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return np.maximum(input, 0)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * (input > 0)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input: np.ndarray) -> np.ndarray:
        return np.where(input > 0, input, input * self.negative_slope)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return np.where(input > 0, grad_output, grad_output * self.negative_slope)


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, input: np.ndarray) -> np.ndarray:
        # exp of min(x, 0) only: large positive x (whose branch is discarded) cannot overflow or warn.
        return np.where(input > 0, input, self.alpha * np.expm1(np.minimum(input, 0)))

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        # d/dx alpha * (exp(x) - 1) = alpha * exp(x); at x == 0 the left slope alpha, as torch takes.
        return np.where(input > 0, grad_output, grad_output * (self.alpha * np.exp(np.minimum(input, 0))))


class Sigmoid(Module):
    """Logistic function."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return sigmoid(input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        s = sigmoid(input)
        return grad_output * s * (1 - s)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return np.tanh(input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        t = np.tanh(input)
        return grad_output * (1 - t * t)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (torch's definition)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: np.ndarray) -> np.ndarray:
        z = input * self.beta
        # logaddexp(0, z) = log(1 + exp(z)) without overflow: the naive form is inf from z ~ 710 on.
        return np.where(z > self.threshold, input, np.logaddexp(0, z) / self.beta)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        z = input * self.beta
        return np.where(z > self.threshold, grad_output, grad_output * sigmoid(z))


class Softmax(Module):
    """Softmax over axis 1."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return softmax(input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        s = softmax(input)
        return s * (grad_output - (grad_output * s).sum(axis=1, keepdims=True))


class LogSoftmax(Module):
    """Log of the softmax over axis 1."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return log_softmax(input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return grad_output - softmax(input) * grad_output.sum(axis=1, keepdims=True)
