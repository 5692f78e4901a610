"""2-D max pooling."""

from __future__ import annotations

import numpy as np

from .windows import Pool2d


class MaxPool2d(Pool2d):
    """Max over (kH, kW) windows of an NCHW input, like torch.nn.MaxPool2d (padding acts as -inf)."""

    _fill = -np.inf  # padding never wins a window's max

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self._cached_input: np.ndarray | None = None
        self._cached_output: np.ndarray | None = None

    def _max(self, padded: np.ndarray) -> np.ndarray:
        (rows, cols), *rest = self._offsets(padded)
        out = padded[..., rows, cols].copy()
        for rows, cols in rest:
            np.maximum(out, padded[..., rows, cols], out=out)
        return out

    def forward(self, input: np.ndarray) -> np.ndarray:
        out = self._max(self._pad(input))
        # Keep a private copy: backward compares against it, and the caller owns the returned array.
        self._cached_input, self._cached_output = input, out
        return out.copy()

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        padded = self._pad(input)
        out = self._cached_output if input is self._cached_input else self._max(padded)
        grad = np.zeros(padded.shape, dtype=input.dtype)
        # Visiting offsets in row-major order and retiring a window once it has routed its gradient
        # sends each window's gradient to its first maximum only, as torch does.
        unrouted = np.ones(out.shape, dtype=bool)
        for rows, cols in self._offsets(padded):
            hit = padded[..., rows, cols] == out
            hit &= unrouted
            unrouted ^= hit
            grad[..., rows, cols] += grad_output * hit
        return self._crop(grad, input)
