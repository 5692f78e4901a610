"""Conv2d written with scipy.signal (correlate2d / convolve2d) and a plain ReLU, the native contract: graded with
`allow = ["scipy"]` every check passes; without, only the checks that run Conv2d fail (tests/meta/test_imports.py)."""

import numpy as np
from scipy.signal import convolve2d, correlate2d

rng = np.random.default_rng(0)


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


class Module:
    def __init__(self):
        self.training = True
        self._params, self._grads = [], []

    def parameters(self):
        return list(self._params)

    def grad_parameters(self):
        return list(self._grads)

    def zero_grad(self):
        for g in self._grads:
            g.fill(0)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)


class ReLU(Module):
    def forward(self, input):
        return np.maximum(input, 0)

    def backward(self, input, grad_output):
        return grad_output * (input > 0)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        bound = 1.0 / np.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight = rng.uniform(-bound, bound, (out_channels, in_channels, *self.kernel_size))
        self.bias = rng.uniform(-bound, bound, (out_channels,)) if bias else None
        self._params = [p for p in (self.weight, self.bias) if p is not None]
        self._grads = [np.zeros_like(p) for p in self._params]

    def _padded(self, input):
        (ph, pw) = self.padding
        return np.pad(input, ((0, 0), (0, 0), (ph, ph), (pw, pw)))

    def forward(self, input):
        x, w = self._padded(input), self.weight.astype(input.dtype)
        (sh, sw) = self.stride
        full = np.array([[sum(correlate2d(x[n, c], w[o, c], "valid") for c in range(x.shape[1]))
                          for o in range(w.shape[0])] for n in range(x.shape[0])], dtype=input.dtype)
        out = full[:, :, ::sh, ::sw]
        if self.bias is not None:
            out = out + self.bias.astype(input.dtype)[:, None, None]
        return np.ascontiguousarray(out)

    def backward(self, input, grad_output):
        x, w = self._padded(input), self.weight.astype(input.dtype)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        g = np.zeros((*grad_output.shape[:2], x.shape[2] - kh + 1, x.shape[3] - kw + 1), dtype=input.dtype)
        g[:, :, ::sh, ::sw] = grad_output
        n_, c_, o_ = x.shape[0], x.shape[1], w.shape[0]
        self._grads[0] += np.array([[sum(correlate2d(x[n, c], g[n, o], "valid") for n in range(n_))
                                     for c in range(c_)] for o in range(o_)]).reshape(self.weight.shape)
        if self.bias is not None:
            self._grads[1] += grad_output.sum(axis=(0, 2, 3))
        grad_x = np.array([[sum(convolve2d(g[n, o], w[o, c], "full") for o in range(o_)) for c in range(c_)]
                           for n in range(n_)], dtype=input.dtype)
        return np.ascontiguousarray(grad_x[:, :, ph:grad_x.shape[2] - ph, pw:grad_x.shape[3] - pw])
