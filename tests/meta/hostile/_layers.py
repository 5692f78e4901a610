"""A correct Linear and ReLU following the native contract (docs/contract.md): the base every member breaks."""

import numpy as np

rng = np.random.default_rng(0)


class Module:
    def __init__(self):
        self.training = True
        self._params, self._grads = [], []

    def __call__(self, input):
        return self.forward(input)

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


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / np.sqrt(in_features)
        self.weight = rng.uniform(-bound, bound, (out_features, in_features))
        self.bias = rng.uniform(-bound, bound, (out_features,)) if bias else None
        self._params = [p for p in (self.weight, self.bias) if p is not None]
        self._grads = [np.zeros_like(p) for p in self._params]

    def forward(self, input):
        out = input @ self.weight.T.astype(input.dtype)
        if self.bias is not None:
            out += self.bias.astype(input.dtype)
        return out

    def backward(self, input, grad_output):
        x = input.reshape(-1, self.in_features)
        g = grad_output.reshape(-1, self.out_features)
        self._grads[0] += g.T @ x
        if self.bias is not None:
            self._grads[1] += g.sum(axis=0)
        return grad_output @ self.weight.astype(input.dtype)


class ReLU(Module):
    def forward(self, input):
        return np.maximum(input, 0)

    def backward(self, input, grad_output):
        return grad_output * (input > 0)
