"""Pooling windows: what MaxPool2d and AvgPool2d share (arguments, padding, the window offsets)."""

from __future__ import annotations

import numpy as np

from .conv import _pair
from .module import Module


class Pool2d(Module):
    """Pooling over (kH, kW) windows of an NCHW input, in floor mode.

    Both passes loop over the kH*kW offsets inside a window: offset (i, j) of every window is one
    strided slice of the input, so each step is a whole-array operation and overlapping windows
    (stride < kernel) need no special case.
    """

    _fill = 0.0  # what padding reads as

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

    def _pad(self, input: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        if not (ph or pw):
            return input
        return np.pad(input, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=self._fill)

    def _crop(self, padded: np.ndarray, input: np.ndarray) -> np.ndarray:
        """The part of a padded-size array that lies over the input."""
        ph, pw = self.padding
        return padded[:, :, ph : ph + input.shape[2], pw : pw + input.shape[3]]

    def _offsets(self, padded: np.ndarray) -> list[tuple[slice, slice]]:
        """For each window offset (i, j) in row-major order, the slices that pick it in every window."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ho = (padded.shape[2] - kh) // sh + 1
        wo = (padded.shape[3] - kw) // sw + 1
        return [(slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw)) for i in range(kh) for j in range(kw)]
