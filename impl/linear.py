"""Fully connected layer."""

from __future__ import annotations

import numpy as np

from .module import Module, uniform_init


class Linear(Module):
    """y = x W^T + b over the last axis of `x`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = uniform_init((out_features, in_features), in_features)
        self.bias = uniform_init((out_features,), in_features) if bias else None
        self._register(*(p for p in (self.weight, self.bias) if p is not None))

    def forward(self, input: np.ndarray) -> np.ndarray:
        out = input @ self.weight.T.astype(input.dtype, copy=False)
        if self.bias is not None:
            out += self.bias.astype(input.dtype, copy=False)
        return out

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        # Leading axes are all "batch": fold them so the weight gradient is one matmul.
        x = input.reshape(-1, self.in_features)
        g = grad_output.reshape(-1, self.out_features)
        self._grads[0] += g.T @ x
        if self.bias is not None:
            self._grads[1] += g.sum(axis=0)
        return grad_output @ self.weight.astype(input.dtype, copy=False)


class TemporalLinear(Linear):
    """Linear at every time step of (N, T, in_features) input: Linear already maps the last axis of any input."""
