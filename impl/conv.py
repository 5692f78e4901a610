"""2-D convolution via im2col and a single matrix product."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .module import Module, uniform_init


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class Conv2d(Module):
    """Cross-correlation of an NCHW input with zero padding, like torch.nn.Conv2d."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        kh, kw = self.kernel_size
        fan_in = in_channels * kh * kw
        self.weight = uniform_init((out_channels, in_channels, kh, kw), fan_in)
        self.bias = uniform_init((out_channels,), fan_in) if bias else None
        self._register(*(p for p in (self.weight, self.bias) if p is not None))
        self._cached_input: np.ndarray | None = None
        self._cached_cols: np.ndarray | None = None

    def _columns(self, input: np.ndarray) -> np.ndarray:
        """Column matrix of shape (kH*kW*C, Ho*Wo*N).

        Rows are ordered (kernel offset, channel) and columns (row, column, sample): working in a
        channels-rows-columns-batch layout makes every kernel offset's slice a run of long contiguous
        blocks, which keeps both this copy and the col2im scatter in backward memory-bound.
        """
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        x = np.pad(input.transpose(1, 2, 3, 0), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
        return np.ascontiguousarray(windows.transpose(4, 5, 0, 1, 2, 3)).reshape(kh * kw * self.in_channels, -1)

    def _weight_matrix(self, dtype: np.dtype) -> np.ndarray:
        """The weight as (O, kH*kW*C), matching the row order of the column matrix."""
        return self.weight.transpose(0, 2, 3, 1).reshape(self.out_channels, -1).astype(dtype, copy=False)

    def _output_size(self, input: np.ndarray) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (input.shape[2] + 2 * ph - kh) // sh + 1, (input.shape[3] + 2 * pw - kw) // sw + 1

    def forward(self, input: np.ndarray) -> np.ndarray:
        cols = self._columns(input)
        self._cached_input, self._cached_cols = input, cols
        out = self._weight_matrix(input.dtype) @ cols
        if self.bias is not None:
            out += self.bias.astype(input.dtype, copy=False)[:, None]
        ho, wo = self._output_size(input)
        return np.ascontiguousarray(out.reshape(self.out_channels, ho, wo, -1).transpose(3, 0, 1, 2))

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        # The cached columns are only valid for the very array they were built from.
        cols = self._cached_cols if input is self._cached_input else self._columns(input)
        n, c, h, w = input.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        ho, wo = self._output_size(input)
        g = grad_output.transpose(1, 2, 3, 0).reshape(self.out_channels, -1)
        self._grads[0] += (g @ cols.T).reshape(self.out_channels, kh, kw, c).transpose(0, 3, 1, 2)
        if self.bias is not None:
            self._grads[1] += g.sum(axis=1)

        grad_cols = (self._weight_matrix(input.dtype).T @ g).reshape(kh, kw, c, ho, wo, n)
        # col2im: each kernel offset scatters onto a strided grid; offsets overlap, so accumulate.
        grad_padded = np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=input.dtype)
        for i in range(kh):
            for j in range(kw):
                grad_padded[:, i : i + sh * ho : sh, j : j + sw * wo : sw] += grad_cols[i, j]
        grad_input = grad_padded[:, ph : ph + h, pw : pw + w].transpose(3, 0, 1, 2)
        return np.ascontiguousarray(grad_input)
