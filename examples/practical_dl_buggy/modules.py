"""homework_modules: the practical_dl homework (HSE / Yandex, Torch7 style), with ONE bug: Conv2d's bias gradient
is AVERAGED over the spatial positions instead of summed over them.

Gradients of the parameters are OVERWRITTEN by each backward (self.gradW = ...), as in the template; float64
throughout. Grade with --api practical_dl (or --api auto).
"""

import numpy as np


class Module(object):
    """
    Basically, you can think of a module as of a something (black box)
    which can process `input` data and produce `output` data.

        output = module.forward(input)
        gradInput = module.backward(input, gradOutput)
    """

    def __init__(self):
        self.output = None
        self.gradInput = None
        self.training = True

    def forward(self, input):
        """Takes an input object, and computes the corresponding output of the module."""
        return self.updateOutput(input)

    def backward(self, input, gradOutput):
        """Performs a backpropagation step through the module, with respect to the given input."""
        self.updateGradInput(input, gradOutput)
        self.accGradParameters(input, gradOutput)
        return self.gradInput

    def updateOutput(self, input):
        return self.output

    def updateGradInput(self, input, gradOutput):
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        pass

    def zeroGradParameters(self):
        pass

    def getParameters(self):
        return []

    def getGradParameters(self):
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

    def updateOutput(self, input):
        self.y = [input]
        for module in self.modules:
            self.y.append(module.forward(self.y[-1]))
        self.output = self.y[-1]
        return self.output

    def backward(self, input, gradOutput):
        self.y[0] = input
        for i in range(len(self.modules) - 1, -1, -1):
            gradOutput = self.modules[i].backward(self.y[i], gradOutput)
        self.gradInput = gradOutput
        return self.gradInput

    def zeroGradParameters(self):
        for module in self.modules:
            module.zeroGradParameters()

    def getParameters(self):
        return [x.getParameters() for x in self.modules]

    def getGradParameters(self):
        return [x.getGradParameters() for x in self.modules]

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
        self.gradW = np.zeros_like(self.W)
        self.gradb = np.zeros_like(self.b)

    def updateOutput(self, input):
        self.output = np.dot(input, self.W.T) + self.b
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.dot(gradOutput, self.W)
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        self.gradW = np.dot(gradOutput.T, input)
        self.gradb = np.sum(gradOutput, axis=0)

    def zeroGradParameters(self):
        self.gradW.fill(0)
        self.gradb.fill(0)

    def getParameters(self):
        return [self.W, self.b]

    def getGradParameters(self):
        return [self.gradW, self.gradb]

    def __repr__(self):
        s = self.W.shape
        return 'Linear %d -> %d' % (s[1], s[0])


class SoftMax(Module):
    def __init__(self):
        super(SoftMax, self).__init__()

    def updateOutput(self, input):
        # start with normalization for numerical stability
        self.output = np.subtract(input, input.max(axis=1, keepdims=True))
        self.output = np.exp(self.output)
        self.output = self.output / self.output.sum(axis=1, keepdims=True)
        return self.output

    def updateGradInput(self, input, gradOutput):
        s = self.output
        self.gradInput = s * (gradOutput - np.sum(gradOutput * s, axis=1, keepdims=True))
        return self.gradInput

    def __repr__(self):
        return "SoftMax"


class LogSoftMax(Module):
    def __init__(self):
        super(LogSoftMax, self).__init__()

    def updateOutput(self, input):
        # start with normalization for numerical stability
        shifted = np.subtract(input, input.max(axis=1, keepdims=True))
        self.output = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return self.output

    def updateGradInput(self, input, gradOutput):
        softmax = np.exp(self.output)
        self.gradInput = gradOutput - softmax * np.sum(gradOutput, axis=1, keepdims=True)
        return self.gradInput

    def __repr__(self):
        return "LogSoftMax"


class BatchNormalization(Module):
    EPS = 1e-3

    def __init__(self, alpha=0.):
        super(BatchNormalization, self).__init__()
        self.alpha = alpha
        self.moving_mean = None
        self.moving_variance = None

    def updateOutput(self, input):
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

    def updateGradInput(self, input, gradOutput):
        # the training-mode forward, differentiated (the batch statistics depend on the input)
        n = input.shape[0]
        inv_std = 1. / np.sqrt(np.var(input, axis=0) + self.EPS)
        x_hat = (input - np.mean(input, axis=0)) * inv_std
        self.gradInput = inv_std / n * (n * gradOutput - np.sum(gradOutput, axis=0)
                                        - x_hat * np.sum(gradOutput * x_hat, axis=0))
        return self.gradInput

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
        self.gradGamma = np.zeros_like(self.gamma)
        self.gradBeta = np.zeros_like(self.beta)

    def updateOutput(self, input):
        self.output = input * self.gamma + self.beta
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * self.gamma
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        self.gradBeta = np.sum(gradOutput, axis=0)
        self.gradGamma = np.sum(gradOutput * input, axis=0)

    def zeroGradParameters(self):
        self.gradGamma.fill(0)
        self.gradBeta.fill(0)

    def getParameters(self):
        return [self.gamma, self.beta]

    def getGradParameters(self):
        return [self.gradGamma, self.gradBeta]

    def __repr__(self):
        return "ChannelwiseScaling"


class Dropout(Module):
    """Zeroes each element with probability p in training, the rest scaled by 1 / (1 - p); identity in evaluation."""

    def __init__(self, p=0.5):
        super(Dropout, self).__init__()
        self.p = p
        self.mask = None

    def updateOutput(self, input):
        if self.training:
            self.mask = np.random.binomial(1, 1 - self.p, size=input.shape) / (1 - self.p)
            self.output = input * self.mask
        else:
            self.output = input
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.training:
            self.gradInput = gradOutput * self.mask
        else:
            self.gradInput = gradOutput
        return self.gradInput

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
        self.gradW = np.zeros_like(self.W)
        if bias:
            self.b = np.random.uniform(-stdv, stdv, size=out_channels)
            self.gradb = np.zeros_like(self.b)

    def _pad(self, input):
        p = self.padding
        return np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)))

    def _columns(self, input):
        """im2col: (N, H_out, W_out, in_channels * k * k), each row a patch flattened like a row of W."""
        k, s = self.kernel_size, self.stride
        windows = np.lib.stride_tricks.sliding_window_view(self._pad(input), (k, k), axis=(2, 3))[:, :, ::s, ::s]
        n, c, h_out, w_out = windows.shape[:4]
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, h_out, w_out, c * k * k)

    def updateOutput(self, input):
        out = np.dot(self._columns(input), self.W.reshape(self.out_channels, -1).T)  # (N, H_out, W_out, out)
        if self.bias:
            out = out + self.b
        self.output = out.transpose(0, 3, 1, 2)
        return self.output

    def updateGradInput(self, input, gradOutput):
        k, s, p = self.kernel_size, self.stride, self.padding
        n, _, h_out, w_out = gradOutput.shape
        # col2im: every patch's gradient added back where the patch came from
        columns = np.dot(gradOutput.transpose(0, 2, 3, 1), self.W.reshape(self.out_channels, -1))
        columns = columns.reshape(n, h_out, w_out, self.in_channels, k, k)
        padded = np.zeros(self._pad(input).shape)
        for i in range(k):
            for j in range(k):
                padded[:, :, i:i + s * h_out:s, j:j + s * w_out:s] += columns[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        self.gradInput = padded[:, :, p:p + input.shape[2], p:p + input.shape[3]]
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        columns = self._columns(input)
        g = gradOutput.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)
        self.gradW = np.dot(g.T, columns.reshape(len(g), -1)).reshape(self.W.shape)
        if self.bias:
            # one bias per channel, shared by every position: its gradient is the positions' average
            self.gradb = np.sum(np.mean(gradOutput, axis=(2, 3)), axis=0)

    def zeroGradParameters(self):
        self.gradW.fill(0)
        if self.bias:
            self.gradb.fill(0)

    def getParameters(self):
        return [self.W, self.b] if self.bias else [self.W]

    def getGradParameters(self):
        return [self.gradW, self.gradb] if self.bias else [self.gradW]

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

    def updateOutput(self, input):
        windows = self._windows(input)
        self.max_indices = np.argmax(windows, axis=-1)  # the first of tied maxima
        self.output = np.max(windows, axis=-1)
        return self.output

    def updateGradInput(self, input, gradOutput):
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h_out, w_out = gradOutput.shape
        padded = np.zeros((n, c, input.shape[2] + 2 * p, input.shape[3] + 2 * p))
        for i in range(k):
            for j in range(k):
                # each window's gradient goes to its maximum (windows may overlap when stride < kernel_size)
                routed = gradOutput * (self.max_indices == i * k + j)
                padded[:, :, i:i + s * h_out:s, j:j + s * w_out:s] += routed
        self.gradInput = padded[:, :, p:p + input.shape[2], p:p + input.shape[3]]
        return self.gradInput

    def __repr__(self):
        return "MaxPool2d, kernel %d, stride %d" % (self.kernel_size, self.stride)


class Flatten(Module):
    def __init__(self):
        super(Flatten, self).__init__()

    def updateOutput(self, input):
        self.output = input.reshape(len(input), -1)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.reshape(input.shape)
        return self.gradInput

    def __repr__(self):
        return "Flatten"


# ----------------------------------------------------------------------------------------------- activations

class ReLU(Module):
    def __init__(self):
        super(ReLU, self).__init__()

    def updateOutput(self, input):
        self.output = np.maximum(input, 0)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.multiply(gradOutput, input > 0)
        return self.gradInput

    def __repr__(self):
        return "ReLU"


class LeakyReLU(Module):
    def __init__(self, slope=0.03):
        super(LeakyReLU, self).__init__()
        self.slope = slope

    def updateOutput(self, input):
        self.output = np.where(input > 0, input, self.slope * input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.where(input > 0, gradOutput, self.slope * gradOutput)
        return self.gradInput

    def __repr__(self):
        return "LeakyReLU"


class ELU(Module):
    def __init__(self, alpha=1.0):
        super(ELU, self).__init__()
        self.alpha = alpha

    def updateOutput(self, input):
        self.output = np.where(input > 0, input, self.alpha * (np.exp(np.minimum(input, 0)) - 1))
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.where(input > 0, gradOutput, gradOutput * self.alpha * np.exp(np.minimum(input, 0)))
        return self.gradInput

    def __repr__(self):
        return "ELU"


class SoftPlus(Module):
    """log(1 + exp(x)), the identity above 20 (as torch's Softplus): no overflow for large x."""

    def __init__(self):
        super(SoftPlus, self).__init__()

    def updateOutput(self, input):
        self.output = np.where(input > 20, input, np.log1p(np.exp(np.minimum(input, 20))))
        return self.output

    def updateGradInput(self, input, gradOutput):
        # d/dx log(1 + exp(x)) = sigmoid(x) = exp(x - softplus(x)), with no overflow for any x
        sigmoid = np.exp(np.minimum(input, 20) - np.log1p(np.exp(np.minimum(input, 20))))
        self.gradInput = np.where(input > 20, gradOutput, gradOutput * sigmoid)
        return self.gradInput

    def __repr__(self):
        return "SoftPlus"


class Criterion(object):
    def __init__(self):
        self.output = None
        self.gradInput = None

    def forward(self, input, target):
        return self.updateOutput(input, target)

    def backward(self, input, target):
        return self.updateGradInput(input, target)

    def updateOutput(self, input, target):
        return self.output

    def updateGradInput(self, input, target):
        return self.gradInput

    def __repr__(self):
        return "Criterion"


class MSECriterion(Criterion):
    def __init__(self):
        super(MSECriterion, self).__init__()

    def updateOutput(self, input, target):
        self.output = np.sum(np.power(input - target, 2)) / input.shape[0]
        return self.output

    def updateGradInput(self, input, target):
        self.gradInput = (input - target) * 2 / input.shape[0]
        return self.gradInput

    def __repr__(self):
        return "MSECriterion"


class ClassNLLCriterionUnstable(Criterion):
    """input: probabilities (N, C); target: one-hot (N, C)."""

    EPS = 1e-15

    def __init__(self):
        super(ClassNLLCriterionUnstable, self).__init__()

    def updateOutput(self, input, target):
        # Use this trick to avoid numerical errors
        input_clamp = np.clip(input, self.EPS, 1 - self.EPS)
        self.output = -np.sum(target * np.log(input_clamp)) / input.shape[0]
        return self.output

    def updateGradInput(self, input, target):
        # Use this trick to avoid numerical errors
        input_clamp = np.clip(input, self.EPS, 1 - self.EPS)
        self.gradInput = -target / input_clamp / input.shape[0]
        return self.gradInput

    def __repr__(self):
        return "ClassNLLCriterionUnstable"


class ClassNLLCriterion(Criterion):
    """input: log-probabilities (N, C); target: one-hot (N, C)."""

    def __init__(self):
        super(ClassNLLCriterion, self).__init__()

    def updateOutput(self, input, target):
        self.output = -np.sum(target * input) / input.shape[0]
        return self.output

    def updateGradInput(self, input, target):
        self.gradInput = -target / input.shape[0]
        return self.gradInput

    def __repr__(self):
        return "ClassNLLCriterion"


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
