"""layers.py: every layer caches its input in forward(x) and returns d_x from backward(d_out). Parameters are
dicts {"val": value, "grad": gradient}; backward overwrites each "grad" with the gradient of that call.

    logits = x
    for layer in model:
        logits = layer.forward(logits)
    loss = loss_fn.forward(logits, labels)
    d = loss_fn.backward()
    for layer in reversed(model):
        d = layer.backward(d)
    for layer in model:
        for param in layer.params():
            param["val"] -= lr * param["grad"]
"""

import numpy as np


class Layer:
    training = True

    def params(self):
        return []

    def forward(self, x):
        raise NotImplementedError

    def backward(self, d_out):
        raise NotImplementedError


class Dense(Layer):
    """x @ W + b; W (n_in, n_out) and b (1, n_out) are created at the first forward, when n_in is known."""

    def __init__(self, n_out):
        self.n_out = n_out
        self.W = None
        self.b = None

    def _init_params(self, n_in):
        self.W = {"val": np.random.randn(n_in, self.n_out) * np.sqrt(2.0 / n_in), "grad": np.zeros((n_in, self.n_out))}
        self.b = {"val": np.zeros((1, self.n_out)), "grad": np.zeros((1, self.n_out))}

    def params(self):
        return [self.W, self.b]

    def forward(self, x):
        if self.W is None:
            self._init_params(x.shape[1])
        self.x = x
        return x @ self.W["val"] + self.b["val"]

    def backward(self, d_out):
        self.W["grad"] = self.x.T @ d_out
        self.b["grad"] = d_out
        return d_out @ self.W["val"].T


class ReLU(Layer):
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, d_out):
        return d_out * (self.x > 0)


class LeakyReLU(Layer):
    def __init__(self, alpha=0.01):
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * x)

    def backward(self, d_out):
        return np.where(self.x > 0, d_out, self.alpha * d_out)


class Sigmoid(Layer):
    def forward(self, x):
        self.y = 1 / (1 + np.exp(-x))
        return self.y

    def backward(self, d_out):
        return d_out * self.y * (1 - self.y)


class Tanh(Layer):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, d_out):
        return d_out * (1 - self.y ** 2)


class Dropout(Layer):
    """Inverted dropout: p is the probability of dropping a unit."""

    def __init__(self, p=0.5):
        self.p = p
        self.mask = None

    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = None
            return x
        self.mask = (np.random.rand(*x.shape) >= self.p).astype(x.dtype) / (1 - self.p)
        return x * self.mask

    def backward(self, d_out):
        return d_out if self.mask is None else d_out * self.mask


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) for integer labels; backward() gives d loss / d logits."""

    def forward(self, logits, labels):
        shifted = logits - logits.max(axis=1, keepdims=True)
        self.log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.labels = labels
        return -np.mean(self.log_probs[np.arange(len(labels)), labels])

    def backward(self):
        n = len(self.labels)
        d_logits = np.exp(self.log_probs)
        d_logits[np.arange(n), self.labels] -= 1
        return d_logits / n
