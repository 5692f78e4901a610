"""Batch normalisation."""

from __future__ import annotations

import numpy as np

from .module import Module


class BatchNorm1d(Module):
    """torch.nn.BatchNorm1d on (N, C) or (N, C, L) input, with affine parameters and running statistics."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = np.ones(num_features)
        self.bias = np.zeros(num_features)
        self._register(self.weight, self.bias)
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)

    @staticmethod
    def _axes(input: np.ndarray) -> tuple[int, ...]:
        """Every axis except the channel axis 1."""
        return (0, *range(2, input.ndim))

    @staticmethod
    def _channel(values: np.ndarray, input: np.ndarray) -> np.ndarray:
        """Per-channel values shaped to broadcast against `input`, in its dtype."""
        return values.astype(input.dtype, copy=False).reshape(-1, *([1] * (input.ndim - 2)))

    def _statistics(self, input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance to normalise with: the batch's (biased) in training, the running ones in eval."""
        if self.training:
            axes = self._axes(input)
            return input.mean(axis=axes, keepdims=True), input.var(axis=axes, keepdims=True)
        return self._channel(self.running_mean, input), self._channel(self.running_var, input)

    def forward(self, input: np.ndarray) -> np.ndarray:
        mean, var = self._statistics(input)
        if self.training:
            n = input.size // self.num_features
            if n < 2:
                raise ValueError("BatchNorm1d needs more than 1 value per channel when training")
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean.reshape(-1)
            self.running_var *= 1 - m
            self.running_var += m * var.reshape(-1) * (n / (n - 1))
        x_hat = (input - mean) / np.sqrt(var + input.dtype.type(self.eps))
        return x_hat * self._channel(self.weight, input) + self._channel(self.bias, input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        mean, var = self._statistics(input)
        inv_std = 1 / np.sqrt(var + input.dtype.type(self.eps))
        x_hat = (input - mean) * inv_std
        axes = self._axes(input)
        self._grads[0] += (grad_output * x_hat).sum(axis=axes)
        self._grads[1] += grad_output.sum(axis=axes)
        g_hat = grad_output * self._channel(self.weight, input)
        if not self.training:
            # Running statistics are constants, so normalisation is a per-channel affine map.
            return g_hat * inv_std
        # Batch statistics depend on every sample: remove g_hat's components along the mean and along x_hat.
        return inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True) - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
