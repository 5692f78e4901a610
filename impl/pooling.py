"""2-D max pooling."""

from __future__ import annotations

import numpy as np

from .conv import _pair
from .module import Module


class MaxPool2d(Module):
    """Max over (kH, kW) windows of an NCHW input, like torch.nn.MaxPool2d (padding acts as -inf).

    Both passes loop over the kH*kW offsets inside a window: offset (i, j) of every window is one
    strided slice of the input, so each step is a whole-array operation and overlapping windows
    (stride < kernel) need no special case.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = self.kernel_size if stride is None else _pair(stride)
        self.padding = _pair(padding)
        self._cached_input: np.ndarray | None = None
        self._cached_output: np.ndarray | None = None

    def _pad(self, input: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        if not (ph or pw):
            return input
        return np.pad(input, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)

    def _offsets(self, padded: np.ndarray) -> list[tuple[slice, slice]]:
        """For each window offset (i, j) in row-major order, the slices that pick it in every window."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ho = (padded.shape[2] - kh) // sh + 1
        wo = (padded.shape[3] - kw) // sw + 1
        return [(slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw)) for i in range(kh) for j in range(kw)]

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
        ph, pw = self.padding
        return grad[:, :, ph : ph + input.shape[2], pw : pw + input.shape[3]]
