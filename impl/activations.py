"""Element-wise activations and the (log-)softmax over axis 1."""

from __future__ import annotations

import math

import numpy as np

from .module import Module


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# erfc(z) by its power series below this point, by its continued fraction from it on: with the term counts below,
# each is within a few ulp (relative 6e-14 at worst, from rounding z^2 inside exp) on its side.
_ERFC_SPLIT = 2.5
_SERIES_TERMS = 40
_FRACTION_TERMS = 30
_SERIES = np.cumprod([1.0] + [1 / (2 * n + 1) for n in range(1, _SERIES_TERMS)])  # 1 / (2n + 1)!!


def erfc(z: np.ndarray) -> np.ndarray:
    """The complementary error function of z >= 0, float64 (NumPy has none; math.erfc is one element at a time)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    near = z < _ERFC_SPLIT
    a = z[near]
    # erf(a) = 2/sqrt(pi) exp(-a^2) a sum_n (2 a^2)^n / (2n + 1)!!: every term is positive, so nothing cancels.
    r = 2 * a * a
    total = np.full_like(a, _SERIES[-1])
    for c in _SERIES[-2::-1]:  # Horner
        total *= r
        total += c
    out[near] = 1 - 2 / math.sqrt(math.pi) * np.exp(-a * a) * a * total
    b = z[~near]
    # erfc(b) = exp(-b^2) / sqrt(pi) / (b + (1/2) / (b + (2/2) / (b + (3/2) / ...))), evaluated from the bottom up:
    # accurate in the far tail, where 1 - erf(b) would cancel to 0.
    fraction = b.copy()
    for k in range(_FRACTION_TERMS, 0, -1):
        fraction = b + (k / 2) / fraction
    out[~near] = np.exp(-b * b) / math.sqrt(math.pi) / fraction
    return out


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x), the standard normal distribution function, float64; the lower tail without cancellation."""
    tail = 0.5 * erfc(np.abs(x) / math.sqrt(2))
    return np.where(x >= 0, 1 - tail, tail)


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


class GELU(Module):
    """x * Phi(x); approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as torch.nn.GELU."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def _tanh_argument(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """tanh(u) and du/dx for u = sqrt(2/pi) (x + 0.044715 x^3)."""
        k = math.sqrt(2 / math.pi)
        return np.tanh(k * (x + 0.044715 * x**3)), k * (1 + 3 * 0.044715 * x * x)

    def forward(self, input: np.ndarray) -> np.ndarray:
        # In float64 (the special functions' precision), then back to the input's dtype.
        x = input.astype(np.float64)
        if self.approximate == "tanh":
            out = 0.5 * x * (1 + self._tanh_argument(x)[0])
        else:
            out = x * normal_cdf(x)
        return out.astype(input.dtype, copy=False)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        x = input.astype(np.float64)
        if self.approximate == "tanh":
            t, du = self._tanh_argument(x)
            slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        else:
            # d/dx x Phi(x) = Phi(x) + x phi(x)
            slope = normal_cdf(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (grad_output * slope).astype(input.dtype, copy=False)


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
