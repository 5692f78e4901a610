"""The Torch7 style of the HSE / Yandex "practical_dl" homework: Module classes with updateOutput /
updateGradInput / accGradParameters, getParameters(), train()/evaluate(), Sequential.add, *Criterion classes."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import numpy as np

from harness.adapters.base import Adapter, Binding, Criterion, Delegated, flatten, unbiased_running_var


class Module(Delegated):
    """A torch7 module under the native contract: getParameters() / getGradParameters() flattened."""

    def _all_parameters(self) -> list[np.ndarray]:
        return flatten(self.inner.getParameters()) if hasattr(self.inner, "getParameters") else []

    def _all_grad_parameters(self) -> list[np.ndarray]:
        getter = getattr(self.inner, "getGradParameters", None)
        return flatten(getter()) if getter else []

    def _zero_grad(self) -> None:
        if hasattr(self.inner, "zeroGradParameters"):
            self.inner.zeroGradParameters()

    def _set_training(self, mode: bool) -> None:
        self.inner.train() if mode else self.inner.evaluate()

    def _get_training(self) -> bool:
        return self.inner.training


def _sequential(m: ModuleType, children: tuple[Module, ...]) -> Any:
    inner = m.Sequential()
    for child in children:
        inner.add(child.inner)
    return inner


class BatchNorm(Module):
    """BatchNorm1d as BatchNormalization(alpha = 1 - momentum) then ChannelwiseScaling (weight, bias), with the
    running statistics torch keeps (`running_mean`, `running_var`) as live arrays converted exactly."""

    def __init__(self, m: ModuleType, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        self.norm, self.scale = m.BatchNormalization(1.0 - momentum), m.ChannelwiseScaling(num_features)
        self.norm.EPS, self.keep = eps, 1.0 - momentum
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)
        self.norm.moving_mean, self.norm.moving_variance = self.running_mean.copy(), self.running_var.copy()
        super().__init__(_sequential(m, (Module(self.norm), Module(self.scale))))

    def _forward(self, input: np.ndarray) -> np.ndarray:
        old_var = self.running_var.copy()
        self.norm.moving_mean, self.norm.moving_variance = self.running_mean.copy(), old_var.copy()
        output = super()._forward(input)
        if self.training:
            self.running_mean[...] = self.norm.moving_mean
            self.running_var[...] = unbiased_running_var(old_var, self.norm.moving_variance, self.keep, len(input))
        return output


class CriterionWrapper(Criterion):
    """A torch7 criterion; `one_hot` converts integer targets, `per_element` turns a per-sample mean (sum / N)
    into torch's mean over all elements."""

    def __init__(self, inner: Any, *, one_hot: bool = False, per_element: bool = False) -> None:
        self.inner, self.one_hot, self.per_element = inner, one_hot, per_element

    def _target(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.eye(input.shape[1], dtype=input.dtype)[target] if self.one_hot else target

    def _scale(self, value: Any, input: np.ndarray) -> Any:
        return value * (input.shape[0] / input.size) if self.per_element else value

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self._scale(self.inner.forward(input, self._target(input, target)), input)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return self._scale(self.inner.backward(input, self._target(input, target)), input)


class CrossEntropy(Criterion):
    """LogSoftMax followed by ClassNLLCriterion."""

    def __init__(self, m: ModuleType) -> None:
        self.log_softmax, self.nll = m.LogSoftMax(), CriterionWrapper(m.ClassNLLCriterion(), one_hot=True)

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self.nll.forward(self.log_softmax.forward(input), target)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        log_probs = self.log_softmax.forward(input)
        return self.log_softmax.backward(input, self.nll.backward(log_probs, target))


def _plain(course_name: str) -> Binding:
    """A layer whose constructor takes no argument."""
    return (course_name,), lambda m: lambda: Module(getattr(m, course_name)())


class Torch7(Adapter):
    name = "torch7"
    signature = "defines updateOutput-style classes"
    conventions = {
        "modules": "Module.forward(input) / backward(input, gradOutput) (updateOutput, updateGradInput + "
                   "accGradParameters) used as forward / backward",
        "parameters": "getParameters() / getGradParameters() (nested per child in Sequential) flattened; "
                      "zeroGradParameters() as zero_grad()",
        "modes": "train() / evaluate() as train() / eval()",
        "names": "SoftMax, LogSoftMax, MSECriterion, ClassNLLCriterion as Softmax, LogSoftmax, MSELoss, NLLLoss; "
                 "Linear(n_in, n_out), LeakyReLU(slope), Dropout(p) positional; Sequential() filled with .add()",
        "Linear(bias=False)": "the module's bias b is held at 0 and hidden from parameters()",
        "MSECriterion": "sum of squares / batch size: loss and gradient multiplied by batch_size / numel "
                        "(torch's mean over all elements)",
        "ClassNLLCriterion": "one-hot targets: integer targets converted to one-hot rows in the input's dtype",
        "CrossEntropyLoss": "LogSoftMax followed by ClassNLLCriterion",
        "BatchNorm1d": "BatchNormalization(alpha = 1 - momentum, EPS = eps) then ChannelwiseScaling (weight, bias); "
                       "moving_variance (an average of BIASED batch variances) converted exactly to torch's running_var "
                       "(unbiased): r = a*old + (moving_variance - a*old) * n/(n-1)",
    }
    unexpressible = {
        "Conv2d": "not mapped: practical_dl's Conv2d(in, out, kernel_size) has odd square kernels, 'same' padding "
                  "and stride 1 only",
        "MaxPool2d": "not mapped: practical_dl's MaxPool2d(kernel_size) has non-overlapping windows that must "
                     "divide the input only",
        "SGD": "not mapped: sgd_momentum(variables, gradients, config, state) is course-supplied code and has no "
               "weight_decay",
        "Adam": "not mapped: adam_optimizer has no weight_decay",
    }

    def bindings(self) -> dict[str, Binding]:
        return {
            "Linear": (("Linear",), lambda m: lambda in_features, out_features, bias=True:
                       Module(m.Linear(in_features, out_features), drop_bias=not bias)),
            "ReLU": _plain("ReLU"), "Sigmoid": _plain("Sigmoid"), "Tanh": _plain("Tanh"), "Flatten": _plain("Flatten"),
            "Softmax": _plain("SoftMax"), "LogSoftmax": _plain("LogSoftMax"),
            "LeakyReLU": (("LeakyReLU",), lambda m: lambda negative_slope=0.01: Module(m.LeakyReLU(negative_slope))),
            "Dropout": (("Dropout",), lambda m: lambda p=0.5: Module(m.Dropout(p))),
            "Sequential": (("Sequential",), lambda m: lambda *children: Module(_sequential(m, children))),
            "BatchNorm1d": (("BatchNormalization", "ChannelwiseScaling", "Sequential"),
                            lambda m: lambda num_features, eps=1e-5, momentum=0.1: BatchNorm(m, num_features, eps, momentum)),
            "MSELoss": (("MSECriterion",), lambda m: lambda: CriterionWrapper(m.MSECriterion(), per_element=True)),
            "NLLLoss": (("ClassNLLCriterion",), lambda m: lambda: CriterionWrapper(m.ClassNLLCriterion(), one_hot=True)),
            "CrossEntropyLoss": (("LogSoftMax", "ClassNLLCriterion"), lambda m: lambda: CrossEntropy(m)),
        }

    def detects(self, module: ModuleType) -> bool:
        return any(inspect.isclass(value) and hasattr(value, "updateOutput") for value in vars(module).values())
