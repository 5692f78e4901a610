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
        self.gradInput = (input - target) * 2 / input.shape[0]
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
