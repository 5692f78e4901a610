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
