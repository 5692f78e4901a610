"""2-D average pooling."""

from __future__ import annotations

import numpy as np

from .windows import Pool2d


class AvgPool2d(Pool2d):
    """Mean over (kH, kW) windows of an NCHW input, like torch.nn.AvgPool2d: zero padding, counted in the divisor
    (count_include_pad=True) or not."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def _window_sums(self, padded: np.ndarray) -> np.ndarray:
        (rows, cols), *rest = self._offsets(padded)
        out = padded[..., rows, cols].copy()
        for rows, cols in rest:
            out += padded[..., rows, cols]
        return out

    def _divisor(self, input: np.ndarray) -> np.ndarray | float:
        """Each window's element count: the whole kernel, or only the input elements it covers (one (Ho, Wo) map,
        the same for every sample and channel)."""
        if self.count_include_pad:
            return float(self.kernel_size[0] * self.kernel_size[1])
        return self._window_sums(self._pad(np.ones((1, 1, *input.shape[2:]), dtype=input.dtype)))

    def forward(self, input: np.ndarray) -> np.ndarray:
        return self._window_sums(self._pad(input)) / self._divisor(input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        # Each window hands grad / divisor to every element it covers; overlapping windows add up.
        share = grad_output / self._divisor(input)
        ph, pw = self.padding
        grad = np.zeros((*input.shape[:2], input.shape[2] + 2 * ph, input.shape[3] + 2 * pw), dtype=input.dtype)
        for rows, cols in self._offsets(grad):
            grad[..., rows, cols] += share
        return self._crop(grad, input)
