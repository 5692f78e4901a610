"""MaxPool2d with loops over windows that splits a window's gradient evenly among its tied maxima
(a valid subgradient, unlike torch's first-of-ties), recomputing everything in backward."""

from __future__ import annotations

import numpy as np

from .conv import _pair
from .module import Module


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = self.kernel_size if stride is None else _pair(stride)
        self.padding = _pair(padding)

    def _windows(self, x):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        ho = (padded.shape[2] - kh) // sh + 1
        wo = (padded.shape[3] - kw) // sw + 1
        for i in range(ho):
            for j in range(wo):
                yield i, j, padded, (slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
        return

    def forward(self, input):
        results = {(i, j): padded[:, :, r, c].max(axis=(2, 3)) for i, j, padded, (r, c) in self._windows(input)}
        ho, wo = max(i for i, _ in results) + 1, max(j for _, j in results) + 1
        out = np.empty(input.shape[:2] + (ho, wo), dtype=input.dtype)
        for (i, j), value in results.items():
            out[:, :, i, j] = value
        return out

    def backward(self, input, grad_output):
        (ph, pw) = self.padding
        grad = None
        for i, j, padded, (r, c) in self._windows(input):
            if grad is None:
                grad = np.zeros(padded.shape, dtype=input.dtype)
            window = padded[:, :, r, c]
            is_max = window == window.max(axis=(2, 3), keepdims=True)
            share = is_max / is_max.sum(axis=(2, 3), keepdims=True)
            grad[:, :, r, c] += share * grad_output[:, :, i, j][:, :, None, None]
        return grad[:, :, ph : ph + input.shape[2], pw : pw + input.shape[3]].copy()
