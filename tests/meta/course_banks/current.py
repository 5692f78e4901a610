"""The current template, as examples/practical_dl_correct solves it: the 2019-2022 layers with
Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias) and MaxPool2d(kernel_size, stride, padding)
(no template edits: the example is this template already).
"""

from tests.meta.course_banks import IMPORT_TORCH, Source, Year, edits
from tests.meta.mutants import Mutant

SOURCE = Source("practical_dl_correct")

# Conv2d with stride, padding and bias as students write it with scipy: the stride-1 'valid' correlation of each sample
# with each output channel's kernel, every stride-th row and column kept; backward through the gradient spread back on
# the stride-1 grid. The template's Conv2d cell imports (scipy, scipy.signal, skimage) kept.
SCIPY_CONV_METHODS = (
    (SOURCE.method("Conv2d", "updateOutput"), '''    def updateOutput(self, input):
        p, s = self.padding, self.stride
        padded = np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)), mode='constant')
        rows = []
        for n in range(input.shape[0]):
            maps = [sp.signal.correlate(padded[n], self.W[o], mode='valid')[0, ::s, ::s] for o in range(self.out_channels)]
            rows.append(np.stack(maps))
        self.output = np.stack(rows)
        if self.bias:
            self.output += self.b[None, :, None, None]
        return self.output

    def _spread(self, input, gradOutput):
        # gradOutput back on the stride-1 output grid, zeros between the strided positions
        k, p, s = self.kernel_size, self.padding, self.stride
        full = np.zeros(gradOutput.shape[:2] + (input.shape[2] + 2 * p - k + 1, input.shape[3] + 2 * p - k + 1))
        full[:, :, ::s, ::s] = gradOutput
        return full
'''),
    (SOURCE.method("Conv2d", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        k, p = self.kernel_size, self.padding
        full = np.pad(self._spread(input, gradOutput), ((0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)), mode='constant')
        flipped = self.W[:, :, ::-1, ::-1]
        grad = np.zeros((input.shape[0], self.in_channels, input.shape[2] + 2 * p, input.shape[3] + 2 * p))
        for n in range(input.shape[0]):
            for c in range(self.in_channels):
                grad[n, c] = sp.signal.correlate(full[n], flipped[:, c], mode='valid')[0]
        self.gradInput = grad[:, :, p:p + input.shape[2], p:p + input.shape[3]]
        return self.gradInput
'''),
    (SOURCE.method("Conv2d", "accGradParameters"), '''    def accGradParameters(self, input, gradOutput):
        p = self.padding
        padded = np.pad(input, ((0, 0), (0, 0), (p, p), (p, p)), mode='constant')
        full = self._spread(input, gradOutput)
        self.gradW = np.zeros_like(self.W)
        for n in range(input.shape[0]):
            for o in range(self.out_channels):
                self.gradW[o] += sp.signal.correlate(padded[n], full[n, o][None], mode='valid')
        if self.bias:
            self.gradb = np.sum(gradOutput, axis=(0, 2, 3))
'''),
    ("class Conv2d(Module):\n", "import scipy as sp\nimport scipy.signal\nimport skimage\n\n\nclass Conv2d(Module):\n"),
)

# ------------------------------------------------------------------------------------------------------ correct

CORRECT = [
    Mutant("scipy_strided", "Conv2d",
           "the Conv2d cell's imports kept (scipy, scipy.signal, skimage); Conv2d with scipy.signal.correlate(..., "
           "mode='valid') over each sample and output channel, the stride taken by slicing, np.pad, gradients assigned",
           edits(*SCIPY_CONV_METHODS)),
    Mutant("aliases_pool_loops", "MaxPool2d or Dropout",
           "NumPy's old aliases (np.float, np.int); MaxPool2d in loops over the output positions, a hand-made -inf "
           "padding, the argmax kept from forward; Dropout's mask from np.random.uniform(...) < 1 - p",
           edits((SOURCE.cls("MaxPool2d"), '''class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super(MaxPool2d, self).__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def updateOutput(self, input):
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h, w = input.shape
        padded = np.full((n, c, h + 2 * p, w + 2 * p), -np.inf, dtype=np.float)
        padded[:, :, p:p + h, p:p + w] = input
        h_out, w_out = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        self.output = np.zeros((n, c, h_out, w_out), dtype=np.float)
        self.max_indices = np.zeros((n, c, h_out, w_out), dtype=np.int)
        for i in range(h_out):
            for j in range(w_out):
                window = padded[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, c, k * k)
                self.max_indices[:, :, i, j] = np.argmax(window, axis=2)
                self.output[:, :, i, j] = np.max(window, axis=2)
        return self.output

    def updateGradInput(self, input, gradOutput):
        k, s, p = self.kernel_size, self.stride, self.padding
        n, c, h, w = input.shape
        grad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=np.float)
        batch, channel = np.meshgrid(np.arange(n), np.arange(c), indexing='ij')
        for i in range(gradOutput.shape[2]):
            for j in range(gradOutput.shape[3]):
                rows = i * s + self.max_indices[:, :, i, j] // k
                cols = j * s + self.max_indices[:, :, i, j] % k
                grad[batch, channel, rows, cols] += gradOutput[:, :, i, j]
        self.gradInput = grad[:, :, p:p + h, p:p + w]
        return self.gradInput
'''), ("self.mask = np.random.binomial(1, 1 - self.p, size=input.shape) / (1 - self.p)",
       "self.mask = (np.random.uniform(0, 1, size=input.shape) < 1 - self.p).astype(np.float) / (1 - self.p)"))),
    Mutant("torch_import_einsum_naive_logsoftmax", "Softmax or LogSoftmax",
           "an unused `import torch` at the top; SoftMax backward through the batch of Jacobians with np.einsum; "
           "LogSoftMax as log(exp(x) / sum(exp(x))) without the max subtracted (fine for the course's inputs)",
           edits(IMPORT_TORCH, (SOURCE.method("SoftMax", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        s = self.output
        jacobians = s[:, :, None] * (np.eye(s.shape[1])[None] - s[:, None, :])
        self.gradInput = np.einsum('ni,nij->nj', gradOutput, jacobians)
        return self.gradInput
'''), (SOURCE.method("LogSoftMax", "updateOutput"), '''    def updateOutput(self, input):
        self.output = np.log(np.exp(input) / np.sum(np.exp(input), axis=1, keepdims=True))
        return self.output
'''))),
    Mutant("accumulated_grads", "Linear or Conv2d or ELU",
           "Linear's and Conv2d's gradients accumulated with += across calls (as in Torch; the course zeroes them before "
           "each batch); ELU with np.expm1 on a boolean mask",
           edits(("self.gradW = np.dot(gradOutput.T, input)\n        self.gradb = np.sum(gradOutput, axis=0)\n",
                  "self.gradW += np.dot(gradOutput.T, input)\n        self.gradb += np.sum(gradOutput, axis=0)\n"),
                 ("self.gradW = np.dot(g.T, columns.reshape(len(g), -1)).reshape(self.W.shape)",
                  "self.gradW += np.dot(g.T, columns.reshape(len(g), -1)).reshape(self.W.shape)"),
                 ("self.gradb = np.sum(gradOutput, axis=(0, 2, 3))", "self.gradb += np.sum(gradOutput, axis=(0, 2, 3))"),
                 (SOURCE.method("ELU", "updateOutput"), '''    def updateOutput(self, input):
        negative = input < 0
        self.output = input.copy()
        self.output[negative] = self.alpha * np.expm1(input[negative])
        return self.output
'''), (SOURCE.method("ELU", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        negative = input < 0
        self.gradInput = gradOutput.copy()
        self.gradInput[negative] *= self.alpha * np.exp(input[negative])
        return self.gradInput
'''))),
]

# ------------------------------------------------------------------------------------------------------ one bug each

BUGGY = [
    Mutant("conv_stride_ignored_in_backward", "Conv2d", "col2im adds each patch's gradient back with stride 1",
           edits(("padded[:, :, i:i + s * h_out:s, j:j + s * w_out:s] += columns",
                  "padded[:, :, i:i + h_out, j:j + w_out] += columns"))),
    Mutant("maxpool_stride_ignored", "MaxPool2d", "the stride argument ignored: windows always kernel_size apart",
           edits(("self.stride = kernel_size if stride is None else stride", "self.stride = kernel_size"))),
    Mutant("linear_gradW_transposed", "Linear", "gradW as input^T gradOutput: (n_in, n_out), the transpose",
           edits(("self.gradW = np.dot(gradOutput.T, input)", "self.gradW = np.dot(input.T, gradOutput)"))),
    Mutant("softplus_backward_sigmoid_of_minus_x", "Softplus", "derivative 1 / (1 + exp(x)): sigmoid(-x), not sigmoid(x)",
           edits((SOURCE.method("SoftPlus", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput / (1 + np.exp(input))
        return self.gradInput
'''))),
    Mutant("dropout_p_as_keep_probability", "Dropout",
           "keeps each element with probability p (the template says p is the probability to be zeroed), still "
           "scaling by 1 / (1 - p)",
           edits(("np.random.binomial(1, 1 - self.p, size=input.shape)", "np.random.binomial(1, self.p, size=input.shape)"))),
    Mutant("nll_mean_over_all_elements", "NLLLoss", "np.mean over batch and classes: divided by N * C instead of N",
           edits(("self.output = -np.sum(target * input) / input.shape[0]", "self.output = -np.mean(target * input)"),
                 ("self.gradInput = -target / input.shape[0]", "self.gradInput = -target / input.size"))),
]

YEAR = Year(
    "current", "the current template (examples/practical_dl_correct)", SOURCE, CORRECT, BUGGY,
    variants={"Conv2d": "the profile default", "MaxPool2d": "the profile default"},
    imports_torch=frozenset({"torch_import_einsum_naive_logsoftmax"}),
)
