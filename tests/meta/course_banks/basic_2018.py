"""2018, the basic template (T1/T2 of the research notes: Practical_DL homework01/homework_modules.ipynb @6330ec50 and
_under_construction @70ac4297): Linear, SoftMax, LogSoftMax, BatchNormalization + the supplied ChannelwiseScaling,
Dropout, LeakyReLU, ELU, SoftPlus, ClassNLLCriterionUnstable, ClassNLLCriterion; no Conv2d, MaxPool2d, Flatten nor
optimizers.

Built on examples/torch7_correct (the older templates' API): its Sigmoid, Tanh, Flatten, Conv2d and MaxPool2d removed
(not in these templates), and ChannelwiseScaling's accGradParameters as the template supplies it (assigning).
"""

from tests.meta.course_banks import IMPORT_TORCH, Source, Year, edits
from tests.meta.mutants import Mutant

_raw = Source("torch7_correct")
SOURCE = Source("torch7_correct", (
    *((_raw.cls(name), "") for name in ("Sigmoid", "Tanh", "Flatten", "Conv2d", "MaxPool2d")),
    ("        self.gradBeta += np.sum(gradOutput, axis=0)\n        self.gradGamma += np.sum(gradOutput * input, axis=0)\n",
     "        self.gradBeta = np.sum(gradOutput, axis=0)\n        self.gradGamma = np.sum(gradOutput*input, axis=0)\n"),
))

# ------------------------------------------------------------------------------------------------------ correct

CORRECT = [
    Mutant("assigned_float64", "Linear or BatchNorm1d",
           "Linear as the template hints: np.dot in float64 whatever the input's dtype, gradients ASSIGNED "
           "(self.gradW = ...); BatchNormalization's moving statistics started from the first batch's",
           edits((SOURCE.method("Linear", "updateOutput"), '''    def updateOutput(self, input):
        self.output = np.dot(input, self.W.T) + self.b
        return self.output
'''), (SOURCE.method("Linear", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.dot(gradOutput, self.W)
        return self.gradInput
'''), (SOURCE.method("Linear", "accGradParameters"), '''    def accGradParameters(self, input, gradOutput):
        self.gradW = np.dot(gradOutput.T, input)
        self.gradb = np.sum(gradOutput, axis=0)
'''), ("                self.moving_mean, self.moving_variance = np.zeros(input.shape[1]), np.ones(input.shape[1])\n",
       "                self.moving_mean, self.moving_variance = mean, var  # start from the first batch\n"))),
    Mutant("aliases_naive_softplus", "Dropout or Softplus or NLLLoss",
           "NumPy's old aliases (np.float, np.int); a Dropout mask from np.random.choice scaled in forward and in "
           "backward; SoftPlus as written, log(1 + exp(x)); ClassNLLCriterion by picking each row's target entry",
           edits((SOURCE.method("Dropout", "updateOutput"), '''    def updateOutput(self, input):
        if self.training:
            self.mask = np.random.choice([0, 1], size=input.shape, p=[self.p, 1 - self.p]).astype(np.float)
            self.output = input * self.mask / (1 - self.p)
        else:
            self.output = input
        return self.output
'''), (SOURCE.method("Dropout", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        if self.training:
            self.gradInput = gradOutput * self.mask / (1 - self.p)
        else:
            self.gradInput = gradOutput
        return self.gradInput
'''), (SOURCE.cls("SoftPlus"), '''class SoftPlus(Module):
    def updateOutput(self, input):
        self.output = np.log(1 + np.exp(input))
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * np.exp(input) / (1 + np.exp(input))
        return self.gradInput
'''), (SOURCE.cls("ClassNLLCriterion"), '''class ClassNLLCriterion(Criterion):
    def updateOutput(self, input, target):
        labels = np.argmax(target, axis=1).astype(np.int)
        self.output = -np.mean(input[np.arange(input.shape[0]), labels])
        return self.output

    def updateGradInput(self, input, target):
        labels = np.argmax(target, axis=1).astype(np.int)
        self.gradInput = np.zeros_like(input)
        self.gradInput[np.arange(input.shape[0]), labels] = -1. / input.shape[0]
        return self.gradInput
'''))),
    Mutant("torch_import_jacobian", "Softmax or LeakyReLU",
           "an unused `import torch` at the top; SoftMax backward through each sample's Jacobian in a loop, from the "
           "stored output; LeakyReLU as max(x, 0) + slope * min(x, 0)",
           edits(IMPORT_TORCH, (SOURCE.method("SoftMax", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.zeros_like(gradOutput)
        for i in range(input.shape[0]):
            s = self.output[i]
            jacobian = np.diag(s) - np.outer(s, s)
            self.gradInput[i] = np.dot(jacobian, gradOutput[i])
        return self.gradInput
'''), (SOURCE.method("LeakyReLU", "updateOutput"), '''    def updateOutput(self, input):
        self.output = np.maximum(input, 0) + self.slope * np.minimum(input, 0)
        return self.output
'''), (SOURCE.method("LeakyReLU", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * ((input > 0) + self.slope * (input <= 0))
        return self.gradInput
'''))),
    Mutant("stepwise_accumulated", "BatchNorm1d or ELU or LogSoftmax",
           "gradients accumulated with += (as in Torch); BatchNormalization backward step by step (x_hat, variance, "
           "mean); ELU with exp of the raw input and its backward from the stored output; LogSoftMax backward from the "
           "stored output",
           edits((SOURCE.method("BatchNormalization", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        # back through the forward pass one step at a time: x_hat, then the variance, then the mean
        n = input.shape[0]
        mu = input.mean(axis=0)
        xc = input - mu
        var = (xc ** 2).mean(axis=0)
        std = np.sqrt(var + self.EPS)
        dvar = np.sum(gradOutput * xc, axis=0) * -0.5 / std ** 3
        dmu = -np.sum(gradOutput, axis=0) / std - 2. * dvar * xc.mean(axis=0)
        self.gradInput = gradOutput / std + dvar * 2. * xc / n + dmu / n
        return self.gradInput
'''), (SOURCE.method("ELU", "updateOutput"), '''    def updateOutput(self, input):
        self.output = np.where(input > 0, input, self.alpha * (np.exp(input) - 1))
        return self.output
'''), (SOURCE.method("ELU", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.where(input > 0, gradOutput, gradOutput * (self.output + self.alpha))
        return self.gradInput
'''), (SOURCE.method("LogSoftMax", "updateGradInput"), '''    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput - np.exp(self.output) * np.sum(gradOutput, axis=1, keepdims=True)
        return self.gradInput
'''))),
]

# ------------------------------------------------------------------------------------------------------ one bug each

BUGGY = [
    Mutant("linear_grads_averaged", "Linear", "gradW and gradb divided by the batch size (the criterion already is)",
           edits((SOURCE.method("Linear", "accGradParameters"), '''    def accGradParameters(self, input, gradOutput):
        self.gradW = np.dot(gradOutput.T, input) / input.shape[0]
        self.gradb = np.mean(gradOutput, axis=0)
'''))),
    Mutant("softmax_diagonal_jacobian", "Softmax", "backward keeps only the Jacobian's diagonal: g * s * (1 - s)",
           edits(("self.gradInput = s * (gradOutput - (gradOutput * s).sum(axis=1, keepdims=True))",
                  "self.gradInput = gradOutput * s * (1 - s)"))),
    Mutant("logsoftmax_backward_diagonal", "LogSoftmax", "backward keeps only the Jacobian's diagonal: g * (1 - softmax)",
           edits(("self.gradInput = gradOutput - softmax * gradOutput.sum(axis=1, keepdims=True)",
                  "self.gradInput = gradOutput * (1 - softmax)"))),
    Mutant("batchnorm_backward_missing_term", "BatchNorm1d",
           "backward forgets that the variance depends on the input (the x_hat * mean(g * x_hat) term)",
           edits(("self.gradInput = inv_std * (gradOutput - gradOutput.mean(axis=0)\n"
                  "                                    - x_hat * (gradOutput * x_hat).mean(axis=0))",
                  "self.gradInput = inv_std * (gradOutput - gradOutput.mean(axis=0))"))),
    Mutant("dropout_not_rescaled", "Dropout", "the kept units are not scaled by 1 / (1 - p) in training",
           edits(("((np.random.rand(*input.shape) >= self.p) / (1.0 - self.p)).astype(input.dtype)",
                  "(np.random.rand(*input.shape) >= self.p).astype(input.dtype)"))),
    Mutant("nll_not_divided_by_batch", "NLLLoss", "loss and gradient summed over the batch, not divided by its size",
           edits(("self.output = -np.sum(input * target) / input.shape[0]", "self.output = -np.sum(input * target)"),
                 ("self.gradInput = (-target / input.shape[0]).astype(input.dtype)",
                  "self.gradInput = (-target).astype(input.dtype)"))),
]

YEAR = Year(
    "basic_2018", "T1/T2 (2018)", SOURCE, CORRECT, BUGGY,
    # No assignment file: the profile alone grades the template's layers (ReLU, MSECriterion, Flatten supplied; Conv2d
    # and MaxPool2d not in this template)
    imports_torch=frozenset({"torch_import_jacobian"}),
    absent=("Conv2d", "MaxPool2d"),
)
