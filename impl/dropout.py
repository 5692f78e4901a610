"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from . import module
from .module import Module


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p); identity in eval."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self._mask: np.ndarray | None = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0:
            self._mask = None
            return input
        # p == 1 keeps nothing, so the scale is irrelevant; avoid dividing by zero.
        scale = 0.0 if self.p == 1 else 1 / (1 - self.p)
        keep = module.rng.random(input.shape) >= self.p
        self._mask = keep.astype(input.dtype) * input.dtype.type(scale)
        return input * self._mask

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        # The mask belongs to the latest forward; None means that forward was the identity.
        if self._mask is None:
            return grad_output
        return grad_output * self._mask
