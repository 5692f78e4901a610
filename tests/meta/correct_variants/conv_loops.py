"""Conv2d written the slow, obvious way: a loop over output positions, nothing cached between calls."""

from __future__ import annotations

import numpy as np

from .module import Module, uniform_init


def _pair(value):
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        kh, kw = self.kernel_size
        fan_in = in_channels * kh * kw
        self.weight = uniform_init((out_channels, in_channels, kh, kw), fan_in)
        self.bias = uniform_init((out_channels,), fan_in) if bias else None
        self._register(*(p for p in (self.weight, self.bias) if p is not None))

    def _geometry(self, x):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        ho = (padded.shape[2] - kh) // sh + 1
        wo = (padded.shape[3] - kw) // sw + 1
        return padded, ho, wo

    def forward(self, input):
        padded, ho, wo = self._geometry(input)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        w = self.weight.astype(input.dtype)
        out = np.zeros((input.shape[0], w.shape[0], ho, wo), dtype=input.dtype)
        for i in range(ho):
            for j in range(wo):
                patch = padded[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
        if self.bias is not None:
            out += self.bias.astype(input.dtype)[None, :, None, None]
        return out

    def backward(self, input, grad_output):
        padded, ho, wo = self._geometry(input)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        w = self.weight.astype(input.dtype)
        grad_padded = np.zeros_like(padded)
        for i in range(ho):
            for j in range(wo):
                patch = padded[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                g = grad_output[:, :, i, j]
                self._grads[0] += np.einsum("no,nchw->ochw", g, patch)
                grad_padded[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += np.einsum("no,ochw->nchw", g, w)
        if self.bias is not None:
            self._grads[1] += grad_output.sum(axis=(0, 2, 3))
        return grad_padded[:, :, ph : ph + input.shape[2], pw : pw + input.shape[3]].copy()
