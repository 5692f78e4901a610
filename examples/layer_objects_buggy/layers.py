"""layers.py: the layers of a small NumPy CNN.

Each layer keeps in forward(X) what its backward needs; backward(dout) returns (dX, grads) where grads are the
gradients of self.params for this call, in the same order ([] for a layer without parameters). Training:

    for layer in net:
        X = layer.forward(X)
    loss, dout = softmax_loss(X, y)
    for layer in reversed(net):
        dout, grads = layer.backward(dout)
        for param, grad in zip(layer.params, grads):
            param -= lr * grad
"""

import numpy as np


class Dense:
    def __init__(self, X_dim, n_neurons):
        self.W = np.random.randn(X_dim, n_neurons) / np.sqrt(X_dim / 2.0)
        self.b = np.zeros((1, n_neurons))
        self.params = [self.W, self.b]

    def forward(self, X):
        self.X = X
        return X @ self.W + self.b

    def backward(self, dout):
        dW = self.X.T @ dout / self.X.shape[0]
        db = np.sum(dout, axis=0, keepdims=True)
        dX = dout @ self.W.T
        return dX, [dW, db]


class Conv:
    def __init__(self, X_dim, n_filter, h_filter, w_filter, stride, padding):
        self.d_X, self.h_X, self.w_X = X_dim
        self.n_filter, self.h_filter, self.w_filter = n_filter, h_filter, w_filter
        self.stride, self.padding = stride, padding
        self.W = np.random.randn(n_filter, self.d_X, h_filter, w_filter) / np.sqrt(n_filter / 2.0)
        self.b = np.zeros((n_filter, 1))
        self.params = [self.W, self.b]
        self.h_out = (self.h_X - h_filter + 2 * padding) // stride + 1
        self.w_out = (self.w_X - w_filter + 2 * padding) // stride + 1

    def _window(self, i, j):
        r, c = i * self.stride, j * self.stride
        return slice(r, r + self.h_filter), slice(c, c + self.w_filter)

    def forward(self, X):
        self.X = X
        p = self.padding
        self.X_pad = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)))
        out = np.zeros((X.shape[0], self.n_filter, self.h_out, self.w_out), dtype=np.result_type(X, self.W))
        for i in range(self.h_out):
            for j in range(self.w_out):
                rows, cols = self._window(i, j)
                patch = self.X_pad[:, :, rows, cols]
                out[:, :, i, j] = np.tensordot(patch, self.W, axes=([1, 2, 3], [1, 2, 3]))
        return out + self.b.reshape(1, -1, 1, 1)

    def backward(self, dout):
        dX_pad = np.zeros_like(self.X_pad)
        dW = np.zeros_like(self.W)
        for i in range(self.h_out):
            for j in range(self.w_out):
                rows, cols = self._window(i, j)
                patch = self.X_pad[:, :, rows, cols]
                dW += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
                dX_pad[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], self.W, axes=([1], [0]))
        db = np.sum(dout, axis=(0, 2, 3)).reshape(self.n_filter, 1)
        p = self.padding
        dX = dX_pad[:, :, p:p + self.h_X, p:p + self.w_X]
        return dX, [dW, db]


class Maxpool:
    def __init__(self, X_dim, size, stride):
        self.d_X, self.h_X, self.w_X = X_dim
        self.size, self.stride = size, stride
        self.h_out = (self.h_X - size) // stride + 1
        self.w_out = (self.w_X - size) // stride + 1
        self.params = []

    def forward(self, X):
        self.X = X
        n, d = X.shape[:2]
        out = np.zeros((n, d, self.h_out, self.w_out), dtype=X.dtype)
        self.argmax = np.zeros((n, d, self.h_out, self.w_out), dtype=int)
        for i in range(self.h_out):
            for j in range(self.w_out):
                r, c = i * self.stride, j * self.stride
                window = X[:, :, r:r + self.size, c:c + self.size].reshape(n, d, -1)
                self.argmax[:, :, i, j] = np.argmax(window, axis=2)
                out[:, :, i, j] = np.max(window, axis=2)
        return out

    def backward(self, dout):
        n, d = self.X.shape[:2]
        dX = np.zeros_like(self.X)
        batch, channel = np.arange(n)[:, None], np.arange(d)[None, :]
        for i in range(self.h_out):
            for j in range(self.w_out):
                k = self.argmax[:, :, i, j]
                rows = i * self.stride + k // self.size
                cols = j * self.stride + k % self.size
                dX[batch, channel, rows, cols] += dout[:, :, i, j]
        return dX, []


class ReLU:
    def __init__(self):
        self.params = []

    def forward(self, X):
        self.X = X
        return np.maximum(X, 0)

    def backward(self, dout):
        dX = dout.copy()
        dX[self.X <= 0] = 0
        return dX, []


class Sigmoid:
    def __init__(self):
        self.params = []

    def forward(self, X):
        self.out = 1.0 / (1.0 + np.exp(-X))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out), []


class Tanh:
    def __init__(self):
        self.params = []

    def forward(self, X):
        self.out = np.tanh(X)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out ** 2), []


class Dropout:
    def __init__(self, prob=0.5):
        self.prob = prob  # the probability of KEEPING a unit
        self.params = []

    def forward(self, X, train=True):
        if not train:
            self.mask = None
            return X
        self.mask = ((np.random.rand(*X.shape) < self.prob) / self.prob).astype(X.dtype)
        return X * self.mask

    def backward(self, dout):
        if self.mask is None:
            return dout, []
        return dout * self.mask, []


class Flatten:
    def __init__(self):
        self.params = []

    def forward(self, X):
        self.X_shape = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.X_shape), []
