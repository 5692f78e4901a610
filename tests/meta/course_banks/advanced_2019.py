"""2019-2022, the templates with the advanced track (T3-T5 of the research notes: Practical_DL
homework01/homework_modules.ipynb @0bab61c6 and its forks): the basic layers plus Conv2d(in_channels, out_channels,
kernel_size) with 'same' padding (kernel_size // 2; `assert kernel_size % 2 == 1`), MaxPool2d(kernel_size) with
stride = kernel_size and the template's `assert input_h % self.kernel_size == 0`, and a supplied Flatten. The Conv2d cell
imports scipy, scipy.signal and skimage and asks for scipy.signal.correlate(..., mode='valid').

Built on examples/torch7_correct: its Sigmoid and Tanh removed (not in these templates), ChannelwiseScaling's
accGradParameters as the template supplies it (assigning) and MaxPool2d's updateOutput with the template's asserts.
"""

from tests.meta.course_banks import IMPORT_TORCH, Source, Year, edits
from tests.meta.mutants import Mutant

_raw = Source("torch7_correct")
SOURCE = Source("torch7_correct", (
    *((_raw.cls(name), "") for name in ("Sigmoid", "Tanh")),
    ("        self.gradBeta += np.sum(gradOutput, axis=0)\n        self.gradGamma += np.sum(gradOutput * input, axis=0)\n",
     "        self.gradBeta = np.sum(gradOutput, axis=0)\n        self.gradGamma = np.sum(gradOutput*input, axis=0)\n"),
    ("    def updateOutput(self, input):\n        windows = self._windows(input)\n",
     "    def updateOutput(self, input):\n"
     "        input_h, input_w = input.shape[-2:]\n"
     "        # your may remove these asserts and implement MaxPool2d with padding\n"
     "        assert input_h % self.kernel_size == 0\n"
     "        assert input_w % self.kernel_size == 0\n"
     "        windows = self._windows(input)\n"),
))

CONV_CELL_IMPORTS = "import scipy as sp\nimport scipy.signal\nimport skimage\n\n\n"

# The template's Conv2d filled in as most students did: scipy.signal.correlate(..., mode='valid') in loops over the batch
# and the output (or input) channels, np.pad, float64 outputs, gradients assigned (reset, then summed over the batch).
SCIPY_CONV = CONV_CELL_IMPORTS + '''class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super(Conv2d, self).__init__()
        assert kernel_size % 2 == 1, kernel_size

        stdv = 1./np.sqrt(in_channels)
        self.W = np.random.uniform(-stdv, stdv, size = (out_channels, in_channels, kernel_size, kernel_size))
        self.b = np.random.uniform(-stdv, stdv, size=(out_channels,))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size

        self.gradW = np.zeros_like(self.W)
        self.gradb = np.zeros_like(self.b)

    def updateOutput(self, input):
        pad_size = self.kernel_size // 2
        # 1. zero-pad the input array
        padded = np.pad(input, ((0, 0), (0, 0), (pad_size, pad_size), (pad_size, pad_size)), mode='constant')
        # 2. compute convolution using scipy.signal.correlate(... , mode='valid')
        # 3. add bias value
        self.output = np.zeros((input.shape[0], self.out_channels, input.shape[2], input.shape[3]))
        for n in range(input.shape[0]):
            for o in range(self.out_channels):
                self.output[n, o] = sp.signal.correlate(padded[n], self.W[o], mode='valid')[0] + self.b[o]
        return self.output

    def updateGradInput(self, input, gradOutput):
        pad_size = self.kernel_size // 2
        # 1. zero-pad the gradOutput
        padded = np.pad(gradOutput, ((0, 0), (0, 0), (pad_size, pad_size), (pad_size, pad_size)), mode='constant')
        # 2. compute 'self.gradInput' value using scipy.signal.correlate(... , mode='valid')
        flipped = self.W[:, :, ::-1, ::-1]
        self.gradInput = np.zeros(input.shape)
        for n in range(input.shape[0]):
            for c in range(self.in_channels):
                self.gradInput[n, c] = sp.signal.correlate(padded[n], flipped[:, c], mode='valid')[0]
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        pad_size = self.kernel_size // 2
        padded = np.pad(input, ((0, 0), (0, 0), (pad_size, pad_size), (pad_size, pad_size)), mode='constant')
        # 2. compute 'self.gradW' using scipy.signal.correlate(... , mode='valid')
        self.gradW = np.zeros_like(self.W)
        for n in range(input.shape[0]):
            for o in range(self.out_channels):
                self.gradW[o] += sp.signal.correlate(padded[n], gradOutput[n, o][None], mode='valid')
        # 3. compute 'self.gradb' - formulas like in Linear of ChannelwiseScaling layers
        self.gradb = np.sum(gradOutput, axis=(0, 2, 3))

    def zeroGradParameters(self):
        self.gradW.fill(0)
        self.gradb.fill(0)

    def getParameters(self):
        return [self.W, self.b]

    def getGradParameters(self):
        return [self.gradW, self.gradb]

    def __repr__(self):
        s = self.W.shape
        q = 'Conv2d %d -> %d' %(s[1],s[0])
        return q
'''

# ------------------------------------------------------------------------------------------------------ correct

CORRECT = [
    Mutant("scipy_loops", "Conv2d",
           "the Conv2d cell's imports kept (scipy, scipy.signal, skimage); scipy.signal.correlate(..., mode='valid') "
           "over each sample and output channel, np.pad, float64 outputs, gradients assigned",
           edits((SOURCE.cls("Conv2d"), SCIPY_CONV))),
    Mutant("aliases_manual_pad_loops", "Linear or Conv2d or MaxPool2d",
           "NumPy's old aliases (np.float, np.int); Linear gradients assigned; Conv2d over the kernel's offsets with a "
           "hand-made zero padding (padded[:, :, p:-p, p:-p] = input: right for the odd kernels the template asserts, "
           "broken for k = 1), gradW assigned slice by slice; MaxPool2d in loops over the windows, the argmax's "
           "position kept from forward (self.max_indices), the template's asserts kept",
           edits((SOURCE.method("Linear", "accGradParameters"), '''    def accGradParameters(self, input, gradOutput):
        self.gradW = gradOutput.T @ input
        self.gradb = gradOutput.sum(axis=0)
'''), (SOURCE.method("Conv2d", "updateOutput"), '''    def updateOutput(self, input):
        k, p = self.kernel_size, self.kernel_size // 2
        n, c, h, w = input.shape
        padded = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=np.float)
        padded[:, :, p:-p, p:-p] = input
        self.output = np.zeros((n, self.out_channels, h, w), dtype=np.float)
        for i in range(k):
            for j in range(k):
                self.output += np.einsum('nchw,oc->nohw', padded[:, :, i:i + h, j:j + w], self.W[:, :, i, j])
        self.output += self.b[None, :, None, None]
        return self.output
'''), (SOURCE.method("Conv2d", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        k, p = self.kernel_size, self.kernel_size // 2
        n, c, h, w = input.shape
        grad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=np.float)
        for i in range(k):
            for j in range(k):
                grad[:, :, i:i + h, j:j + w] += np.einsum('nohw,oc->nchw', gradOutput, self.W[:, :, i, j])
        self.gradInput = grad[:, :, p:-p, p:-p]
        return self.gradInput
'''), (SOURCE.method("Conv2d", "accGradParameters"), '''    def accGradParameters(self, input, gradOutput):
        k, p = self.kernel_size, self.kernel_size // 2
        n, c, h, w = input.shape
        padded = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=np.float)
        padded[:, :, p:-p, p:-p] = input
        for i in range(k):
            for j in range(k):
                self.gradW[:, :, i, j] = np.einsum('nohw,nchw->oc', gradOutput, padded[:, :, i:i + h, j:j + w])
        self.gradb = gradOutput.sum(axis=(0, 2, 3))
'''), (SOURCE.method("MaxPool2d", "updateOutput"), '''    def updateOutput(self, input):
        input_h, input_w = input.shape[-2:]
        # your may remove these asserts and implement MaxPool2d with padding
        assert input_h % self.kernel_size == 0
        assert input_w % self.kernel_size == 0
        k = self.kernel_size
        n, c = input.shape[:2]
        self.output = np.zeros((n, c, input_h // k, input_w // k), dtype=np.float)
        self.max_indices = np.zeros((n, c, input_h // k, input_w // k, 2), dtype=np.int)
        for i in range(input_h // k):
            for j in range(input_w // k):
                window = input[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k].reshape(n, c, -1)
                best = np.argmax(window, axis=2)
                self.output[:, :, i, j] = np.max(window, axis=2)
                self.max_indices[:, :, i, j, 0] = i * k + best // k
                self.max_indices[:, :, i, j, 1] = j * k + best % k
        return self.output
'''), (SOURCE.method("MaxPool2d", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.zeros(input.shape, dtype=np.float)
        n, c, h_out, w_out = gradOutput.shape
        for b in range(n):
            for ch in range(c):
                for i in range(h_out):
                    for j in range(w_out):
                        y, x = self.max_indices[b, ch, i, j]
                        self.gradInput[b, ch, y, x] += gradOutput[b, ch, i, j]
        return self.gradInput
'''))),
    Mutant("torch_import_reshape_pool", "MaxPool2d or Dropout",
           "an unused `import torch` at the top; MaxPool2d as the template's text suggests (reshape to "
           "[n, c, h / k, k, w / k, k], swap two axes, max), its backward to every element equal to its window's maximum "
           "(all tied maxima: the course's inputs have none); Dropout's mask from np.logical_not(np.random.binomial(1, "
           "p)), backward without an evaluation branch (the course never calls it in evaluation)",
           edits(IMPORT_TORCH, (SOURCE.method("MaxPool2d", "updateOutput"), '''    def updateOutput(self, input):
        input_h, input_w = input.shape[-2:]
        # your may remove these asserts and implement MaxPool2d with padding
        assert input_h % self.kernel_size == 0
        assert input_w % self.kernel_size == 0
        k = self.kernel_size
        n, c = input.shape[:2]
        blocks = input.reshape(n, c, input_h // k, k, input_w // k, k).swapaxes(3, 4)
        self.output = blocks.max(axis=(4, 5))
        return self.output
'''), (SOURCE.method("MaxPool2d", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        k = self.kernel_size
        n, c, h, w = input.shape
        blocks = input.reshape(n, c, h // k, k, w // k, k).swapaxes(3, 4)
        mask = blocks == self.output[:, :, :, :, None, None]
        grad = mask * gradOutput[:, :, :, :, None, None]
        self.gradInput = grad.swapaxes(3, 4).reshape(n, c, h, w)
        return self.gradInput
'''), (SOURCE.method("Dropout", "updateOutput"), '''    def updateOutput(self, input):
        if self.training:
            self.mask = np.logical_not(np.random.binomial(1, self.p, size=input.shape)) / (1. - self.p)
            self.output = np.multiply(input, self.mask)
        else:
            self.output = input
        return self.output
'''), (SOURCE.method("Dropout", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.multiply(gradOutput, self.mask)
        return self.gradInput
'''))),
    Mutant("correlate2d_accumulated", "Conv2d or LogSoftmax or Softplus",
           "gradients accumulated with += across calls (Conv2d's too), as in Torch; Conv2d with "
           "scipy.signal.correlate2d over every (sample, output, input) channel triple, the kernel turned with "
           "np.rot90 for gradInput; LogSoftMax with scipy.special.logsumexp; SoftPlus with np.logaddexp",
           edits(("import numpy as np\n",
                  "import numpy as np\nfrom scipy.signal import correlate2d\nfrom scipy.special import logsumexp\n"),
                 (SOURCE.method("Conv2d", "updateOutput"), '''    def updateOutput(self, input):
        pad = self.kernel_size // 2
        x = np.pad(input, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        self.output = np.zeros((input.shape[0], self.out_channels) + input.shape[2:])
        for n in range(input.shape[0]):
            for o in range(self.out_channels):
                for c in range(self.in_channels):
                    self.output[n, o] += correlate2d(x[n, c], self.W[o, c], mode='valid')
                self.output[n, o] += self.b[o]
        return self.output
'''), (SOURCE.method("Conv2d", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        pad = self.kernel_size // 2
        g = np.pad(gradOutput, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        self.gradInput = np.zeros(input.shape)
        for n in range(input.shape[0]):
            for c in range(self.in_channels):
                for o in range(self.out_channels):
                    self.gradInput[n, c] += correlate2d(g[n, o], np.rot90(self.W[o, c], 2), mode='valid')
        return self.gradInput
'''), (SOURCE.method("Conv2d", "accGradParameters"), '''    def accGradParameters(self, input, gradOutput):
        pad = self.kernel_size // 2
        x = np.pad(input, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        for n in range(input.shape[0]):
            for o in range(self.out_channels):
                for c in range(self.in_channels):
                    self.gradW[o, c] += correlate2d(x[n, c], gradOutput[n, o], mode='valid')
        self.gradb += gradOutput.sum(axis=(0, 2, 3))
'''), (SOURCE.method("LogSoftMax", "updateOutput"), '''    def updateOutput(self, input):
        self.output = input - logsumexp(input, axis=1, keepdims=True)
        return self.output
'''), (SOURCE.cls("SoftPlus"), '''class SoftPlus(Module):
    def updateOutput(self, input):
        self.output = np.logaddexp(0, input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * np.exp(input - np.logaddexp(0, input))
        return self.gradInput
'''))),
]

# ------------------------------------------------------------------------------------------------------ one bug each

BUGGY = [
    Mutant("conv_scipy_convolve", "Conv2d",
           "forward with scipy.signal.convolve instead of correlate (the template says not to): the kernel flipped "
           "(along its channels too); backward and gradients right",
           edits((SOURCE.cls("Conv2d"), SCIPY_CONV.replace(
               "sp.signal.correlate(padded[n], self.W[o], mode='valid')",
               "sp.signal.convolve(padded[n], self.W[o], mode='valid')")))),
    Mutant("maxpool_backward_reshape_without_transpose", "MaxPool2d",
           "backward reshapes the routed (windows, k, k) gradient straight to (h, w), without swapping the axes back",
           edits(("(routed.reshape(n, c, oh, ow, k, k).transpose(0, 1, 2, 4, 3, 5)\n"
                  "                                                   .reshape(n, c, oh * k, ow * k))",
                  "routed.reshape(n, c, oh * k, ow * k)"))),
    Mutant("linear_gradb_wrong_axis", "Linear", "gradb summed over the wrong axis (axis=1), assigned",
           edits(("        self.gradb += gradOutput.sum(axis=0)\n", "        self.gradb = np.sum(gradOutput, axis=1)\n"))),
    Mutant("dropout_new_mask_in_backward", "Dropout", "backward draws a fresh mask instead of the forward's",
           edits(("self.gradInput = gradOutput * self.mask if self.mask is not None else gradOutput.copy()",
                  "self.gradInput = gradOutput * ((np.random.rand(*input.shape) >= self.p) / (1.0 - self.p)) "
                  "if self.mask is not None else gradOutput.copy()"))),
    Mutant("batchnorm_eps_outside_sqrt", "BatchNorm1d", "sqrt(var) + EPS instead of sqrt(var + EPS), forward and backward",
           edits(("self.output = (input - mean) / np.sqrt(var + self.EPS)",
                  "self.output = (input - mean) / (np.sqrt(var) + self.EPS)"),
                 ("inv_std = 1 / np.sqrt(var + self.EPS)", "inv_std = 1 / (np.sqrt(var) + self.EPS)"))),
    Mutant("leakyrelu_backward_drops_gradient", "LeakyReLU",
           "backward gives the slope itself, not slope * gradOutput, for negative inputs",
           edits(("self.gradInput = np.where(input > 0, gradOutput, gradOutput * self.slope)",
                  "self.gradInput = np.where(input > 0, gradOutput, self.slope)"))),
]

YEAR = Year(
    "advanced_2019", "T3-T5 (2019-2022)", SOURCE, CORRECT, BUGGY,
    variants={"Conv2d": "same_padding", "MaxPool2d": "non_overlapping"},
    imports_torch=frozenset({"torch_import_reshape_pool"}),
)
