"""A student's submission in the native style, with five classic bugs (marked BUG). Grade it with

    nn-harness --impl examples/native_buggy/layers.py

Implements Linear, ReLU, Tanh, Sigmoid, Softmax, LogSoftmax, Dropout, Flatten, Sequential, MSELoss, NLLLoss,
CrossEntropyLoss and SGD; everything else is reported "not implemented".
"""

import numpy as np


class Module:
    def __init__(self):
        self.training = True

    def __call__(self, x):
        return self.forward(x)

    def parameters(self):
        return []

    def grad_parameters(self):
        return []

    def zero_grad(self):
        for g in self.grad_parameters():
            g[...] = 0

    def train(self):
        self.training = True

    def eval(self):
        self.training = False


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        bound = 1 / np.sqrt(in_features)
        self.W = np.random.uniform(-bound, bound, (out_features, in_features))
        self.b = np.random.uniform(-bound, bound, out_features) if bias else None
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros(out_features) if bias else None

    def forward(self, x):
        out = x @ self.W.T.astype(x.dtype)
        return out + self.b.astype(x.dtype) if self.b is not None else out

    def backward(self, x, grad_output):
        self.dW += grad_output.T @ x
        if self.b is not None:
            self.db += grad_output[0]  # BUG: the bias gradient must be summed over the batch
        return grad_output @ self.W.astype(x.dtype)

    def parameters(self):
        return [self.W] + ([self.b] if self.b is not None else [])

    def grad_parameters(self):
        return [self.dW] + ([self.db] if self.db is not None else [])


class ReLU(Module):
    def forward(self, x):
        x[x < 0] = 0  # BUG: modifies the caller's array in place
        return x

    def backward(self, x, grad_output):
        return grad_output * (x > 0)


class Tanh(Module):
    def forward(self, x):
        return np.tanh(x)

    def backward(self, x, grad_output):
        return grad_output * (1 - np.tanh(x) ** 2)


class Sigmoid(Module):
    def forward(self, x):
        return 0.5 * (1 + np.tanh(x / 2))  # the same function, without overflow

    def backward(self, x, grad_output):
        s = self.forward(x)
        return grad_output * s * (1 - s)


class Softmax(Module):
    def forward(self, x):
        e = np.exp(x)  # BUG: no max subtracted, so exp overflows for large inputs
        return e / e.sum(axis=1, keepdims=True)

    def backward(self, x, grad_output):
        s = self.forward(x)
        return s * (grad_output - (grad_output * s).sum(axis=1, keepdims=True))


class LogSoftmax(Module):
    def forward(self, x):
        z = x - x.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def backward(self, x, grad_output):
        return grad_output - np.exp(self.forward(x)) * grad_output.sum(axis=1, keepdims=True)


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p
        self.mask = None

    def forward(self, x):
        if not self.training:
            return x
        self.mask = (np.random.random(x.shape) >= self.p).astype(x.dtype)
        return x * self.mask  # BUG: survivors must be scaled by 1/(1-p)

    def backward(self, x, grad_output):
        return grad_output * self.mask if self.training else grad_output


class Flatten(Module):
    def forward(self, x):
        return x.reshape(len(x), -1)

    def backward(self, x, grad_output):
        return grad_output.reshape(x.shape)


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        self.inputs = []
        for layer in self.layers:
            self.inputs.append(x)
            x = layer.forward(x)
        return x

    def backward(self, x, grad_output):
        for layer, inp in zip(reversed(self.layers), reversed(self.inputs)):
            grad_output = layer.backward(inp, grad_output)
        return grad_output

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def grad_parameters(self):
        return [g for layer in self.layers for g in layer.grad_parameters()]

    def train(self):
        super().train()
        for layer in self.layers:
            layer.train()

    def eval(self):
        super().eval()
        for layer in self.layers:
            layer.eval()


class MSELoss:
    def forward(self, x, target):
        return float(np.mean((x - target) ** 2))

    def backward(self, x, target):
        return 2 * (x - target) / len(x)  # BUG: the mean is over all elements, not over the batch


class NLLLoss:
    def forward(self, x, target):
        return float(-x[np.arange(len(x)), target].mean())

    def backward(self, x, target):
        grad = np.zeros_like(x)
        grad[np.arange(len(x)), target] = -1 / len(x)
        return grad


class CrossEntropyLoss:
    def forward(self, x, target):
        return NLLLoss().forward(LogSoftmax().forward(x), target)

    def backward(self, x, target):
        z = np.exp(x - x.max(axis=1, keepdims=True))
        grad = z / z.sum(axis=1, keepdims=True)
        grad[np.arange(len(x)), target] -= 1
        return grad / len(x)


class SGD:
    def __init__(self, module, lr, momentum=0.0, weight_decay=0.0):
        self.module, self.lr, self.momentum, self.weight_decay = module, lr, momentum, weight_decay
        self.velocity = None

    def zero_grad(self):
        self.module.zero_grad()

    def step(self):
        params, grads = self.module.parameters(), self.module.grad_parameters()
        if self.velocity is None:
            self.velocity = [None] * len(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            d = g + self.weight_decay * p
            self.velocity[i] = d.copy() if self.velocity[i] is None else self.momentum * self.velocity[i] + d
            p -= self.lr * self.velocity[i]
