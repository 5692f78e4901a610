"""Shape-only layers."""

from __future__ import annotations

import numpy as np

from .module import Module


class Flatten(Module):
    """Collapse every axis after the first (torch's start_dim=1)."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return input.reshape(input.shape[0], -1)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return grad_output.reshape(input.shape)
