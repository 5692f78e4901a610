"""homework_modules: the practical_dl homework spelled in snake_case (update_output, update_grad_input,
acc_grad_parameters, get_parameters, ...; Softmax, LogSoftmax, Softplus, a CrossEntropy criterion on logits), solved.

Gradients of the parameters are OVERWRITTEN by each backward (self.grad_W = ...), as in the template; float64
throughout. Grade with --api practical_dl_snake (or --api auto).
"""

import numpy as np


class Module(object):
    """
    Basically, you can think of a module as of a something (black box)
    which can process `input` data and produce `output` data.

        output = module.forward(input)
        grad_input = module.backward(input, grad_output)
    """

    def __init__(self):
        self.output = None
        self.grad_input = None
        self.training = True

    def forward(self, input):
        """Takes an input object, and computes the corresponding output of the module."""
        return self.update_output(input)

    def backward(self, input, grad_output):
        """Performs a backpropagation step through the module, with respect to the given input."""
        self.update_grad_input(input, grad_output)
        self.acc_grad_parameters(input, grad_output)
        return self.grad_input

    def update_output(self, input):
        return self.output

    def update_grad_input(self, input, grad_output):
        return self.grad_input

    def acc_grad_parameters(self, input, grad_output):
        pass

    def zero_grad_parameters(self):
        pass

    def get_parameters(self):
        return []

    def get_grad_parameters(self):
        return []

    def train(self):
        self.training = True

    def evaluate(self):
        self.training = False

    def __repr__(self):
        return "Module"


class Sequential(Module):
    """This class implements a container, which processes `input` data sequentially."""

    def __init__(self):
        super(Sequential, self).__init__()
        self.modules = []

    def add(self, module):
        self.modules.append(module)

    def update_output(self, input):
        self.y = [input]
        for module in self.modules:
            self.y.append(module.forward(self.y[-1]))
        self.output = self.y[-1]
        return self.output

    def backward(self, input, grad_output):
        self.y[0] = input
        for i in range(len(self.modules) - 1, -1, -1):
            grad_output = self.modules[i].backward(self.y[i], grad_output)
        self.grad_input = grad_output
        return self.grad_input

    def zero_grad_parameters(self):
        for module in self.modules:
            module.zero_grad_parameters()

    def get_parameters(self):
        return [x.get_parameters() for x in self.modules]

    def get_grad_parameters(self):
        return [x.get_grad_parameters() for x in self.modules]

    def __repr__(self):
        return "".join([str(x) + '\n' for x in self.modules])

    def __getitem__(self, x):
        return self.modules.__getitem__(x)

    def train(self):
        self.training = True
        for module in self.modules:
            module.train()

    def evaluate(self):
        self.training = False
        for module in self.modules:
            module.evaluate()


# ---------------------------------------------------------------------------------------------------- layers

class Linear(Module):
    """A module which applies a linear transformation: output = input W^T + b, W of shape (n_out, n_in)."""

    def __init__(self, n_in, n_out):
        super(Linear, self).__init__()
        stdv = 1. / np.sqrt(n_in)
        self.W = np.random.uniform(-stdv, stdv, size=(n_out, n_in))
        self.b = np.random.uniform(-stdv, stdv, size=n_out)
        self.grad_W = np.zeros_like(self.W)
        self.grad_b = np.zeros_like(self.b)

    def update_output(self, input):
        self.output = np.dot(input, self.W.T) + self.b
        return self.output

    def update_grad_input(self, input, grad_output):
        self.grad_input = np.dot(grad_output, self.W)
        return self.grad_input

    def acc_grad_parameters(self, input, grad_output):
        self.grad_W = np.dot(grad_output.T, input)
        self.grad_b = np.sum(grad_output, axis=0)

    def zero_grad_parameters(self):
        self.grad_W.fill(0)
        self.grad_b.fill(0)

    def get_parameters(self):
        return [self.W, self.b]

    def get_grad_parameters(self):
        return [self.grad_W, self.grad_b]

    def __repr__(self):
        s = self.W.shape
        return 'Linear %d -> %d' % (s[1], s[0])


class Softmax(Module):
    def __init__(self):
        super(Softmax, self).__init__()

    def update_output(self, input):
        # start with normalization for numerical stability
        self.output = np.subtract(input, input.max(axis=1, keepdims=True))
        self.output = np.exp(self.output)
        self.output = self.output / self.output.sum(axis=1, keepdims=True)
        return self.output

    def update_grad_input(self, input, grad_output):
        s = self.output
        self.grad_input = s * (grad_output - np.sum(grad_output * s, axis=1, keepdims=True))
        return self.grad_input

    def __repr__(self):
        return "Softmax"


class LogSoftmax(Module):
    def __init__(self):
        super(LogSoftmax, self).__init__()

    def update_output(self, input):
        # start with normalization for numerical stability
        shifted = np.subtract(input, input.max(axis=1, keepdims=True))
        self.output = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return self.output

    def update_grad_input(self, input, grad_output):
        softmax = np.exp(self.output)
        self.grad_input = grad_output - softmax * np.sum(grad_output, axis=1, keepdims=True)
        return self.grad_input

    def __repr__(self):
        return "LogSoftmax"


class BatchNormalization(Module):
    EPS = 1e-3

    def __init__(self, alpha=0.):
        super(BatchNormalization, self).__init__()
        self.alpha = alpha
        self.moving_mean = None
        self.moving_variance = None

    def update_output(self, input):
        # use self.EPS please
        if self.training:
            batch_mean = np.mean(input, axis=0)
            batch_variance = np.var(input, axis=0)
            self.output = (input - batch_mean) / np.sqrt(batch_variance + self.EPS)
            if self.moving_mean is None:
                self.moving_mean = np.zeros(input.shape[1])
                self.moving_variance = np.ones(input.shape[1])
            self.moving_mean = self.moving_mean * self.alpha + batch_mean * (1 - self.alpha)
            self.moving_variance = self.moving_variance * self.alpha + batch_variance * (1 - self.alpha)
        else:
            self.output = (input - self.moving_mean) / np.sqrt(self.moving_variance + self.EPS)
        return self.output

    def update_grad_input(self, input, grad_output):
        # the training-mode forward, differentiated (the batch statistics depend on the input)
        n = input.shape[0]
        inv_std = 1. / np.sqrt(np.var(input, axis=0) + self.EPS)
        x_hat = (input - np.mean(input, axis=0)) * inv_std
        self.grad_input = inv_std / n * (n * grad_output - np.sum(grad_output, axis=0)
                                        - x_hat * np.sum(grad_output * x_hat, axis=0))
        return self.grad_input

    def __repr__(self):
        return "BatchNormalization"


class ChannelwiseScaling(Module):
    """
       Implements linear transform of input y = \\gamma * x + \\beta
       where \\gamma, \\beta - learnable vectors of length x.shape[-1]
    """

    def __init__(self, n_out):
        super(ChannelwiseScaling, self).__init__()
        stdv = 1. / np.sqrt(n_out)
        self.gamma = np.random.uniform(-stdv, stdv, size=n_out)
        self.beta = np.random.uniform(-stdv, stdv, size=n_out)
        self.grad_gamma = np.zeros_like(self.gamma)
        self.grad_beta = np.zeros_like(self.beta)

    def update_output(self, input):
        self.output = input * self.gamma + self.beta
        return self.output

    def update_grad_input(self, input, grad_output):
        self.grad_input = grad_output * self.gamma
        return self.grad_input

    def acc_grad_parameters(self, input, grad_output):
        self.grad_beta = np.sum(grad_output, axis=0)
        self.grad_gamma = np.sum(grad_output * input, axis=0)

    def zero_grad_parameters(self):
        self.grad_gamma.fill(0)
        self.grad_beta.fill(0)

    def get_parameters(self):
        return [self.gamma, self.beta]

    def get_grad_parameters(self):
        return [self.grad_gamma, self.grad_beta]

    def __repr__(self):
        return "ChannelwiseScaling"


class Dropout(Module):
    """Zeroes each element with probability p in training, the rest scaled by 1 / (1 - p); identity in evaluation."""

    def __init__(self, p=0.5):
        super(Dropout, self).__init__()
        self.p = p
        self.mask = None

    def update_output(self, input):
        if self.training:
            self.mask = np.random.binomial(1, 1 - self.p, size=input.shape) / (1 - self.p)
            self.output = input * self.mask
        else:
            self.output = input
        return self.output

    def update_grad_input(self, input, grad_output):
        if self.training:
            self.grad_input = grad_output * self.mask
        else:
            self.grad_input = grad_output
        return self.grad_input

    def __repr__(self):
        return "Dropout"


class Conv2d(Module):
    """Cross-correlation of (N, in_channels, H, W) with W (out_channels, in_channels, k, k), plus b (out_channels,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super(Conv2d, self).__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.bias = bias
        stdv = 1. / np.sqrt(in_channels * kernel_size * kernel_size)
        self.W = np.random.uniform(-stdv, stdv, size=(out_channels, in_channels, kernel_size, kernel_size))
        self.grad_W = np.zeros_like(self.W)
        if bias:
            self.b = np.random.uniform(-stdv, stdv, size=out_channels)
            self.grad_b = np.zeros_like(self.b)

    def _pad(self, input):
        p = self.padding
        return np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)))

    def _columns(self, input):
        """im2col: (N, H_out, W_out, in_channels * k * k), each row a patch flattened like a row of W."""
        k, s = self.kernel_size, self.stride
        windows = np.lib.stride_tricks.sliding_window_view(self._pad(input), (k, k), axis=(2, 3))[:, :, ::s, ::s]
        n, c, h_out, w_out = windows.shape[:4]
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, h_out, w_out, c * k * k)

    def update_output(self, input):
        out = np.dot(self._columns(input), self.W.reshape(self.out_channels, -1).T)  # (N, H_out, W_out, out)
        if self.bias:
            out = out + self.b
        self.output = out.transpose(0, 3, 1, 2)
        return self.output

    def update_grad_input(self, input, grad_output):
        k, s, p = self.kernel_size, self.stride, self.padding
        n, _, h_out, w_out = grad_output.shape
        # col2im: every patch's gradient added back where the patch came from
        columns = np.dot(grad_output.transpose(0, 2, 3, 1), self.W.reshape(self.out_channels, -1))
        columns = columns.reshape(n, h_out, w_out, self.in_channels, k, k)
        padded = np.zeros(self._pad(input).shape)
        for i in range(k):
            for j in range(k):
                padded[:, :, i:i + s * h_out:s, j:j + s * w_out:s] += columns[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        self.grad_input = padded[:, :, p:p + input.shape[2], p:p + input.shape[3]]
        return self.grad_input

    def acc_grad_parameters(self, input, grad_output):
        columns = self._columns(input)
        g = grad_output.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)
        self.grad_W = np.dot(g.T, columns.reshape(len(g), -1)).reshape(self.W.shape)
        if self.bias:
            self.grad_b = np.sum(grad_output, axis=(0, 2, 3))

    def zero_grad_parameters(self):
        self.grad_W.fill(0)
        if self.bias:
            self.grad_b.fill(0)

    def get_parameters(self):
        return [self.W, self.b] if self.bias else [self.W]

    def get_grad_parameters(self):
        return [self.grad_W, self.grad_b] if self.bias else [self.grad_W]

    def __repr__(self):
        return "Conv2d %d -> %d, kernel %d, stride %d, padding %d" % (
            self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super(MaxPool2d, self).__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def _windows(self, input):
        """(N, C, H_out, W_out, k * k): every pooling window of the (-inf padded) input, flattened."""
        k, s, p = self.kernel_size, self.stride, self.padding
        padded = np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        return windows.reshape(*windows.shape[:4], k * k)

    def update_output(self, input):
        windows = self._windows(input)
        self.max_indices = np.argmax(windows, axis=-1)  # the first of tied maxima
        self.output = np.max(windows, axis=-1)
        return self.output

    def update_grad_input(self, input, grad_output):
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h_out, w_out = grad_output.shape
        padded = np.zeros((n, c, input.shape[2] + 2 * p, input.shape[3] + 2 * p))
        for i in range(k):
            for j in range(k):
                # each window's gradient goes to its maximum (windows may overlap when stride < kernel_size)
                routed = grad_output * (self.max_indices == i * k + j)
                padded[:, :, i:i + s * h_out:s, j:j + s * w_out:s] += routed
        self.grad_input = padded[:, :, p:p + input.shape[2], p:p + input.shape[3]]
        return self.grad_input

    def __repr__(self):
        return "MaxPool2d, kernel %d, stride %d" % (self.kernel_size, self.stride)


class Flatten(Module):
    def __init__(self):
        super(Flatten, self).__init__()

    def update_output(self, input):
        self.output = input.reshape(len(input), -1)
        return self.output

    def update_grad_input(self, input, grad_output):
        self.grad_input = grad_output.reshape(input.shape)
        return self.grad_input

    def __repr__(self):
        return "Flatten"


# ----------------------------------------------------------------------------------------------- activations

class ReLU(Module):
    def __init__(self):
        super(ReLU, self).__init__()

    def update_output(self, input):
        self.output = np.maximum(input, 0)
        return self.output

    def update_grad_input(self, input, grad_output):
        self.grad_input = np.multiply(grad_output, input > 0)
        return self.grad_input

    def __repr__(self):
        return "ReLU"


class LeakyReLU(Module):
    def __init__(self, slope=0.03):
        super(LeakyReLU, self).__init__()
        self.slope = slope

    def update_output(self, input):
        self.output = np.where(input > 0, input, self.slope * input)
        return self.output

    def update_grad_input(self, input, grad_output):
        self.grad_input = np.where(input > 0, grad_output, self.slope * grad_output)
        return self.grad_input

    def __repr__(self):
        return "LeakyReLU"


class ELU(Module):
    def __init__(self, alpha=1.0):
        super(ELU, self).__init__()
        self.alpha = alpha

    def update_output(self, input):
        self.output = np.where(input > 0, input, self.alpha * (np.exp(np.minimum(input, 0)) - 1))
        return self.output

    def update_grad_input(self, input, grad_output):
        self.grad_input = np.where(input > 0, grad_output, grad_output * self.alpha * np.exp(np.minimum(input, 0)))
        return self.grad_input

    def __repr__(self):
        return "ELU"


class Softplus(Module):
    """log(1 + exp(x)), the identity above 20 (as torch's Softplus): no overflow for large x."""

    def __init__(self):
        super(Softplus, self).__init__()

    def update_output(self, input):
        self.output = np.where(input > 20, input, np.log1p(np.exp(np.minimum(input, 20))))
        return self.output

    def update_grad_input(self, input, grad_output):
        # d/dx log(1 + exp(x)) = sigmoid(x) = exp(x - softplus(x)), with no overflow for any x
        sigmoid = np.exp(np.minimum(input, 20) - np.log1p(np.exp(np.minimum(input, 20))))
        self.grad_input = np.where(input > 20, grad_output, grad_output * sigmoid)
        return self.grad_input

    def __repr__(self):
        return "Softplus"


class Criterion(object):
    def __init__(self):
        self.output = None
        self.grad_input = None

    def forward(self, input, target):
        return self.update_output(input, target)

    def backward(self, input, target):
        return self.update_grad_input(input, target)

    def update_output(self, input, target):
        return self.output

    def update_grad_input(self, input, target):
        return self.grad_input

    def __repr__(self):
        return "Criterion"


class MSECriterion(Criterion):
    def __init__(self):
        super(MSECriterion, self).__init__()

    def update_output(self, input, target):
        self.output = np.sum(np.power(input - target, 2)) / input.shape[0]
        return self.output

    def update_grad_input(self, input, target):
        self.grad_input = (input - target) * 2 / input.shape[0]
        return self.grad_input

    def __repr__(self):
        return "MSECriterion"


class ClassNLLCriterionUnstable(Criterion):
    """input: probabilities (N, C); target: one-hot (N, C)."""

    EPS = 1e-15

    def __init__(self):
        super(ClassNLLCriterionUnstable, self).__init__()

    def update_output(self, input, target):
        # Use this trick to avoid numerical errors
        input_clamp = np.clip(input, self.EPS, 1 - self.EPS)
        self.output = -np.sum(target * np.log(input_clamp)) / input.shape[0]
        return self.output

    def update_grad_input(self, input, target):
        # Use this trick to avoid numerical errors
        input_clamp = np.clip(input, self.EPS, 1 - self.EPS)
        self.grad_input = -target / input_clamp / input.shape[0]
        return self.grad_input

    def __repr__(self):
        return "ClassNLLCriterionUnstable"


class ClassNLLCriterion(Criterion):
    """input: log-probabilities (N, C); target: one-hot (N, C)."""

    def __init__(self):
        super(ClassNLLCriterion, self).__init__()

    def update_output(self, input, target):
        self.output = -np.sum(target * input) / input.shape[0]
        return self.output

    def update_grad_input(self, input, target):
        self.grad_input = -target / input.shape[0]
        return self.grad_input

    def __repr__(self):
        return "ClassNLLCriterion"



class CrossEntropy(Criterion):
    """input: logits (N, C); target: one-hot (N, C). LogSoftmax and ClassNLLCriterion in one, stable."""

    def __init__(self):
        super(CrossEntropy, self).__init__()

    def update_output(self, input, target):
        shifted = input - input.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        self.output = -np.sum(target * log_probs) / input.shape[0]
        return self.output

    def update_grad_input(self, input, target):
        shifted = np.exp(input - input.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
        self.grad_input = (probs - target) / input.shape[0]
        return self.grad_input

    def __repr__(self):
        return "CrossEntropy"

# ----------------------------------------------------------------------------------- optimizers (course-supplied)

def sgd_momentum(variables, gradients, config, state):
    # 'variables' and 'gradients' have complex structure, accumulated_grads will be stored in a simpler one
    state.setdefault('accumulated_grads', {})

    var_index = 0
    for current_layer_vars, current_layer_grads in zip(variables, gradients):
        for current_var, current_grad in zip(current_layer_vars, current_layer_grads):
            old_grad = state['accumulated_grads'].setdefault(var_index, np.zeros_like(current_grad))
            np.add(config['momentum'] * old_grad, config['learning_rate'] * current_grad, out=old_grad)
            current_var -= old_grad
            var_index += 1
