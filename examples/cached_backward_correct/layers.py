"""layers.py: each layer remembers its input in forward(x), so backward only needs dout.

    scores = fc2.forward(relu.forward(fc1.forward(X)))
    probs = softmax.forward(scores); loss = softmax.NLLloss(y)
    dout = softmax.backward(y); dout = fc2.backward(dout); ...
    for layer in (fc1, fc2): layer.update(lr); layer.zero_grad()
"""

import numpy as np


class Linear:
    """scores = x @ w + b, with w of shape (n_in, n_out) and an L2 penalty reg * sum(w ** 2)."""

    def __init__(self, n_in, n_out, reg=0.0):
        self.w = np.random.randn(n_in, n_out) * np.sqrt(2.0 / n_in)
        self.b = np.zeros(n_out)
        self.reg = reg
        self.x = None
        self.dW = None
        self.dB = None

    def forward(self, x):
        self.x = x
        return x @ self.w.astype(x.dtype) + self.b.astype(x.dtype)

    def backward(self, dout):
        self.dW = self.x.T @ dout + 2 * self.reg * self.w
        self.dB = np.sum(dout, axis=0)
        return dout @ self.w.T.astype(dout.dtype)

    def update(self, lr):
        self.w -= lr * self.dW
        self.b -= lr * self.dB

    def zero_grad(self):
        self.x = None


class ReLU:
    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * (self.x > 0)

    def update(self, lr):
        pass

    def zero_grad(self):
        self.x = None


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)

    def update(self, lr):
        pass

    def zero_grad(self):
        self.out = None


class Softmax:
    """Probabilities from scores; NLLloss(y) is the mean cross-entropy, backward(y) its gradient w.r.t. scores."""

    def __init__(self):
        self.probs = None
        self.log_probs = None

    def forward(self, scores):
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        self.log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        self.probs = np.exp(self.log_probs)
        return self.probs

    def NLLloss(self, y):
        N = y.shape[0]
        return -np.sum(self.log_probs[np.arange(N), y]) / N

    def backward(self, y):
        N = y.shape[0]
        dscores = self.probs.copy()
        dscores[np.arange(N), y] -= 1
        return dscores / N

    def update(self, lr):
        pass

    def zero_grad(self):
        self.probs = None
