"""modules.py: a tiny PyTorch in NumPy (the "write your own PyTorch" notebook, solved).

    output = module.forward(input)
    grad_input = module.backward(input, grad_output)   # also accumulates the parameters' gradients
"""

import numpy as np


class Module:
    def __init__(self):
        self.output = None
        self.grad_input = None
        self.training = True

    def __call__(self, input):
        return self.forward(input)

    def forward(self, input):
        raise NotImplementedError

    def backward(self, input, grad_output):
        raise NotImplementedError

    def parameters(self):
        return []

    def grad_parameters(self):
        return []

    def zero_grad(self):
        for grad in self.grad_parameters():
            grad.fill(0)

    def train(self):
        self.training = True

    def eval(self):
        self.training = False


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        self.inputs = []

    def forward(self, input):
        self.inputs = []
        for layer in self.layers:
            self.inputs.append(input)
            input = layer.forward(input)
        self.output = input
        return self.output

    def backward(self, input, grad_output):
        for layer, layer_input in zip(reversed(self.layers), reversed(self.inputs)):
            grad_output = layer.backward(layer_input, grad_output)
        self.grad_input = grad_output
        return self.grad_input

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def grad_parameters(self):
        return [g for layer in self.layers for g in layer.grad_parameters()]

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def train(self):
        self.training = True
        for layer in self.layers:
            layer.train()

    def eval(self):
        self.training = False
        for layer in self.layers:
            layer.eval()


class Linear(Module):
    """output = input @ W.T + b, W of shape (dim_out, dim_in)."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        stdv = 1. / np.sqrt(dim_in)
        self.W = np.random.uniform(-stdv, stdv, size=(dim_out, dim_in))
        self.b = np.random.uniform(-stdv, stdv, size=dim_out)
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b)

    def forward(self, input):
        self.output = input @ self.W.T.astype(input.dtype) + self.b.astype(input.dtype)
        return self.output

    def backward(self, input, grad_output):
        self.grad_W += grad_output.T @ input
        self.grad_b += grad_output.sum(axis=0)
        self.grad_input = grad_output @ self.W.astype(grad_output.dtype)
        return self.grad_input

    def parameters(self):
        return [self.W, self.b]

    def grad_parameters(self):
        return [self.grad_W, self.grad_b]


class ReLU(Module):
    def forward(self, input):
        self.output = np.maximum(input, 0)
        return self.output

    def backward(self, input, grad_output):
        self.grad_input = grad_output * (input > 0)
        return self.grad_input


class Sigmoid(Module):
    def forward(self, input):
        self.output = 1 / (1 + np.exp(-input))
        return self.output

    def backward(self, input, grad_output):
        s = self.forward(input)
        self.grad_input = grad_output * s * (1 - s)
        return self.grad_input


class Tanh(Module):
    def forward(self, input):
        self.output = np.tanh(input)
        return self.output

    def backward(self, input, grad_output):
        self.grad_input = grad_output * (1 - np.tanh(input) ** 2)
        return self.grad_input


class LeakyReLU(Module):
    def __init__(self, slope=0.03):
        super().__init__()
        self.slope = slope

    def forward(self, input):
        self.output = np.where(input > 0, input, input * self.slope).astype(input.dtype)
        return self.output

    def backward(self, input, grad_output):
        self.grad_input = np.where(input > 0, grad_output, grad_output * self.slope).astype(grad_output.dtype)
        return self.grad_input


class SoftMax(Module):
    def forward(self, input):
        exps = np.exp(input - input.max(axis=1, keepdims=True))
        self.output = exps / exps.sum(axis=1, keepdims=True)
        return self.output

    def backward(self, input, grad_output):
        s = self.forward(input)
        self.grad_input = s * (grad_output - (grad_output * s).sum(axis=1, keepdims=True))
        return self.grad_input


class Dropout(Module):
    """Zero each element with probability p while training, scale the survivors by 1 / (1 - p)."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p
        self.mask = None

    def forward(self, input):
        if self.training:
            self.mask = ((np.random.rand(*input.shape) >= self.p) / (1.0 - self.p)).astype(input.dtype)
            self.output = input * self.mask
        else:
            self.mask = None
            self.output = input.copy()
        return self.output

    def backward(self, input, grad_output):
        self.grad_input = grad_output * self.mask if self.mask is not None else grad_output.copy()
        return self.grad_input


class Criterion:
    def __call__(self, input, target):
        return self.forward(input, target)

    def forward(self, input, target):
        raise NotImplementedError

    def backward(self, input, target):
        raise NotImplementedError


class MSE(Criterion):
    """Sum of squared errors divided by the batch size."""

    def forward(self, input, target):
        batch_size = input.shape[0]
        self.output = np.sum((input - target) ** 2) / batch_size
        return self.output

    def backward(self, input, target):
        self.grad_input = 2 * (input - target)
        return self.grad_input


class CrossEntropy(Criterion):
    """input: probabilities (the SoftMax output), target: one-hot rows."""

    def __init__(self):
        self.EPS = 1e-15

    def forward(self, input, target):
        input_clamp = np.clip(input, self.EPS, 1 - self.EPS)
        self.output = -np.sum(target * np.log(input_clamp)) / input.shape[0]
        return self.output

    def backward(self, input, target):
        input_clamp = np.clip(input, self.EPS, 1 - self.EPS)
        self.grad_input = (-target / input_clamp / input.shape[0]).astype(input.dtype)
        return self.grad_input
