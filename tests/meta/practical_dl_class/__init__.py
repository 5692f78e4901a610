"""A class-like bank of practical_dl homeworks, written the way the current template asks (gradients overwritten,
float64 only): each member is examples/practical_dl_correct/modules.py with a few exact text edits (the Mutant
format of tests/meta/mutants.py, every edit on modules.py). CORRECT members are written differently and must pass
every graded check; BUGGY members hold one realistic student mistake in one layer and must fail exactly the checks
of that layer (and of the rows listed in ALSO_FAILS, built on it).

An edit whose old text no longer occurs exactly once in the example is an error of the bank, never a silent pass.
"""

import re
from pathlib import Path

from tests.meta.mutants import Mutant

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "practical_dl_correct"
FILE = "modules.py"


def class_source(name: str) -> str:
    """The example's whole `class name(...)` block, up to the next top-level statement or comment."""
    text = (EXAMPLE / FILE).read_text()
    found = re.search(rf"^class {name}\(.*?(?=^\S)", text, re.MULTILINE | re.DOTALL)
    if found is None:
        raise LookupError(f"examples/practical_dl_correct/{FILE} has no class {name}")
    return found.group(0).rstrip("\n") + "\n"


def method_source(cls: str, method: str) -> str:
    """One method of one of the example's classes, as an exact text to replace."""
    found = re.search(rf"^    def {method}\(.*?(?=^    \S|\Z)", class_source(cls), re.MULTILINE | re.DOTALL)
    if found is None:
        raise LookupError(f"class {cls} of examples/practical_dl_correct/{FILE} has no method {method}")
    return found.group(0).rstrip("\n") + "\n"


def edits(*pairs: tuple[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((FILE, old, new) for old, new in pairs)


# ------------------------------------------------------------------------------------------ correct, written differently

LOOP_CONV = '''class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super(Conv2d, self).__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.bias = kernel_size, stride, padding, bias
        stdv = 1. / np.sqrt(in_channels * kernel_size * kernel_size)
        self.W = np.random.uniform(-stdv, stdv, size=(out_channels, in_channels, kernel_size, kernel_size))
        self.b = np.random.uniform(-stdv, stdv, size=out_channels) if bias else np.zeros(out_channels)
        self.gradW = np.zeros_like(self.W)
        self.gradb = np.zeros_like(self.b)

    def _padded(self, input):
        p = self.padding
        return np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)), mode='constant')

    def _positions(self, padded):
        k, s = self.kernel_size, self.stride
        for i in range((padded.shape[2] - k) // s + 1):
            for j in range((padded.shape[3] - k) // s + 1):
                yield i, j, slice(i * s, i * s + k), slice(j * s, j * s + k)

    def updateOutput(self, input):
        x = self._padded(input)
        k, s = self.kernel_size, self.stride
        h_out, w_out = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
        self.output = np.zeros((input.shape[0], self.out_channels, h_out, w_out))
        for i, j, rows, cols in self._positions(x):
            self.output[:, :, i, j] = np.tensordot(x[:, :, rows, cols], self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        return self.output

    def updateGradInput(self, input, gradOutput):
        x = self._padded(input)
        grad = np.zeros_like(x)
        for i, j, rows, cols in self._positions(x):
            grad[:, :, rows, cols] += np.tensordot(gradOutput[:, :, i, j], self.W, axes=([1], [0]))
        p = self.padding
        self.gradInput = grad[:, :, p:p + input.shape[2], p:p + input.shape[3]]
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        x = self._padded(input)
        self.gradW = np.zeros_like(self.W)
        for i, j, rows, cols in self._positions(x):
            self.gradW += np.tensordot(gradOutput[:, :, i, j], x[:, :, rows, cols], axes=([0], [0]))
        self.gradb = gradOutput.sum(axis=(0, 2, 3))

    def zeroGradParameters(self):
        self.gradW.fill(0)
        self.gradb.fill(0)

    def getParameters(self):
        return [self.W, self.b] if self.bias else [self.W]

    def getGradParameters(self):
        return [self.gradW, self.gradb] if self.bias else [self.gradW]
'''

LOOP_POOL = '''class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super(MaxPool2d, self).__init__()
        self.kernel_size = kernel_size
        self.stride = stride or kernel_size
        self.padding = padding

    def _windows(self, input):
        k, s, p = self.kernel_size, self.stride, self.padding
        x = np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)), mode='constant', constant_values=-np.inf)
        for i in range((x.shape[2] - k) // s + 1):
            for j in range((x.shape[3] - k) // s + 1):
                yield i, j, x[:, :, i * s:i * s + k, j * s:j * s + k], (slice(i * s, i * s + k), slice(j * s, j * s + k))

    def updateOutput(self, input):
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h, w = input.shape
        self.output = np.zeros((n, c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1))
        for i, j, window, _ in self._windows(input):
            self.output[:, :, i, j] = window.max(axis=(2, 3))
        return self.output

    def updateGradInput(self, input, gradOutput):
        n, c, h, w = input.shape
        p = self.padding
        grad = np.zeros((n, c, h + 2 * p, w + 2 * p))
        for i, j, window, (rows, cols) in self._windows(input):
            flat = window.reshape(n, c, -1)
            first = np.zeros_like(flat)
            first[np.arange(n)[:, None], np.arange(c)[None, :], flat.argmax(axis=2)] = 1  # the first maximum
            grad[:, :, rows, cols] += first.reshape(window.shape) * gradOutput[:, :, i, j][:, :, None, None]
        self.gradInput = grad[:, :, p:p + h, p:p + w]
        return self.gradInput
'''

EVEN_SPLIT_POOL_BACKWARD = '''    def updateGradInput(self, input, gradOutput):
        # tied maxima share their window's gradient evenly (any split of it is a valid subgradient)
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h_out, w_out = gradOutput.shape
        windows = self._windows(input)
        ties = (windows == self.output[..., None]).astype(float)
        share = gradOutput[..., None] * ties / ties.sum(axis=-1, keepdims=True)
        padded = np.zeros((n, c, input.shape[2] + 2 * p, input.shape[3] + 2 * p))
        for i in range(k):
            for j in range(k):
                padded[:, :, i:i + s * h_out:s, j:j + s * w_out:s] += share[..., i * k + j]
        self.gradInput = padded[:, :, p:p + input.shape[2], p:p + input.shape[3]]
        return self.gradInput
'''

JACOBIAN_SOFTMAX_BACKWARD = '''    def updateGradInput(self, input, gradOutput):
        # one Jacobian diag(s) - s s^T per sample
        self.gradInput = np.stack([np.dot(np.diag(s) - np.outer(s, s), g) for s, g in zip(self.output, gradOutput)])
        return self.gradInput
'''

STEPWISE_BATCHNORM_BACKWARD = '''    def updateGradInput(self, input, gradOutput):
        # back through the computational graph, one step at a time
        n = input.shape[0]
        mu = np.mean(input, axis=0)
        var = np.var(input, axis=0)
        xmu = input - mu
        ivar = 1. / np.sqrt(var + self.EPS)
        dvar = np.sum(gradOutput * xmu, axis=0) * -0.5 * (var + self.EPS) ** -1.5
        dmu = np.sum(-gradOutput * ivar, axis=0) + dvar * np.mean(-2. * xmu, axis=0)
        self.gradInput = gradOutput * ivar + dvar * 2. * xmu / n + dmu / n
        return self.gradInput
'''

MASKED_ACTIVATIONS = (
    (method_source("LeakyReLU", "updateOutput"), '''    def updateOutput(self, input):
        self.output = input.copy()
        self.output[input < 0] *= self.slope
        return self.output
'''),
    (method_source("LeakyReLU", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.copy()
        self.gradInput[input < 0] *= self.slope  # slope 1 at x == 0: a valid subgradient too
        return self.gradInput
'''),
    (method_source("ELU", "updateOutput"), '''    def updateOutput(self, input):
        negative = input <= 0
        self.output = input.copy()
        self.output[negative] = self.alpha * (np.exp(input[negative]) - 1)
        return self.output
'''),
    (method_source("ELU", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        negative = input <= 0
        self.gradInput = gradOutput.copy()
        self.gradInput[negative] *= self.alpha * np.exp(input[negative])
        return self.gradInput
'''),
    (method_source("SoftPlus", "updateOutput"), '''    def updateOutput(self, input):
        small = input <= 20
        self.output = input.copy()
        self.output[small] = np.log1p(np.exp(input[small]))
        return self.output
'''),
    (method_source("SoftPlus", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        with np.errstate(over='ignore'):  # exp(-x) overflows to inf for x < -709: 1 / inf is the right 0
            sigmoid = 1. / (1. + np.exp(-input))
        self.gradInput = gradOutput * np.where(input > 20, 1., sigmoid)
        return self.gradInput
'''),
    ("np.random.binomial(1, 1 - self.p, size=input.shape) / (1 - self.p)",
     "(np.random.rand(*input.shape) >= self.p) / (1. - self.p)"),
)

CORRECT = [
    # `layer`: a pytest -m expression of the layers the variant rewrites (as in tests/meta/correct.py)
    Mutant("correct_loops", "Conv2d or MaxPool2d",
           "Conv2d as a loop over output positions (tensordot per position, bias held at 0 when bias=False), "
           "MaxPool2d as a loop over windows (first maximum of each)",
           edits((class_source("Conv2d"), LOOP_CONV), (class_source("MaxPool2d"), LOOP_POOL))),
    Mutant("correct_even_split_jacobians", "MaxPool2d or Softmax or BatchNorm1d",
           "tied maxima share the gradient evenly; SoftMax backward through each sample's Jacobian; "
           "BatchNormalization backward step by step (dvar, dmean)",
           edits((method_source("MaxPool2d", "updateGradInput"), EVEN_SPLIT_POOL_BACKWARD),
                 (method_source("SoftMax", "updateGradInput"), JACOBIAN_SOFTMAX_BACKWARD),
                 (method_source("BatchNormalization", "updateGradInput"), STEPWISE_BATCHNORM_BACKWARD))),
    Mutant("correct_masks", "LeakyReLU or ELU or Softplus or Dropout",
           "boolean masks on copies instead of np.where (LeakyReLU, ELU, SoftPlus); a Dropout mask from np.random.rand",
           edits(*MASKED_ACTIVATIONS)),
]

# ------------------------------------------------------------------------------------------------ one bug each

BUGGY = [
    # `layer`: the registry name whose checks must fail
    Mutant("linear_bias_grad_mean", "Linear", "bias gradient averaged over the batch (np.mean) instead of summed",
           edits(("self.gradb = np.sum(gradOutput, axis=0)", "self.gradb = np.mean(gradOutput, axis=0)"))),
    Mutant("softmax_diagonal_jacobian", "Softmax", "backward keeps only the Jacobian's diagonal: g * s * (1 - s)",
           edits(("self.gradInput = s * (gradOutput - np.sum(gradOutput * s, axis=1, keepdims=True))",
                  "self.gradInput = gradOutput * s * (1 - s)"))),
    Mutant("dropout_not_rescaled", "Dropout", "the kept units are not scaled by 1 / (1 - p) in training",
           edits(("np.random.binomial(1, 1 - self.p, size=input.shape) / (1 - self.p)",
                  "np.random.binomial(1, 1 - self.p, size=input.shape)"))),
    Mutant("maxpool_top_left", "MaxPool2d", "backward sends each window's gradient to its top-left element, not to "
           "its maximum",
           edits(("routed = gradOutput * (self.max_indices == i * k + j)",
                  "routed = gradOutput * (i * k + j == 0)"))),
    Mutant("elu_backward_without_alpha", "ELU", "backward uses exp(x) instead of alpha * exp(x) for x <= 0",
           edits(("gradOutput * self.alpha * np.exp(np.minimum(input, 0))", "gradOutput * np.exp(np.minimum(input, 0))"))),
]

# Verdict rows that a member's bug also fails, because they are built on its layer (none else may fail).
ALSO_FAILS = {
    "linear_bias_grad_mean": ("Sequential",),  # its model chains two Linear layers
}
